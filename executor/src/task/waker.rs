//! A task's `Waker` is the task pointer itself: no extra allocation, one
//! reference count per waker.

use super::raw::{Header, RawTask};
use super::state::TransitionToNotified;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake_by_val, wake_by_ref, drop_waker);

/// # Safety
///
/// `ptr` must come from a waker built by this module (a live header).
unsafe fn raw(ptr: *const ()) -> RawTask {
    // SAFETY: forwarded from the caller; the pointer is never null.
    unsafe { RawTask::from_raw(NonNull::new_unchecked(ptr as *mut Header)) }
}

unsafe fn clone(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a reference, so the task is alive.
    unsafe { raw(ptr) }.state().ref_inc();
    RawWaker::new(ptr, &VTABLE)
}

unsafe fn wake_by_val(ptr: *const ()) {
    // SAFETY: this waker holds a reference, which the transition consumes.
    let task = unsafe { raw(ptr) };
    match task.state().transition_to_notified_by_val() {
        TransitionToNotified::Submit => {
            // The `Notified` got a reference of its own; ours keeps the cell
            // (and the scheduler inside it) alive until the push returned.
            task.schedule();
            task.drop_reference();
        }
        TransitionToNotified::Dealloc => task.dealloc(),
        TransitionToNotified::DoNothing => {}
    }
}

unsafe fn wake_by_ref(ptr: *const ()) {
    // SAFETY: this waker holds a reference for the duration of the call.
    let task = unsafe { raw(ptr) };
    if task.state().transition_to_notified_by_ref() == TransitionToNotified::Submit {
        task.schedule();
    }
}

unsafe fn drop_waker(ptr: *const ()) {
    // SAFETY: this waker's reference is dropped exactly once, here.
    unsafe { raw(ptr) }.drop_reference();
}

/// A waker that borrows the caller's reference instead of owning one: used
/// for the `Context` of a poll, during which the running reference keeps the
/// task alive. Cloning it takes a real reference.
pub(super) fn waker_ref(task: RawTask) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(task.header_ptr().as_ptr() as *const (), &VTABLE);
    // SAFETY: the vtable upholds RawWaker's contract (see the functions
    // above); ManuallyDrop stops this borrowed waker from dropping a
    // reference it does not own.
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}
