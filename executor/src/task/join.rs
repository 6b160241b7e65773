use super::{AbortHandle, Id, JoinError, RawTask};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or `Err(JoinError)` if the task panicked
/// or was cancelled. Dropping it detaches the task, which keeps running; its
/// output is then dropped when it completes.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.spawn(async { 6 * 7 });
/// assert_eq!(rt.block_on(handle).unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    raw: RawTask,
    _p: PhantomData<T>,
}

// SAFETY: the handle moves the output (T: Send) to whichever thread awaits
// it; the task itself is Sync.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: every &self method (abort, is_finished, id) is an atomic operation
// on the task state; the output is only reached through &mut self.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    ///
    /// The caller hands over the task's join reference (and `JOIN_INTEREST`).
    pub(crate) unsafe fn from_raw(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _p: PhantomData,
        }
    }

    /// Cancels the task at its next poll boundary: its future is dropped
    /// without being polled again, and awaiting this handle gives a
    /// cancelled `JoinError` (unless the task finished first).
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// True once the task has completed, was cancelled, or panicked.
    pub fn is_finished(&self) -> bool {
        self.raw.state().load().is_complete()
    }

    /// A handle that can abort the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        self.raw.state().ref_inc();
        // SAFETY: we just took the reference the AbortHandle owns.
        unsafe { AbortHandle::from_raw(self.raw) }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw.id()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Joining a burst of finished tasks must not starve the others.
        let mut coop = ready!(crate::coop::poll_proceed(cx));
        let mut ret: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: `ret` has the task's output type (the handle was created
        // with it) and the handle holds JOIN_INTEREST.
        unsafe {
            self.raw
                .try_read_output(&mut ret as *mut _ as *mut (), cx.waker())
        };
        if ret.is_ready() {
            coop.made_progress();
        }
        ret
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.raw.drop_join_handle();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
