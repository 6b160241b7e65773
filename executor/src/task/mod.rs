//! Tasks: one heap allocation holding a future, its output, and the state
//! machine that lets workers, wakers, join handles and shutdown share it.
//!
//! The protocol, in brief (details in `state.rs` and `harness.rs`):
//!
//! 1. `spawn` allocates the cell with three references (owned list, first
//!    `Notified`, `JoinHandle`) and the state `NOTIFIED | JOIN_INTEREST`.
//! 2. A worker pops the `Notified` and calls `poll`: `transition_to_running`
//!    claims the future (or learns it was cancelled, or that the `Notified`
//!    is stale). A panic in the future's `poll` is caught and becomes
//!    `JoinError::panic` (its payload waits in `panics.rs` until the join
//!    handle reads it); the worker thread lives on.
//! 3. `Pending`: `transition_to_idle` releases the future. A wake that came
//!    in during the poll turns into a new `Notified`, pushed behind the other
//!    tasks; an abort that came in drops the future now.
//! 4. A wake of an idle task sets `NOTIFIED` and submits it; waking a task
//!    that is already notified, running or complete costs no queue push.
//! 5. `Ready` (or cancellation): the output is stored, `transition_to_complete`
//!    publishes it, the join waker is woken, the task leaves the owned list,
//!    and the references the poll held are dropped.
//! 6. Whoever drops the last reference frees the cell.

mod abort;
mod core;
mod error;
mod harness;
mod id;
mod join;
mod join_set;
pub(crate) mod list;
mod panics;
mod raw;
pub(crate) mod state;
#[cfg(all(test, not(loom)))]
mod tests;
mod waker;
mod yield_now;

pub use abort::AbortHandle;
pub use error::JoinError;
pub use id::Id;
pub use join::JoinHandle;
pub use join_set::JoinSet;
pub(crate) use raw::RawTask;
pub use yield_now::yield_now;

use std::future::Future;
use std::marker::PhantomData;

/// What a task needs from the scheduler that owns it.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// The task completed: remove it from the owned-task list. Returns true
    /// if it was there, in which case the list's reference now belongs to
    /// the caller.
    fn release(&self, task: RawTask) -> bool;

    /// Queue a task that was woken.
    fn schedule(&self, task: Notified<Self>);

    /// Queue a task that woke itself during its own poll: behind the others.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }

    /// A poll of one of this scheduler's tasks panicked (its output, the
    /// panic, is stored but not yet published): apply the runtime's
    /// `UnhandledPanic` policy. The blocking pool keeps the default.
    fn unhandled_panic(&self) {}

    /// The runtime's execution trace, for task ends off its workers
    /// (cancelled at shutdown). The blocking pool's tasks are not traced.
    fn tracer(&self) -> Option<&crate::trace::Tracer> {
        None
    }
}

/// The owned-task list's reference to a task.
pub(crate) struct Task<S: 'static> {
    raw: RawTask,
    _s: PhantomData<S>,
}

/// A reference to a task that is in a run queue (it has `NOTIFIED` set).
pub(crate) struct Notified<S: 'static>(Task<S>);

// SAFETY: a Task only exposes the scheduler-side operations (poll, shutdown,
// reference counting), which are all thread-safe; the future and output it
// holds are Send (enforced by `spawn`'s bounds).
unsafe impl<S> Send for Task<S> {}
// SAFETY: as above.
unsafe impl<S> Sync for Task<S> {}

impl<S: 'static> Task<S> {
    /// # Safety
    ///
    /// The caller hands over one reference to a task whose scheduler type is `S`.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Task<S> {
        Task {
            raw,
            _s: PhantomData,
        }
    }

    pub(crate) fn id(&self) -> Id {
        self.raw.id()
    }

    /// Gives the reference up without dropping it.
    pub(crate) fn into_raw(self) -> RawTask {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }

    /// Cancels the task now if nobody is running it; consumes this reference.
    pub(crate) fn shutdown(self) {
        self.into_raw().shutdown();
    }
}

impl<S: 'static> Drop for Task<S> {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

impl<S: 'static> Notified<S> {
    /// # Safety
    ///
    /// As `Task::from_raw`, and the task's `NOTIFIED` bit accounts for it.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Notified<S> {
        // SAFETY: forwarded from the caller.
        Notified(unsafe { Task::from_raw(raw) })
    }

    pub(crate) fn id(&self) -> Id {
        self.0.id()
    }

    /// Polls the task (consuming this reference).
    pub(crate) fn run(self) {
        self.0.into_raw().poll();
    }
}

impl<S: 'static> std::fmt::Debug for Notified<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notified({})", self.id())
    }
}

/// Allocates a task. The caller must bind the `Task` to an owned list (or
/// shut it down) and queue the `Notified`.
pub(crate) fn new_task<T, S>(
    future: T,
    scheduler: S,
    id: Id,
) -> (Task<S>, Notified<S>, JoinHandle<T::Output>)
where
    T: Future + Send + 'static,
    T::Output: Send + 'static,
    S: Schedule,
{
    let raw = RawTask::new(future, scheduler, id);
    // SAFETY: the new cell starts with three references, one for each.
    unsafe {
        (
            Task::from_raw(raw),
            Notified::from_raw(raw),
            JoinHandle::from_raw(raw),
        )
    }
}
