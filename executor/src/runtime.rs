//! `Builder`, `Executor` and `Handle`: starting the workers, entering the
//! runtime from other threads, and the shutdown sequence.
//!
//! Shutdown, step by step (`Executor::drop` / `shutdown_timeout`):
//!
//! 1. Set the shutdown flag and unpark every worker and the driver monitor
//!    (`Shared::begin_shutdown`).
//! 2. Each worker sees the flag at its next maintenance tick or wakeup,
//!    drops the references in its LIFO slot and local queue, runs the
//!    `on_thread_stop` hook, and exits. We wait for them (up to the timeout).
//! 3. Close the owned-task list and cancel every task in it: each future is
//!    dropped here, on the thread that shuts down (a task still being polled
//!    by a worker that did not exit in time is marked cancelled and dropped
//!    by that worker when its poll returns).
//! 4. Drain the injector. A spawn racing this step either is refused by the
//!    closed list or sees the flag after its push and drains the injector
//!    itself (`Shared::push_remote`).
//! 5. Shut the driver down: every reactor and timer waiter is woken with an
//!    error, so nothing waits forever.
//! 6. Shut the blocking pool down: queued closures are cancelled, running
//!    ones awaited (up to what is left of the timeout).
//!
//! Nothing can leak: every task is in the owned list from spawn to
//! completion (step 3 reaches it), and every `Notified` is in a local queue
//! (step 2), the injector (step 4; a push racing it, from outside or from a
//! worker's overflow, drains it again itself) or a wake path that drops it.
//!
//! Nothing can hang: every runtime thread counts itself out through a guard
//! (`CountOut`) that runs last, also when the thread unwinds; a panic from
//! a waker or the driver is contained in the driver turn
//! (`scheduler/park.rs`), and one from a thread hook by `run_hook`. From
//! inside a task, `shutdown_background` is allowed (it waits for nothing);
//! a drop or `shutdown_timeout` there first shuts everything down without
//! waiting, then panics with an explanation. The policy is in
//! `docs/scheduler.md`, "Panics in the driver and in thread hooks".

use crate::blocking::{BlockingShared, Hook, PoolConfig};
use crate::metrics::RuntimeMetrics;
use crate::scheduler::{context, worker, Config, Shared};
use crate::sync::deque::Worker;
use crate::sync::{thread, Arc, Condvar, Mutex};
use crate::task::JoinHandle;
use crate::{coop, Driver};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
/// Hooks and the blocking pool are shared with std's `Arc`: their reference
/// counts take part in no protocol (and loom's `Arc` cannot hold a `dyn`).
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

/// Configures and builds an [`Executor`].
///
/// ```
/// let rt = weft_executor::Builder::new()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.metrics().num_workers(), 2);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: StdArc<dyn Fn() -> String + Send + Sync>,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
    max_blocking_threads: usize,
    thread_keep_alive: Duration,
    stack_size: Option<usize>,
    event_interval: u32,
    lifo_enabled: bool,
    driver: Option<Box<dyn Driver>>,
    unhandled_panic: crate::UnhandledPanic,
    long_poll: Option<crate::scheduler::long_poll::LongPollConfig>,
    trace_buffer: usize,
}

