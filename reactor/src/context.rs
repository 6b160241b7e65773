//! The current reactor of a thread.
//!
//! I/O objects register with the reactor of the thread that creates them:
//! [`Async::new`](crate::Async::new), `TcpStream::connect` and friends read it
//! from here. The runtime sets it on each worker thread for the thread's
//! whole life ([`set_current`]) and around `block_on` ([`enter`]). Once
//! created, an I/O object may be polled on any thread.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use crate::reactor::Handle;

std::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Sets (or with `None`, clears) this thread's current reactor and returns
/// the previous one.
///
/// Meant for runtime threads that keep one reactor for their whole life;
/// scoped uses want [`enter`].
///
/// # Examples
///
/// ```no_run
/// # fn worker_main(handle: weft_reactor::Handle) {
/// weft_reactor::context::set_current(Some(handle));
/// // ... run the worker loop ...
/// weft_reactor::context::set_current(None);
/// # }
/// ```
pub fn set_current(handle: Option<Handle>) -> Option<Handle> {
    CURRENT
        .try_with(|current| current.replace(handle))
        .ok()
        .flatten()
}

/// Makes `handle` this thread's current reactor until the returned guard is
/// dropped, which restores the previous one. Guards must be dropped in the
/// reverse order of their creation (they are `!Send` so they stay on their
/// thread).
///
/// # Examples
///
/// ```no_run
/// # fn block_on(handle: weft_reactor::Handle) -> std::io::Result<()> {
/// let _guard = weft_reactor::context::enter(handle);
/// assert!(weft_reactor::context::try_current().is_some());
/// # Ok(()) }
/// ```
pub fn enter(handle: Handle) -> EnterGuard {
    EnterGuard {
        previous: set_current(Some(handle)),
        _not_send: PhantomData,
    }
}

/// This thread's current reactor, if any.
pub fn try_current() -> Option<Handle> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}

/// This thread's current reactor.
///
/// # Panics
///
/// Panics, saying what to do instead, if there is none.
#[track_caller]
pub fn current() -> Handle {
    match try_current() {
        Some(handle) => handle,
        None => no_reactor(),
    }
}

#[cold]
#[track_caller]
fn no_reactor() -> ! {
    panic!(
        "no weft reactor on this thread: I/O objects must be created inside a weft runtime \
         (in `Runtime::block_on`, in a task spawned on it, or after `Handle::enter()`), \
         or registered with an explicit handle (`Async::with_handle`)"
    )
}

/// Restores the previous current reactor when dropped; see [`enter`].
#[must_use = "the reactor stays current only while the guard lives"]
pub struct EnterGuard {
    previous: Option<Handle>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        set_current(self.previous.take());
    }
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}
