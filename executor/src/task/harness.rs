//! The monomorphised task operations behind the vtable: poll, complete,
//! cancel, the join handle's side, and deallocation.
//!
//! Reference accounting in one place: `poll` consumes the `Notified`'s
//! reference (it becomes the "running" reference while `RUNNING` is held and
//! is dropped by `complete`, or handed to the next `Notified`, or dropped by
//! `transition_to_idle`). `shutdown` consumes the caller's reference the
//! same way. `complete` also drops the owned list's reference, which
//! `Schedule::release` hands back.

use super::core::{Cell, Stage};
use super::raw::{Header, RawTask};
use super::state::{Snapshot, State, TransitionToIdle, TransitionToRunning};
use super::waker::waker_ref;
use super::{JoinError, Notified, Schedule};
use crate::trace::{self, event::TaskEnd};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// # Safety
///
/// `ptr` must be the header of a live `Cell<T, S>`.
unsafe fn cell<'a, T: Future, S>(ptr: NonNull<Header>) -> &'a Cell<T, S> {
    // SAFETY: `Cell` is repr(C) with the header first, and the caller
    // guarantees the cell's type and liveness.
    unsafe { ptr.cast::<Cell<T, S>>().as_ref() }
}

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller gives up one `Notified` reference.
pub(super) unsafe fn poll<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    let (raw, cell) = unsafe { (RawTask::from_raw(ptr), cell::<T, S>(ptr)) };
    match raw.state().transition_to_running() {
        TransitionToRunning::Success => {}
        TransitionToRunning::Cancelled => {
            cancel_task(cell);
            trace::task_end(raw.id(), TaskEnd::Cancelled);
            complete(raw, cell);
            return;
        }
        TransitionToRunning::Failed => return,
        TransitionToRunning::Dealloc => return raw.dealloc(),
    }

    let waker = waker_ref(raw);
    let mut cx = Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: we hold RUNNING, so the stage is ours; the future is never
        // moved out of the cell until it is dropped in place.
        let stage = unsafe { &mut *cell.core.stage.get() };
        let Stage::Running(future) = stage else {
            unreachable!("polled a task whose future is gone");
        };
        // SAFETY: the cell is heap-allocated and the future stays at this
        // address until the stage is overwritten, which drops it in place.
        unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
    }));

    match polled {
        Ok(Poll::Ready(output)) => {
            store_output(cell, Ok(output), raw);
            trace::task_end(raw.id(), TaskEnd::Completed);
            complete(raw, cell);
        }
        Err(payload) => {
            store_output(cell, Err(JoinError::panic(raw.id(), payload)), raw);
            // Before `complete`: its waker calls must find the policy applied.
            cell.core.scheduler.unhandled_panic();
            trace::task_end(raw.id(), TaskEnd::Panicked);
            complete(raw, cell);
        }
        Ok(Poll::Pending) => match raw.state().transition_to_idle() {
            TransitionToIdle::Ok => {}
            TransitionToIdle::OkNotified => {
                // Woken during its own poll (yield, coop budget, a message
                // to itself): behind the other tasks, never in the LIFO slot.
                // SAFETY: the transition added the `Notified`'s reference.
                cell.core
                    .scheduler
                    .yield_now(unsafe { Notified::from_raw(raw) });
                // Only now: until the push returned, our reference kept the
                // cell, and so `cell.core.scheduler`, alive.
                raw.drop_reference();
            }
            TransitionToIdle::OkDealloc => raw.dealloc(),
            TransitionToIdle::Cancelled => {
                cancel_task(cell);
                trace::task_end(raw.id(), TaskEnd::Cancelled);
                complete(raw, cell);
            }
        },
    }
}

/// Drops the future in place and stores `output`. A panic from the future's
/// destructor replaces the output with that panic.
fn store_output<T: Future, S>(
    cell: &Cell<T, S>,
    output: Result<T::Output, JoinError>,
    raw: RawTask,
) {
    let dropped = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller holds RUNNING, so the stage is ours.
        unsafe { cell.core.set_stage(Stage::Consumed) }
    }));
    let output = match dropped {
        Ok(()) => output,
        Err(payload) => Err(JoinError::panic(raw.id(), payload)),
    };
    // SAFETY: as above; dropping `Consumed` cannot panic.
    unsafe { cell.core.set_stage(Stage::Finished(output)) };
}

/// Drops the future (the caller holds RUNNING) and stores the cancellation.
fn cancel_task<T: Future, S>(cell: &Cell<T, S>) {
    let id = cell.header.id;
    let dropped = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller holds RUNNING.
        unsafe { cell.core.set_stage(Stage::Consumed) }
    }));
    let output = match dropped {
        Ok(()) => Err(JoinError::cancelled(id)),
        Err(payload) => Err(JoinError::panic(id, payload)),
    };
    // SAFETY: as above.
    unsafe { cell.core.set_stage(Stage::Finished(output)) };
}