/// Environment variable that sets the default number of worker threads.
pub const WORKER_THREADS_ENV: &str = "WEFT_WORKER_THREADS";

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: one worker per core (or
    /// `WEFT_WORKER_THREADS`), threads named `weft-worker`, at most 512
    /// blocking threads kept alive 10 s when idle.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: StdArc::new(|| "weft-worker".to_owned()),
            on_thread_start: None,
            on_thread_stop: None,
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            stack_size: None,
            event_interval: 61,
            lifo_enabled: true,
            driver: None,
            unhandled_panic: crate::UnhandledPanic::Ignore,
            long_poll: None,
            trace_buffer: crate::trace::DEFAULT_EVENTS_PER_WORKER,
        }
    }

    /// Number of worker threads.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "worker_threads must be at least 1");
        self.worker_threads = Some(n);
        self
    }

    /// Name of every thread the runtime starts (workers and blocking pool).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.thread_name = StdArc::new(move || name.clone());
        self
    }

    /// A function that names each new thread.
    pub fn thread_name_fn(&mut self, f: impl Fn() -> String + Send + Sync + 'static) -> &mut Self {
        self.thread_name = StdArc::new(f);
        self
    }

    /// Runs on every thread that runs tasks or blocking closures (workers and
    /// the blocking pool), before it does anything else. (The driver monitor
    /// thread, `weft-monitor`, runs no user code and no hooks.)
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(StdArc::new(f));
        self
    }

    /// Runs on every worker and blocking thread, right before it exits.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(StdArc::new(f));
        self
    }

    /// Upper bound of the blocking pool (default 512).
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "max_blocking_threads must be at least 1");
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before exiting.
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.thread_keep_alive = d;
        self
    }

    /// Stack size of the threads the runtime starts.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Ticks between a worker's checks of the global queue and the driver
    /// (default 61; see `docs/scheduler.md`).
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn event_interval(&mut self, n: u32) -> &mut Self {
        assert!(n > 0, "event_interval must be at least 1");
        self.event_interval = n;
        self
    }

    /// Turns off the LIFO slot optimisation (for experiments).
    pub fn disable_lifo_slot(&mut self) -> &mut Self {
        self.lifo_enabled = false;
        self
    }

    /// The I/O + timer driver that parked workers block in. Without one,
    /// workers park on condvars and the executor serves only
    /// timer-and-I/O-free futures (the `weft` facade always installs one).
    pub fn driver(&mut self, driver: Box<dyn Driver>) -> &mut Self {
        self.driver = Some(driver);
        self
    }

    /// What a panic in a spawned task does to the runtime (default:
    /// [`UnhandledPanic::Ignore`](crate::UnhandledPanic::Ignore)); see
    /// [`UnhandledPanic`](crate::UnhandledPanic).
    pub fn unhandled_panic(&mut self, policy: crate::UnhandledPanic) -> &mut Self {
        self.unhandled_panic = policy;
        self
    }

    /// Watches for polls that run longer than `threshold` and calls `f`
    /// for each, on the runtime's monitor thread, while the poll is still
    /// running (see [`LongPoll`](crate::LongPoll)).
    ///
    /// # Panics
    ///
    /// If `threshold` is zero.
    pub fn on_long_poll(
        &mut self,
        threshold: Duration,
        f: impl Fn(&crate::LongPoll) + Send + Sync + 'static,
    ) -> &mut Self {
        assert!(
            !threshold.is_zero(),
            "on_long_poll: the threshold must be more than zero (every poll takes some time)"
        );
        self.long_poll = Some(crate::scheduler::long_poll::LongPollConfig {
            threshold,
            hook: StdArc::new(f),
        });
        self
    }

    /// Events per worker that a trace recording may keep (default
    /// 1,048,576). An event is 24 bytes, so a recording holds at most
    /// `24 * events_per_worker` bytes per worker (24 MiB by default), plus
    /// as much again for each of the blocking-pool, driver and other-thread
    /// tracks; the buffers are reserved at `start_trace` and the OS commits
    /// their pages as they fill. Events past the bound are dropped and
    /// counted (`Trace::dropped_events`).
    ///
    /// # Panics
    ///
    /// If `events_per_worker` is zero.
    pub fn trace_buffer(&mut self, events_per_worker: usize) -> &mut Self {
        assert!(
            events_per_worker > 0,
            "trace_buffer must be at least 1 event per worker"
        );
        self.trace_buffer = events_per_worker;
        self
    }

    fn num_workers(&self) -> usize {
        if let Some(n) = self.worker_threads {
            return n;
        }
        if let Some(n) = std::env::var(WORKER_THREADS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
        {
            return n;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Starts the workers.
    ///
    /// # Errors
    ///
    /// If the OS refuses to start a worker thread.
    /// If `on_long_poll` was set without a [`driver`](Builder::driver)
    /// (the monitor that watches polls lives beside the driver; the `weft`
    /// facade always installs one).
    pub fn build(&mut self) -> io::Result<Executor> {
        let watch_polls = self.long_poll.is_some();
        if watch_polls && self.driver.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "on_long_poll needs a driver (Builder::driver): the thread that watches \
                 polls is the driver's monitor",
            ));
        }
        let n = self.num_workers();
        let locals: Vec<_> = (0..n).map(|_| Worker::new_fifo()).collect();
        let shared = Arc::new(Shared::new(
            locals.iter().map(|w| w.stealer()).collect(),
            self.driver.take(),
            Config {
                event_interval: self.event_interval,
                lifo_enabled: self.lifo_enabled,
                unhandled_panic: self.unhandled_panic,
                long_poll: self.long_poll.clone(),
                trace_buffer: self.trace_buffer,
            },
        ));
        let blocking = BlockingShared::new(PoolConfig {
            max_threads: self.max_blocking_threads,
            keep_alive: self.thread_keep_alive,
            thread_name: self.thread_name.clone(),
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
            trace: shared.trace.clone(),
        });
        let handle = Handle { shared, blocking };
        let exited = Arc::new((Mutex::new(0usize), Condvar::new()));
        let mut executor = Executor {
            handle: handle.clone(),
            threads: Vec::with_capacity(n),
            exited: exited.clone(),
        };
        for (index, local) in locals.into_iter().enumerate() {
            let handle = handle.clone();
            let exited = CountOut(exited.clone());
            let start = self.on_thread_start.clone();
            let stop = self.on_thread_stop.clone();
            let mut builder = thread::Builder::new().name((self.thread_name)());
            if let Some(size) = self.stack_size {
                builder = builder.stack_size(size);
            }
            let spawned = builder.spawn(move || {
                // Declared first, so dropped last (also when unwinding):
                // everything that keeps the runtime alive (the handle; the
                // hooks, which hold the reactor) goes before we count
                // ourselves out, so the runtime's drop returns with its
                // file descriptors closed, and a panic cannot skip it.
                let _count_out = exited;
                let (handle, start, stop) = (handle, start, stop);
                let _enter = handle.enter();
                // A panicking hook must not kill the worker (its queue
                // would be stranded); report it and go on.
                run_hook(start.as_ref(), "on_thread_start");
                worker::run(handle.shared.clone(), index, local);
                run_hook(stop.as_ref(), "on_thread_stop");
            });
            match spawned {
                Ok(t) => executor.threads.push(t),
                Err(e) => {
                    // Workers already started exit through the normal
                    // shutdown (Drop); the runtime is not returned.
                    drop(executor);
                    return Err(e);
                }
            }
        }
        // The driver monitor (scheduler/monitor.rs): only useful if a
        // worker can be handed the driver. Not under loom, which has no
        // time, so its timed waits would never time out.
        // With long polls watched it runs for one worker too.
        if handle.shared.driver.is_some() && (n > 1 || watch_polls) && !cfg!(loom) {
            let shared = handle.shared.clone();
            let exited = CountOut(exited.clone());
            let spawned = thread::Builder::new()
                .name("weft-monitor".into())
                .spawn(move || {
                    // Dropped last: counted out only once it let go of the
                    // runtime (the driver holds file descriptors).
                    let _count_out = exited;
                    let shared = shared;
                    crate::scheduler::monitor::run(&shared);
                });
            match spawned {
                Ok(t) => executor.threads.push(t),
                Err(e) => {
                    drop(executor);
                    return Err(e);
                }
            }
        }
        Ok(executor)
    }
}

