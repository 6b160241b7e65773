use super::{Id, RawTask};
use std::fmt;

/// A handle that can cancel a task, without the right to await it.
///
/// Made by [`JoinHandle::abort_handle`](super::JoinHandle::abort_handle) or
/// `JoinSet::spawn`. Dropping it does nothing to the task.
pub struct AbortHandle {
    raw: RawTask,
}

impl AbortHandle {
    /// # Safety
    ///
    /// The caller hands over one reference to the task.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> AbortHandle {
        AbortHandle { raw }
    }

    /// Cancels the task at its next poll boundary (see `JoinHandle::abort`).
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// True once the task has completed, was cancelled, or panicked.
    pub fn is_finished(&self) -> bool {
        self.raw.state().load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw.id()
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        self.raw.state().ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
