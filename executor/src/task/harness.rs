//! The monomorphised task operations behind the vtable: poll, complete,
//! cancel, the join handle's side, and deallocation.
//!
//! Reference accounting in one place: `poll` consumes the `Notified`'s
//! reference (it becomes the "running" reference while `RUNNING` is held and
//! is dropped by `complete`, or handed to the next `Notified`, or dropped by
//! `transition_to_idle`). `shutdown` consumes the caller's reference the
//! same way. `complete` also drops the owned list's reference, which
//! `Schedule::release` hands back.
//!
//! Freeing: whoever drops the count to zero frees the cell, often in the
//! middle of one of these operations (a detached task's `complete`, a join
//! handle's drop, a stale `Notified`). An operation that may free the cell
//! therefore holds no reference into it: it works on a [`Harness`], a typed
//! raw pointer that lends short-lived references and is consumed by
//! `dealloc`. A `&Cell` argument alive across the free is undefined
//! behaviour (Miri: a protected tag), even if it is never used again.

use super::core::{Cell, Core, Stage, Trailer};
use super::raw::{Header, RawTask};
use super::state::{Snapshot, State, TransitionToIdle, TransitionToRunning};
use super::waker::waker_ref;
use super::{panics, JoinError, Notified, Schedule};
use crate::trace::{self, event::TaskEnd};
use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// What `catch_unwind` hands back.
type Payload = Box<dyn Any + Send + 'static>;

/// A typed pointer to a task cell, made from the vtable's header pointer.
///
/// It holds no reference into the cell: the accessors below lend one for as
/// long as the harness is borrowed, and every operation that may free the
/// cell takes the harness by value. So the borrow checker proves that no
/// `&Cell`, `&Core` or `&State` is alive (let alone a protected function
/// argument) when `dealloc` runs: the shape Miri checks for, as tokio's
/// `Harness::complete(self)` has it. Deliberately not `Copy`: a copy would
/// let a borrow outlive the move into `dealloc`.
struct Harness<T: Future, S: 'static> {
    cell: NonNull<Cell<T, S>>,
}

impl<T: Future, S: Schedule> Harness<T, S> {
    /// # Safety
    ///
    /// `ptr` must be the header of a live `Cell<T, S>`, kept alive by a
    /// reference the caller holds (or hands to the harness).
    unsafe fn from_raw(ptr: NonNull<Header>) -> Harness<T, S> {
        // `Cell` is repr(C) with the header first, and `ptr` carries the
        // provenance of the whole cell (`RawTask::new` made it from the box).
        Harness { cell: ptr.cast() }
    }

    fn raw(&self) -> RawTask {
        // SAFETY: the cell is live (see `from_raw`).
        unsafe { RawTask::from_raw(self.cell.cast()) }
    }

    fn cell(&self) -> &Cell<T, S> {
        // SAFETY: live for as long as the harness exists: every operation
        // that may drop the last reference consumes the harness.
        unsafe { self.cell.as_ref() }
    }

    fn header(&self) -> &Header {
        &self.cell().header
    }

    fn state(&self) -> &State {
        &self.header().state
    }

    fn core(&self) -> &Core<T, S> {
        &self.cell().core
    }

    fn trailer(&self) -> &Trailer {
        &self.cell().trailer
    }

    /// Frees the cell. The reference count is zero.
    fn dealloc(self) {
        // A `Panicked` stage is always consumed by its join handle or at
        // completion; one freed here would leave its payload in `panics`.
        debug_assert!(
            // SAFETY: the count is zero: nobody else can reach the stage.
            !matches!(unsafe { &*self.core().stage.get() }, Stage::Panicked),
            "task {} freed with its panic payload unread",
            self.header().id
        );
        // SAFETY: the count is zero, so this is the only pointer left, and no
        // borrow of the harness (so no reference into the cell) is alive: we
        // own `self`. The cell was allocated by `Box` in `RawTask::new`, and
        // `self.cell` keeps that box's provenance.
        let cell = unsafe { Box::from_raw(self.cell.as_ptr()) };
        // A destructor panicking here has nowhere to report to.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(cell)));
    }

    /// Drops the reference this harness stands for, freeing the cell if it
    /// was the last.
    fn drop_reference(self) {
        if self.state().ref_dec() {
            self.dealloc();
        }
    }