/// Counts a runtime thread out when dropped (at its end, or while it
/// unwinds), so that shutdown never waits for a thread that died.
struct CountOut(Arc<(Mutex<usize>, Condvar)>);

impl Drop for CountOut {
    fn drop(&mut self) {
        let (count, cv) = &*self.0;
        *count.lock() += 1;
        cv.notify_all();
    }
}

/// Runs a thread hook (`on_thread_start` / `on_thread_stop`) on a worker or
/// a blocking-pool thread. A panicking hook must not kill the thread: the
/// panic hook has printed the panic; we say what happens next and go on.
pub(crate) fn run_hook(hook: Option<&Hook>, name: &str) {
    if let Some(hook) = hook {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook())).is_err() {
            eprintln!("weft: the {name} hook panicked; the thread goes on");
        }
    }
}

/// A running executor: worker threads, their queues, and the blocking pool.
/// Dropping it shuts everything down (see the module docs).
pub struct Executor {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
    exited: Arc<(Mutex<usize>, Condvar)>,
}

impl Executor {
    /// An executor with the default [`Builder`] settings.
    ///
    /// # Errors
    ///
    /// If the OS refuses to start a worker thread.
    pub fn new() -> io::Result<Executor> {
        Builder::new().build()
    }

    /// A handle to spawn from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a future onto the workers; see [`Handle::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool; see [`Handle::spawn_blocking`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// Runs a future to completion on the current thread; see [`Handle::block_on`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Starts recording an execution trace; see [`Handle::start_trace`].
    ///
    /// # Errors
    ///
    /// [`AlreadyTracing`](crate::trace::AlreadyTracing) if a recording is live.
    pub fn start_trace(&self) -> Result<crate::trace::Recording, crate::trace::AlreadyTracing> {
        self.handle.start_trace()
    }

