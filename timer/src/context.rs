//! The thread's current timer.
//!
//! [`sleep`](crate::sleep), [`timeout`](crate::timeout) and
//! [`interval`](crate::interval) take the timer from here. The runtime sets it
//! on its worker threads and inside `block_on`; [`enter`] sets it for a scope.
//! A future created here keeps its own [`Handle`], so it may then be moved to
//! and polled on any thread.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::timer::Handle;

// std's thread-local in every configuration: the slot is only read when a
// future is created, which no loom model does concurrently.
std::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Sets the thread's current timer and returns the previous one.
///
/// ```
/// # if weft_timer::__BUILT_WITH_LOOM { return; } // loom types need a model
/// use weft_timer::{context, Timer};
///
/// let timer = Timer::new();
/// assert!(context::set_current(Some(timer.handle())).is_none());
/// assert!(context::try_current().unwrap().ptr_eq(&timer.handle()));
/// assert!(context::set_current(None).is_some());
/// ```
pub fn set_current(handle: Option<Handle>) -> Option<Handle> {
    CURRENT.with(|current| current.replace(handle))
}

/// Makes `handle` the thread's current timer until the guard is dropped,
/// which restores the previous one. Guards must be dropped in the reverse
/// order of their creation.
///
/// ```
/// # if weft_timer::__BUILT_WITH_LOOM { return; } // loom types need a model
/// use weft_timer::{context, Timer};
///
/// let timer = Timer::new();
/// assert!(context::try_current().is_none());
/// {
///     let _guard = context::enter(timer.handle());
///     assert!(context::try_current().is_some());
/// }
/// assert!(context::try_current().is_none());
/// ```
pub fn enter(handle: Handle) -> EnterGuard {
    EnterGuard {
        previous: set_current(Some(handle)),
        _not_send: PhantomData,
    }
}

/// The thread's current timer, if any.
pub fn try_current() -> Option<Handle> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The thread's current timer, or a panic naming `function` and how to get
/// a timer.
#[track_caller]
pub(crate) fn current_for(function: &str) -> Handle {
    match try_current() {
        Some(handle) => handle,
        None => panic!(
            "{function} must be called from inside a weft runtime \
             (a task, block_on, or Handle::enter)"
        ),
    }
}

/// Restores the previous current timer when dropped. Returned by [`enter`].
#[must_use = "the timer is current only while the guard lives"]
#[derive(Debug)]
pub struct EnterGuard {
    previous: Option<Handle>,
    /// The guard restores a thread-local, so it must stay on its thread.
    _not_send: PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // The thread-local may be gone if the guard lives in another
        // thread-local's destructor; there is nothing left to restore then.
        let _ = CURRENT.try_with(|current| current.replace(previous));
    }
}