    /// Polls the task; consumes one `Notified` reference.
    fn poll(self) {
        match self.state().transition_to_running() {
            TransitionToRunning::Success => {}
            TransitionToRunning::Cancelled => {
                self.cancel_task();
                trace::task_end(self.header().id, TaskEnd::Cancelled);
                return self.complete();
            }
            TransitionToRunning::Failed => return,
            TransitionToRunning::Dealloc => return self.dealloc(),
        }

        let polled = {
            let waker = waker_ref(self.raw());
            let mut cx = Context::from_waker(&waker);
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: we hold RUNNING, so the stage is ours.
                let stage = unsafe { &mut *self.core().stage.get() };
                let Stage::Running(future) = stage else {
                    unreachable!("polled a task whose future is gone");
                };
                // SAFETY: the cell is heap-allocated and the future stays at
                // this address until the stage is overwritten, which drops it
                // in place.
                let poll = unsafe { Pin::new_unchecked(future) }.poll(&mut cx);
                // Before any transition below releases the task.
                trace::poll_returned();
                poll
            }))
        };

        match polled {
            Ok(Poll::Ready(output)) => {
                self.store_output(Ok(output));
                trace::task_end(self.header().id, TaskEnd::Completed);
                self.complete();
            }
            Err(payload) => {
                let id = self.header().id;
                self.store_output(Err(payload));
                // Before `complete`: its waker calls must find the policy applied.
                self.core().scheduler.unhandled_panic();
                trace::task_end(id, TaskEnd::Panicked);
                self.complete();
            }
            Ok(Poll::Pending) => match self.state().transition_to_idle() {
                TransitionToIdle::Ok => {}
                TransitionToIdle::OkNotified => {
                    // Woken during its own poll (yield, coop budget, a
                    // message to itself): behind the other tasks, never in
                    // the LIFO slot.
                    // SAFETY: the transition added the `Notified`'s reference.
                    let notified = unsafe { Notified::from_raw(self.raw()) };
                    self.core().scheduler.yield_now(notified);
                    // Only now: until the push returned, our reference kept
                    // the cell, and so the `&S` the push ran on, alive.
                    self.drop_reference();
                }
                TransitionToIdle::OkDealloc => self.dealloc(),
                TransitionToIdle::Cancelled => {
                    self.cancel_task();
                    trace::task_end(self.header().id, TaskEnd::Cancelled);
                    self.complete();
                }
            },
        }
    }

    /// Drops the future in place and stores how it ended: its output, or
    /// the payload of the panic that escaped its `poll`. A panic from the
    /// future's destructor replaces the output with that panic. The caller
    /// holds RUNNING.
    fn store_output(&self, output: Result<T::Output, Payload>) {
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller holds RUNNING, so the stage is ours.
            unsafe { self.core().drop_stage(self.header().id) }
        }));
        let end = match (output, dropped) {
            (Ok(output), Ok(())) => Stage::Finished(output),
            // The destructor's panic replaces whatever `poll` returned.
            (_, Err(payload)) | (Err(payload), Ok(())) => self.panicked(payload),
        };
        // SAFETY: as above; `drop_stage` left the stage `Consumed`, even on a panic.
        unsafe { self.core().store_end(end) };
    }

    /// Drops the future (the caller holds RUNNING) and stores the
    /// cancellation.
    fn cancel_task(&self) {
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller holds RUNNING.
            unsafe { self.core().drop_stage(self.header().id) }
        }));
        let end = match dropped {
            Ok(()) => Stage::Cancelled,
            Err(payload) => self.panicked(payload),
        };
        // SAFETY: as above.
        unsafe { self.core().store_end(end) };
    }

    /// Keeps a panic's payload for the join handle; the caller (who holds
    /// RUNNING) stores the `Panicked` this returns.
    #[cold]
    fn panicked(&self, payload: Payload) -> Stage<T> {
        panics::stash(self.header().id, payload);
        Stage::Panicked
    }

    /// RUNNING -> COMPLETE; hand the output to the join handle (or drop
    /// it), leave the owned list, drop the running reference and the
    /// list's. Consumes the harness: it may free the cell.
    fn complete(self) {
        let prev = self.state().transition_to_complete();
        // User code runs here (the output's destructor, the join waker); a
        // panic must not skip the reference accounting below.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            if !prev.is_join_interested() {
                // Nobody will read the output: the stage is still ours.
                // SAFETY: COMPLETE with no JOIN_INTEREST leaves the stage to us.
                unsafe { self.core().drop_stage(self.header().id) };
            } else if prev.is_join_waker_set() {
                // SAFETY: JOIN_WAKER was set when we completed, so the handle
                // stored a waker and will never write the slot again.
                let waker = unsafe { &*self.trailer().waker.get() };
                if let Some(waker) = waker {
                    waker.wake_by_ref();
                }
            }
        }));
        // Our reference keeps the cell alive across `release` (which runs
        // on the `&S` inside it).
        let released = self.core().scheduler.release(self.raw());
        let refs = 1 + usize::from(released);
        if self.state().transition_to_terminal(refs) {
            self.dealloc();
        }
    }

    /// Hands a `Notified` to the scheduler; consumes the caller's reference,
    /// which becomes the `Notified`'s.
    fn schedule(self) {
        // SAFETY: the caller's reference moves into the `Notified`.
        let notified = unsafe { Notified::from_raw(self.raw()) };
        // Every caller (a waker, an abort) holds a reference of its own
        // besides the one it hands over, so the cell, and the `&S` this
        // call runs on, outlive the push even if the task completes and the
        // `Notified` is dropped before it returns.
        self.core().scheduler.schedule(notified);
    }

    /// Join handle poll: reads the output into `dst` if the task completed,
    /// else makes sure `waker` is the one completion wakes.
    ///
    /// # Safety
    ///
    /// See `RawTask::try_read_output`.
    unsafe fn try_read_output(&self, dst: *mut (), waker: &Waker) {
        if self.can_read_output(waker) {
            // SAFETY: COMPLETE with JOIN_INTEREST held by the caller: the
            // stage is the handle's; `dst` has the right type (caller's
            // contract).
            unsafe {
                let dst = &mut *dst.cast::<Poll<Result<T::Output, JoinError>>>();
                *dst = Poll::Ready(self.core().take_output(self.header().id));
            }
        }
    }

    /// True if the task completed; otherwise makes sure `waker` is the one
    /// that completion will wake.
    fn can_read_output(&self, waker: &Waker) -> bool {
        let state = self.state();
        let snapshot = state.load();
        debug_assert!(snapshot.is_join_interested());
        if snapshot.is_complete() {
            return true;
        }
        let res = if snapshot.is_join_waker_set() {
            // SAFETY: with JOIN_WAKER set the slot holds a waker and nobody
            // writes it; reading it alongside the task side is fine.
            let stored = unsafe { &*self.trailer().waker.get() };
            if stored.as_ref().is_some_and(|w| w.will_wake(waker)) {
                return false;
            }
            state
                .unset_join_waker()
                .and_then(|()| self.set_join_waker(waker.clone()))
        } else {
            self.set_join_waker(waker.clone())
        };
        match res {
            Ok(()) => false,
            Err(snapshot) => {
                debug_assert!(snapshot.is_complete());
                true
            }
        }
    }

    fn set_join_waker(&self, waker: Waker) -> Result<(), Snapshot> {
        let slot = self.trailer().waker.get();
        // SAFETY: JOIN_WAKER is clear and the task has not completed, so the
        // slot belongs to the handle (us).
        unsafe { *slot = Some(waker) };
        let res = self.state().set_join_waker();
        if res.is_err() {
            // Completed meanwhile: JOIN_WAKER was never set, the slot is
            // still ours.
            // SAFETY: as above.
            unsafe { *slot = None };
        }
        res
    }

    /// Join handle dropped: drops the output if it is there, then the
    /// handle's reference (which may free the cell).
    fn drop_join_handle(self) {
        match self.state().unset_join_interested() {
            Err(()) => {
                // Completed with our interest set: the output is ours to drop.
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: see `complete`: the stage belongs to the handle.
                    unsafe { self.core().drop_stage(self.header().id) }
                }));
            }
            Ok(true) => {
                // We cleared JOIN_WAKER before completion: the slot is ours.
                // SAFETY: the task side only reads the slot if it sees
                // JOIN_WAKER at completion, which it now cannot.
                let waker = unsafe { (*self.trailer().waker.get()).take() };
                drop(waker);
            }
            Ok(false) => {}
        }
        self.drop_reference();
    }

    /// Runtime shutdown: cancels the task now if nobody is running it;
    /// consumes the caller's reference.
    fn shutdown(self) {
        if self.state().transition_to_shutdown() {
            // Our reference is now the running reference.
            self.cancel_task();
            trace::shut_down(self.core().scheduler.tracer(), self.header().id);
            self.complete();
        } else {
            // Someone is polling it and will see CANCELLED, or it is done.
            self.drop_reference();
        }
    }
}