/// RUNNING -> COMPLETE; hand the output to the join handle (or drop it),
/// leave the owned list, drop the running reference and the list's.
fn complete<T: Future, S: Schedule>(raw: RawTask, cell: &Cell<T, S>) {
    let prev = raw.state().transition_to_complete();
    // User code runs here (the output's destructor, the join waker); a panic
    // must not skip the reference accounting below.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !prev.is_join_interested() {
            // Nobody will read the output: the stage is still ours.
            // SAFETY: COMPLETE with no JOIN_INTEREST leaves the stage to us.
            unsafe { cell.core.set_stage(Stage::Consumed) };
        } else if prev.is_join_waker_set() {
            // SAFETY: JOIN_WAKER was set when we completed, so the handle
            // stored a waker and will never write the slot again.
            let waker = unsafe { &*cell.trailer.waker.get() };
            if let Some(waker) = waker {
                waker.wake_by_ref();
            }
        }
    }));
    let released = cell.core.scheduler.release(raw);
    let refs = 1 + usize::from(released);
    if raw.state().transition_to_terminal(refs) {
        raw.dealloc();
    }
}

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller gives up one reference that
/// becomes the new `Notified`'s.
pub(super) unsafe fn schedule<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    let (raw, cell) = unsafe { (RawTask::from_raw(ptr), cell::<T, S>(ptr)) };
    // SAFETY: the caller's reference moves into the `Notified`.
    cell.core
        .scheduler
        .schedule(unsafe { Notified::from_raw(raw) });
}

/// # Safety
///
/// `ptr` is a `Cell<T, S>` whose reference count reached zero.
pub(super) unsafe fn dealloc<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the count is zero, so this is the only pointer left; the cell
    // was allocated by `Box` in `RawTask::new`.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<T, S>>().as_ptr()) };
    // A destructor panicking here has nowhere to report to.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(cell)));
}

/// # Safety
///
/// See `RawTask::try_read_output`.
pub(super) unsafe fn try_read_output<T: Future, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: forwarded from the caller.
    let cell = unsafe { cell::<T, S>(ptr) };
    if can_read_output(&cell.header.state, cell, waker) {
        // SAFETY: COMPLETE with JOIN_INTEREST held by the caller: the stage
        // is the handle's; `dst` has the right type (caller's contract).
        unsafe {
            let dst = &mut *dst.cast::<Poll<Result<T::Output, JoinError>>>();
            *dst = Poll::Ready(cell.core.take_output());
        }
    }
}

/// True if the task completed; otherwise makes sure `waker` is the one that
/// completion will wake.
fn can_read_output<T: Future, S>(state: &State, cell: &Cell<T, S>, waker: &Waker) -> bool {
    let snapshot = state.load();
    debug_assert!(snapshot.is_join_interested());
    if snapshot.is_complete() {
        return true;
    }
    let res = if snapshot.is_join_waker_set() {
        // SAFETY: with JOIN_WAKER set the slot holds a waker and nobody
        // writes it; reading it alongside the task side is fine.
        let stored = unsafe { &*cell.trailer.waker.get() };
        if stored.as_ref().is_some_and(|w| w.will_wake(waker)) {
            return false;
        }
        state
            .unset_join_waker()
            .and_then(|()| set_join_waker(state, cell, waker.clone()))
    } else {
        set_join_waker(state, cell, waker.clone())
    };
    match res {
        Ok(()) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

fn set_join_waker<T: Future, S>(
    state: &State,
    cell: &Cell<T, S>,
    waker: Waker,
) -> Result<(), Snapshot> {
    // SAFETY: JOIN_WAKER is clear and the task has not completed, so the
    // slot belongs to the handle (us).
    unsafe { *cell.trailer.waker.get() = Some(waker) };
    let res = state.set_join_waker();
    if res.is_err() {
        // Completed meanwhile: JOIN_WAKER was never set, the slot is still ours.
        // SAFETY: as above.
        unsafe { *cell.trailer.waker.get() = None };
    }
    res
}

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller is its join handle.
pub(super) unsafe fn drop_join_handle<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    let (raw, cell) = unsafe { (RawTask::from_raw(ptr), cell::<T, S>(ptr)) };
    match raw.state().unset_join_interested() {
        Err(()) => {
            // Completed with our interest set: the output is ours to drop.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: see `complete`: the stage belongs to the handle.
                unsafe { cell.core.set_stage(Stage::Consumed) }
            }));
        }
        Ok(true) => {
            // We cleared JOIN_WAKER before completion: the slot is ours.
            // SAFETY: the task side only reads the slot if it sees
            // JOIN_WAKER at completion, which it now cannot.
            let waker = unsafe { (*cell.trailer.waker.get()).take() };
            drop(waker);
        }
        Ok(false) => {}
    }
    raw.drop_reference();
}

/// # Safety
///
/// `ptr` is a live `Cell<T, S>`; the caller gives up one reference.
pub(super) unsafe fn shutdown<T: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    let (raw, cell) = unsafe { (RawTask::from_raw(ptr), cell::<T, S>(ptr)) };
    if raw.state().transition_to_shutdown() {
        // Our reference is now the running reference.
        cancel_task(cell);
        complete(raw, cell);
    } else {
        // Someone is polling it and will see CANCELLED, or it is done.
        raw.drop_reference();
    }
}
