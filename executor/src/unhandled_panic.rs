//! What a task's panic does to its runtime: [`UnhandledPanic`].
//!
//! With `Ignore` (the default) a panic in a task's `poll` is caught and
//! becomes the task's `JoinError::panic`, and nothing else happens. With
//! `ShutdownRuntime` the runtime also stops at once, as tokio's
//! `unhandled_panic` option does. The sequence, on the worker that caught
//! the panic (`Shared::shutdown_on_panic`):
//!
//! 1. `harness::poll` stores the panic as the task's output, then calls
//!    `Schedule::unhandled_panic` *before* `complete` publishes the output:
//!    so whoever is woken by the completion (a `block_on` awaiting the
//!    handle) already finds the runtime marked as shut down by a panic.
//! 2. Mark `BlockOnWatch::triggered` and take the wakers of every `block_on`
//!    in progress (under the watch's mutex, see below).
//! 3. `begin_shutdown`: the shutdown flag, every worker and the monitor woken.
//! 4. Close the owned-task list and cancel every task in it. A task being
//!    polled on another worker is marked cancelled and dropped when its poll
//!    returns; the panicking task itself is running here, so it keeps the
//!    panic it stored in step 1. Spawns from now on find the list closed
//!    and resolve as cancelled. Then drain the injector.
//! 5. Wake the `block_on`s taken in step 2: each panics before it polls its
//!    future again, and every later `block_on` panics at once.
//!
//! The blocking pool and the driver stay up until the runtime is dropped,
//! as in tokio: a `spawn_blocking` closure cannot be interrupted, and its
//! panic goes to its `JoinHandle` (the pool's scheduler does not override
//! `Schedule::unhandled_panic`).
//!
//! `block_on` against the trigger: `register` and `trigger` both run under
//! the watch's mutex. Either the registration comes first (the trigger sees
//! its waker and wakes it; the wake's Release / the park's Acquire in
//! `Parker` make `triggered` visible when the thread wakes), or it comes
//! second and sees `triggered` itself. So no `block_on` sleeps through it.

use crate::scheduler::Shared;
use crate::sync::{AtomicBool, Mutex};
use std::sync::atomic::Ordering::{Acquire, Release};
use std::task::Waker;

/// What a panic in a spawned task does to the runtime; set with
/// `Builder::unhandled_panic`.
///
/// Panics in `spawn_blocking` closures never count: they always reach the
/// closure's `JoinHandle`, as in tokio.
///
/// ```
/// use weft::UnhandledPanic;
///
/// let rt = weft::Runtime::builder()
///     .worker_threads(1)
///     .unhandled_panic(UnhandledPanic::ShutdownRuntime)
///     .build()
///     .unwrap();
/// let task = rt.spawn(async { panic!("boom") });
/// // Any task's panic stops the runtime; the next `block_on` panics.
/// let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
///     rt.block_on(std::future::pending::<()>())
/// }));
/// assert!(result.is_err());
/// # drop(task);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnhandledPanic {
    /// The panic becomes the task's `JoinError` (`is_panic()`), and the
    /// runtime goes on. The default.
    #[default]
    Ignore,
    /// Any task's panic, whether its `JoinHandle` is awaited or not, shuts
    /// the runtime down at once: the panicking task's `JoinHandle` yields
    /// the panic, every other task ends as cancelled, later spawns resolve
    /// as cancelled, and a `block_on` in progress and every later one
    /// panics. For programs where a panic means a bug, and carrying on
    /// would hide it.
    ShutdownRuntime,
}

/// The message of every `block_on` that the policy stops.
const SHUT_DOWN_BY_PANIC: &str = "this weft runtime was shut down because one of its tasks \
    panicked, and it was built with `UnhandledPanic::ShutdownRuntime` (the panic itself is \
    in that task's `JoinHandle`, and on stderr). Build the runtime with \
    `UnhandledPanic::Ignore` (the default) to get task panics as `JoinError`s instead";

/// The runtime's side of the policy: whether it fired, and the `block_on`s
/// to stop when it does.
pub(crate) struct BlockOnWatch {
    policy: UnhandledPanic,
    /// Set once, by the first panic. Release/Acquire: see `trigger` and `check`.
    triggered: AtomicBool,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    next_id: u64,
    /// One per `block_on` in progress (few: one per calling thread).
    wakers: Vec<(u64, Waker)>,
}