    /// Shuts down, waiting at most `timeout` for workers and blocking
    /// threads; returns as soon as everything has stopped. Threads still
    /// busy after the timeout are left to finish on their own.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts down without waiting for any thread. Unlike dropping the
    /// executor, this may be called from inside an asynchronous task.
    pub fn shutdown_background(mut self) {
        self.shutdown(Some(Duration::ZERO));
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        if self.is_shut_down() {
            return;
        }
        if timeout != Some(Duration::ZERO) && context::is_worker_thread() {
            // Waiting here would block a worker. Stop everything without
            // waiting first (so no thread of this runtime lives on), then
            // explain. `shutdown_background` waits for nothing: allowed.
            self.shutdown_threads(Some(Duration::ZERO));
            panic!(
                "a weft runtime was dropped (or shut down) from inside an asynchronous task: \
                 that would block a worker thread while waiting for the workers to stop. \
                 Drop it from outside the runtime, or use `shutdown_background`, \
                 or move it into `spawn_blocking`"
            );
        }
        self.shutdown_threads(timeout);
    }

    fn is_shut_down(&self) -> bool {
        self.threads.is_empty() && self.handle.shared.owned.is_closed()
    }

    /// Steps 1-6 of the module docs, waiting at most `timeout`.
    fn shutdown_threads(&mut self, timeout: Option<Duration>) {
        if self.is_shut_down() {
            return;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let shared = &self.handle.shared;
        shared.begin_shutdown();

        let all_exited = {
            let (count, cv) = &*self.exited;
            let mut exited = count.lock();
            loop {
                if *exited == self.threads.len() {
                    break true;
                }
                match deadline {
                    None => exited = cv.wait(exited),
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            break false;
                        }
                        (exited, _) = cv.wait_timeout(exited, d - now);
                    }
                }
            }
        };
        let threads = std::mem::take(&mut self.threads);
        if all_exited {
            for t in threads {
                let _ = t.join();
            }
        }

        shared.owned.close_and_shutdown_all();
        shared.drain_injector();
        if let Some(slot) = &shared.driver {
            // Wakes every waiter: foreign code. A panic there is counted
            // like one in a driver turn, and the shutdown goes on.
            let woken =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| slot.driver().shutdown()));
            if woken.is_err() {
                slot.count_panic();
            }
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.handle.blocking.shutdown(left);
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if std::thread::panicking() && context::is_worker_thread() {
            // Unwinding on a worker: panicking again would abort; stop the
            // runtime in the background.
            self.shutdown_threads(Some(Duration::ZERO));
            return;
        }
        self.shutdown(None);
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("workers", &self.handle.shared.remotes.len())
            .finish_non_exhaustive()
    }
}

/// A cheap, cloneable reference to a running executor, usable from any
/// thread.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) blocking: StdArc<BlockingShared>,
}

crate::sync::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = RefCell::new(None);
    static IN_BLOCK_ON: Cell<bool> = Cell::new(false);
}

/// The error of [`Handle::try_current`].
#[derive(Debug)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no weft runtime is running on this thread")
    }
}

impl std::error::Error for TryCurrentError {}

/// Restores the previous current runtime when dropped.
#[must_use = "the runtime stays entered only while the guard lives"]
pub struct EnterGuard {
    prev: Option<Handle>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}

