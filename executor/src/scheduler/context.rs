//! The worker thread's context: which scheduler this thread works for, and
//! where its `Core` is while a task runs or the worker parks, so that a wake
//! on this thread can push straight into the local queue or the LIFO slot.

use super::worker::Core;
use super::Shared;
use crate::sync::Arc;
use std::cell::{Cell, RefCell};

pub(crate) struct WorkerContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
    /// `Some` while a task is being polled or the worker is parked; `None`
    /// while the worker loop itself holds the core.
    pub(crate) core: RefCell<Option<Box<Core>>>,
    /// True while a task is being polled: only then may a wake use the LIFO slot.
    pub(crate) polling: Cell<bool>,
    /// True while the worker is parked: wakes then push locally without
    /// notifying peers (the worker itself handles it when park returns).
    pub(crate) parked: Cell<bool>,
    /// This worker's side of the execution trace.
    pub(crate) trace: crate::trace::WorkerTrace,
}

crate::sync::thread_local! {
    static CURRENT: Cell<*const WorkerContext> = Cell::new(std::ptr::null());
}

/// Runs `f` with `cx` installed as this thread's worker context.
pub(crate) fn set<R>(cx: &WorkerContext, f: impl FnOnce() -> R) -> R {
    struct Reset(*const WorkerContext);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0;
            let _ = CURRENT.try_with(|c| c.set(prev));
        }
    }
    let prev = CURRENT.with(|c| c.replace(cx as *const _));
    let _reset = Reset(prev);
    f()
}

/// Calls `f` with this thread's worker context, if it is a worker thread.
pub(crate) fn with<R>(f: impl FnOnce(Option<&WorkerContext>) -> R) -> R {
    let ptr = CURRENT.try_with(|c| c.get()).unwrap_or(std::ptr::null());
    // SAFETY: the pointer is set only by `set`, for the duration of a call
    // that borrows the context, and reset before that borrow ends; and it is
    // thread-local, so no other thread sees it.
    f(unsafe { ptr.as_ref() })
}

/// Whether the current thread is a worker of any weft runtime.
pub(crate) fn is_worker_thread() -> bool {
    with(|cx| cx.is_some())
}