/// Keeps a `block_on` registered with the watch; deregisters on drop.
pub(crate) struct Registration<'a> {
    watch: &'a BlockOnWatch,
    id: u64,
}

impl BlockOnWatch {
    pub(crate) fn new(policy: UnhandledPanic) -> BlockOnWatch {
        BlockOnWatch {
            policy,
            triggered: AtomicBool::new(false),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    pub(crate) fn shuts_down_runtime(&self) -> bool {
        self.policy == UnhandledPanic::ShutdownRuntime
    }

    /// Called as a `block_on` starts. `None` with the default policy (no
    /// cost); panics if the runtime was already shut down by a panic.
    #[track_caller]
    pub(crate) fn register(&self, waker: &Waker) -> Option<Registration<'_>> {
        if !self.shuts_down_runtime() {
            return None;
        }
        let mut waiters = self.waiters.lock();
        // Under the mutex: ordered against `trigger` (module docs).
        if self.triggered.load(Acquire) {
            drop(waiters);
            panic!("{SHUT_DOWN_BY_PANIC}");
        }
        let id = waiters.next_id;
        waiters.next_id += 1;
        waiters.wakers.push((id, waker.clone()));
        Some(Registration { watch: self, id })
    }

    /// Marks the runtime as shut down by a panic and returns the wakers of
    /// the `block_on`s in progress; `None` if it already was.
    fn trigger(&self) -> Option<Vec<(u64, Waker)>> {
        let mut waiters = self.waiters.lock();
        // Release: pairs with the Acquire in `check` (through the wake's
        // unpark, or directly if `check` runs later).
        if self.triggered.swap(true, Release) {
            return None;
        }
        Some(std::mem::take(&mut waiters.wakers))
    }
}

impl Registration<'_> {
    /// Called by `block_on` before each poll of its future.
    #[track_caller]
    pub(crate) fn check(&self) {
        // Acquire: pairs with the Release in `trigger`.
        if self.watch.triggered.load(Acquire) {
            panic!("{SHUT_DOWN_BY_PANIC}");
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut waiters = self.watch.waiters.lock();
        waiters.wakers.retain(|(id, _)| *id != self.id);
    }
}

impl Shared {
    /// A task's poll panicked (`Schedule::unhandled_panic`); act on the
    /// runtime's policy.
    pub(crate) fn on_task_panic(&self) {
        if self.panic_policy.shuts_down_runtime() {
            self.shutdown_on_panic();
        }
    }

    /// Steps 2-5 of the module docs.
    #[cold]
    fn shutdown_on_panic(&self) {
        let Some(block_ons) = self.panic_policy.trigger() else {
            return;
        };
        self.begin_shutdown();
        self.owned.close_and_shutdown_all();
        self.drain_injector();
        for (_, waker) in block_ons {
            waker.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::AssertUnwindSafe;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::Wake;

    struct CountWakes(AtomicUsize);
    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn ignore_registers_nothing() {
        let watch = BlockOnWatch::new(UnhandledPanic::Ignore);
        assert!(watch.register(Waker::noop()).is_none());
    }

    #[test]
    fn trigger_wakes_registered_block_ons_once() {
        let watch = BlockOnWatch::new(UnhandledPanic::ShutdownRuntime);
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let reg = watch.register(&waker).unwrap();
        reg.check();
        let taken = watch.trigger().unwrap();
        assert_eq!(taken.len(), 1);
        taken.into_iter().for_each(|(_, w)| w.wake());
        assert_eq!(wakes.0.load(SeqCst), 1);
        assert!(watch.trigger().is_none(), "a second panic triggers nothing");
        let check = std::panic::catch_unwind(AssertUnwindSafe(|| reg.check()));
        assert!(check.is_err());
        let late = std::panic::catch_unwind(AssertUnwindSafe(|| watch.register(&waker).map(drop)));
        assert!(late.is_err(), "a later block_on must panic");
    }

    #[test]
    fn registration_leaves_on_drop() {
        let watch = BlockOnWatch::new(UnhandledPanic::ShutdownRuntime);
        drop(watch.register(Waker::noop()).unwrap());
        assert!(watch.trigger().unwrap().is_empty());
    }
}