impl Handle {
    /// The runtime this thread is in (a worker, `block_on`, or after
    /// [`enter`](Handle::enter)).
    ///
    /// # Panics
    ///
    /// Outside a runtime, with a message that says how to get into one.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(_) => panic!(
                "there is no weft runtime on this thread: call this from inside a task, \
                 from inside `Runtime::block_on`, or after `Handle::enter()`"
            ),
        }
    }

    /// The runtime this thread is in, if any.
    ///
    /// # Errors
    ///
    /// [`TryCurrentError`] outside a runtime.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        CURRENT
            .try_with(|c| c.borrow().clone())
            .ok()
            .flatten()
            .ok_or(TryCurrentError(()))
    }

    /// Calls `f` with the runtime this thread is in, borrowed: unlike
    /// [`try_current`](Handle::try_current), no reference count of the
    /// runtime's shared state is touched. `weft::spawn` goes through here:
    /// the count is one cache line that every spawning core would otherwise
    /// write twice per spawn (docs/scaling.md).
    ///
    /// `f` must not call [`enter`](Handle::enter) (it panics if it does);
    /// `spawn` never does.
    ///
    /// # Errors
    ///
    /// [`TryCurrentError`] outside a runtime; `f` is then not called.
    pub fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> Result<R, TryCurrentError> {
        CURRENT
            .try_with(|c| c.borrow().as_ref().map(f))
            .ok()
            .flatten()
            .ok_or(TryCurrentError(()))
    }

    /// Makes this runtime the current one on this thread until the guard
    /// is dropped, so that `spawn` and `Handle::current` work here.
    pub fn enter(&self) -> EnterGuard {
        let prev = CURRENT.with(|c| {
            let mut current = c.try_borrow_mut().expect(
                "`Handle::enter` was called while this thread's current runtime is borrowed \
                 (from code run inside `weft::spawn`, such as a future's destructor): \
                 enter the runtime before spawning, or from another place",
            );
            current.replace(self.clone())
        });
        EnterGuard {
            prev,
            _not_send: std::marker::PhantomData,
        }
    }

    /// Spawns a future onto the workers. It starts running right away;
    /// the returned handle awaits its output. From a worker of this
    /// runtime, the new task goes to that worker's LIFO slot; from
    /// elsewhere, to the global queue.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(&self.shared, future)
    }

    /// Runs a blocking closure on the blocking pool.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.blocking.spawn_blocking(f, self)
    }

    /// Runs a future to completion on the current thread, with this
    /// runtime entered. Tasks it spawns run on the workers.
    ///
    /// # Panics
    ///
    /// On a worker thread, or inside another `block_on` on this thread:
    /// either would block a thread that the awaited work may need.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if context::is_worker_thread() {
            panic!(
                "`block_on` was called on a weft worker thread (from inside an async task): \
                 it would block the thread that runs the tasks it waits for. \
                 Use `.await` instead, or run the blocking code in `spawn_blocking`"
            );
        }
        if IN_BLOCK_ON.with(|b| b.replace(true)) {
            panic!(
                "cannot start a runtime from within a runtime: `block_on` was called inside \
                 another `block_on` on this thread. Use `.await` instead"
            );
        }
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                let _ = IN_BLOCK_ON.try_with(|b| b.set(false));
            }
        }
        let _reset = Reset;
        let _enter = self.enter();
        // `UnhandledPanic::ShutdownRuntime`: stop when a task panics.
        crate::park_thread::block_on(future, |waker| self.shared.panic_policy.register(waker))
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics {
            shared: self.shared.clone(),
            blocking: self.blocking.clone(),
        }
    }

    /// Starts recording an execution trace: polls, spawns, wakes, steals,
    /// parks, driver turns, blocking jobs and task ends, per worker, until
    /// [`Recording::stop`](crate::trace::Recording::stop).
    ///
    /// # Errors
    ///
    /// [`AlreadyTracing`](crate::trace::AlreadyTracing) if a recording is
    /// live on this runtime (one at a time).
    pub fn start_trace(&self) -> Result<crate::trace::Recording, crate::trace::AlreadyTracing> {
        self.shared.trace.start()
    }

    /// Whether the runtime has begun shutting down.
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.remotes.len())
            .finish_non_exhaustive()
    }
}

/// Runs `f` on a budgeted poll; used by `block_on`.
pub(crate) fn budgeted<R>(f: impl FnOnce() -> R) -> R {
    coop::with_budget(f)
}