// ----- the vtable's entry points ---------------------------------------------
//
// Each turns the header pointer into a harness and calls the method above;
// none holds a reference into the cell itself.

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller gives up one `Notified` reference.
pub(super) unsafe fn poll<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { Harness::<T, S>::from_raw(ptr) }.poll();
}

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller gives up one reference that
/// becomes the new `Notified`'s, and holds another until this returns.
pub(super) unsafe fn schedule<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { Harness::<T, S>::from_raw(ptr) }.schedule();
}

/// # Safety
///
/// `ptr` is a `Cell<T, S>` whose reference count reached zero.
pub(super) unsafe fn dealloc<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { Harness::<T, S>::from_raw(ptr) }.dealloc();
}

/// # Safety
///
/// See `RawTask::try_read_output`.
pub(super) unsafe fn try_read_output<T: Future, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: forwarded from the caller, whose join reference keeps the
    // cell alive throughout.
    unsafe { Harness::<T, S>::from_raw(ptr).try_read_output(dst, waker) }
}

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller is its join handle.
pub(super) unsafe fn drop_join_handle<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { Harness::<T, S>::from_raw(ptr) }.drop_join_handle();
}

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller gives up one reference.
pub(super) unsafe fn shutdown<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { Harness::<T, S>::from_raw(ptr) }.shutdown();
}
