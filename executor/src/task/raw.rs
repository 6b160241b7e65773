//! The task allocation: header, core and trailer in one `#[repr(C)]` cell,
//! reached through a type-erased pointer to the header and a vtable.
//!
//! ```text
//! Cell<T, S>  (one heap allocation per task)
//! ┌ Header ────────────────────────────────────────┐  hot: every wake and poll
//! │ state (State)   vtable (&Vtable)   id   links  │
//! ├ Core ──────────────────────────────────────────┤
//! │ scheduler (S)   stage: Running(T) | Finished(T::Output) | Cancelled
//! │                        | Panicked (payload kept in `panics.rs`) | Consumed
//! ├ Trailer ───────────────────────────────────────┤  cold: only the join handle
//! │ join waker slot                                │
//! └────────────────────────────────────────────────┘
//! ```
//!
//! Who may touch what: `state` is atomic. `links` only under the owned-task
//! list's shard lock. `stage` only by the thread that holds `RUNNING`, or,
//! once `COMPLETE`, by the join handle while it holds `JOIN_INTEREST` (or by
//! the completing thread if nobody does); a panic payload in `panics.rs`
//! goes with the stage that says `Panicked`. The join waker slot is written by
//! the join handle only while `JOIN_WAKER` is clear and `COMPLETE` is not
//! set, and read by the task side only after it saw `JOIN_WAKER` set.

use super::core::Cell;
use super::harness;
use super::state::State;
use super::{Id, Schedule};
use std::cell::UnsafeCell;
use std::future::Future;
use std::ptr::NonNull;
use std::task::Waker;

/// The first field of every task cell.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: Id,
    /// Intrusive links of the owned-task list (see `list.rs`).
    pub(crate) links: UnsafeCell<Links>,
}

/// A task is in its shard's list if `prev` is set, or if it is the
/// shard's head (the head has no `prev`). No flag: every byte of the cell
/// counts toward the per-task memory (see `core.rs`'s size test).
#[derive(Default)]
pub(crate) struct Links {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
}

// SAFETY: the header is shared between threads by design: `state` is atomic,
// `vtable` and `id` are immutable, and `links` is only accessed under the
// owned list's shard lock.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

/// Type-erased operations on a task, monomorphised per `(T, S)`.
pub(crate) struct Vtable {
    /// Poll (or cancel) the task; consumes one `Notified` reference.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Hand a new `Notified` (whose reference the caller owns) to the scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Free the cell; the reference count is zero.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// Join handle poll: write `Poll<Result<T::Output>>` to `dst` if ready,
    /// else register the waker.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Join handle dropped: drop the output if it is there, then the handle's reference.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>),
    /// Runtime shutdown: cancel the task now if nobody is running it.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
}

/// A pointer to a task header. It owns no reference by itself: the types
/// wrapping it (`Task`, `Notified`, `JoinHandle`, ...) decide that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

// SAFETY: a RawTask is a pointer to a Sync header. The wrappers that own a
// reference through it (`Task`, `Notified`, `AbortHandle`, a task `Waker`)
// are Send and Sync whatever the future, because every cell is made by
// `RawTask::new`, whose bounds require `T: Send`, `T::Output: Send` and
// `S: Send + Sync` (`Schedule`): so whichever thread holds a wrapper may poll
// the future, drop it or its output, or free the cell. Their `&self`
// methods are atomic operations on the state word. Only `JoinHandle<T>`,
// which moves the output out, carries its own `T: Send` bound.
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// Allocates a cell. The `Send` bounds are what make the wrappers'
    /// unconditional `Send`/`Sync` sound (see above).
    pub(crate) fn new<T, S>(future: T, scheduler: S, id: Id) -> RawTask
    where
        T: Future + Send + 'static,
        T::Output: Send + 'static,
        S: Schedule,
    {
        let cell = Box::new(Cell::<T, S>::new(future, scheduler, id, vtable::<T, S>()));
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        RawTask { ptr }
    }

    /// # Safety
    ///
    /// `ptr` must point to the header of a live task cell.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every RawTask is created from a live cell and only used
        // while some wrapper holds a reference, so the header is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// The vtable, copied out: a vtable call that may free the cell must
    /// not run while a `&Header` borrowed to find it is alive.
    fn vtable(self) -> &'static Vtable {
        self.header().vtable
    }

    pub(crate) fn state(&self) -> &State {
        &self.header().state
    }

    pub(crate) fn id(&self) -> Id {
        self.header().id
    }

    /// Polls the task, consuming the caller's `Notified` reference.
    pub(crate) fn poll(self) {
        // SAFETY: the vtable matches the cell's types; the caller passes the
        // reference of the `Notified` it consumed.
        unsafe { (self.vtable().poll)(self.ptr) }
    }

    /// Submits a `Notified` whose reference the caller already owns.
    pub(crate) fn schedule(self) {
        // SAFETY: as above; the reference moves into the new `Notified`.
        unsafe { (self.vtable().schedule)(self.ptr) }
    }

    /// Frees the cell; the caller observed the reference count reach zero.
    pub(crate) fn dealloc(self) {
        // SAFETY: the caller observed the reference count reach zero; the
        // vtable was read (and the `&Header` that reached it let go) first.
        unsafe { (self.vtable().dealloc)(self.ptr) }
    }

    /// # Safety
    ///
    /// `dst` must point to a `Poll<Result<T::Output, JoinError>>` of the
    /// task's own output type, and the caller must hold `JOIN_INTEREST`.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.vtable().try_read_output)(self.ptr, dst, waker) }
    }

    /// Drops the join handle's interest and reference.
    pub(crate) fn drop_join_handle(self) {
        // SAFETY: the vtable matches the cell; the caller is the join handle.
        unsafe { (self.vtable().drop_join_handle)(self.ptr) }
    }

    pub(crate) fn shutdown(self) {
        // SAFETY: the vtable matches the cell; the caller holds a reference.
        unsafe { (self.vtable().shutdown)(self.ptr) }
    }

    /// Abort: ask for the future to be dropped at the next poll boundary.
    pub(crate) fn remote_abort(self) {
        if self.state().transition_to_notified_for_cancel() {
            // The transition added a reference for the new `Notified`.
            self.schedule();
        }
    }

    /// Drops one reference, freeing the task if it was the last.
    pub(crate) fn drop_reference(self) {
        if self.state().ref_dec() {
            self.dealloc();
        }
    }
}

fn vtable<T: Future, S: Schedule>() -> &'static Vtable {
    &Vtable {
        poll: harness::poll::<T, S>,
        schedule: harness::schedule::<T, S>,
        dealloc: harness::dealloc::<T, S>,
        try_read_output: harness::try_read_output::<T, S>,
        drop_join_handle: harness::drop_join_handle::<T, S>,
        shutdown: harness::shutdown::<T, S>,
    }
}
