//! `Runtime` and `Builder`: the executor, the reactor and the timer wired
//! together.
//!
//! Wiring: one `weft_timer::Timer` and one `weft_reactor::Driver` (which owns
//! the `polling::Poller` and turns the timer) per runtime. The driver is
//! handed to the executor through its `Driver` seam, so one parked worker at
//! a time blocks in `epoll_wait`. Every thread the runtime starts (workers
//! and blocking threads) gets the reactor and timer as its current ones for
//! its whole life, so sockets and timers created there register with this
//! runtime; `block_on` and `Handle::enter` set them for their duration.

use crate::handle::Handle;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use weft_executor::task::JoinHandle;
use weft_executor::RuntimeMetrics;

pub use weft_reactor::DriverStats;

/// The executor's side of the driver: a shared reference to the reactor's
/// driver, so the runtime can still read its statistics.
struct SharedDriver(Arc<weft_reactor::Driver>);

impl weft_executor::Driver for SharedDriver {
    fn park(&self, timeout: Option<Duration>) {
        self.0.park(timeout);
    }
    fn unpark(&self) {
        self.0.unpark();
    }
    fn shutdown(&self) {
        self.0.shutdown();
    }
    fn turn_counts(&self) -> Option<weft_executor::DriverCounts> {
        let stats = self.0.stats();
        Some(weft_executor::DriverCounts {
            timers_fired: stats.timers_fired,
            io_events: stats.events,
            wakes: stats.wakes,
        })
    }
}

type Hook = Arc<dyn Fn() + Send + Sync>;

/// Builds a [`Runtime`] with custom settings.
///
/// ```
/// let rt = weft::Runtime::builder()
///     .worker_threads(2)
///     .thread_name("app-worker")
///     .on_thread_start(|| { /* e.g. set up thread-local logging */ })
///     .build()
///     .unwrap();
/// assert_eq!(rt.metrics().num_workers(), 2);
/// ```
pub struct Builder {
    exec: weft_executor::Builder,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: one worker per core (`WEFT_WORKER_THREADS` overrides),
    /// at most 512 blocking threads.
    pub fn new() -> Builder {
        Builder {
            exec: weft_executor::Builder::new(),
            on_thread_start: None,
            on_thread_stop: None,
        }
    }

    /// Events per worker that a trace recording may keep (default
    /// 1,048,576). An event takes 24 bytes: a recording holds at most
    /// `24 * events_per_worker` bytes per worker (24 MiB by default), plus
    /// as much for each of the blocking-pool, driver and other-thread
    /// tracks. The buffers are reserved at [`Runtime::start_trace`] and the
    /// OS commits their pages as events fill them. Events past the bound
    /// are dropped and counted ([`Trace::dropped_events`](crate::trace::Trace::dropped_events)).
    ///
    /// ```
    /// let rt = weft::Runtime::builder().trace_buffer(4096).build().unwrap();
    /// let recording = rt.start_trace().unwrap();
    /// rt.block_on(async { weft::task::yield_now().await });
    /// let trace = recording.stop();
    /// println!("{}", trace.summary());
    /// ```
    ///
    /// # Panics
    ///
    /// If `events_per_worker` is zero.
    pub fn trace_buffer(&mut self, events_per_worker: usize) -> &mut Self {
        self.exec.trace_buffer(events_per_worker);
        self
    }

    /// Number of worker threads.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.exec.worker_threads(n);
        self
    }

    /// Name of the threads the runtime starts.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.exec.thread_name(name);
        self
    }

    /// A function that names each new thread.
    pub fn thread_name_fn(&mut self, f: impl Fn() -> String + Send + Sync + 'static) -> &mut Self {
        self.exec.thread_name_fn(f);
        self
    }

    /// Runs first on every thread the runtime starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs last on every thread the runtime started.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Upper bound of the blocking pool (default 512).
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.exec.max_blocking_threads(n);
        self
    }

    /// How long an idle blocking thread lingers (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.exec.thread_keep_alive(d);
        self
    }

    /// Stack size of the threads the runtime starts.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.exec.thread_stack_size(bytes);
        self
    }

    /// Ticks between a worker's checks of the global queue and the driver (default 61).
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn event_interval(&mut self, n: u32) -> &mut Self {
        self.exec.event_interval(n);
        self
    }

    /// Turns off the LIFO slot (for experiments).
    pub fn disable_lifo_slot(&mut self) -> &mut Self {
        self.exec.disable_lifo_slot();
        self
    }

    /// What a panic in a spawned task does to the runtime: with
    /// [`UnhandledPanic::ShutdownRuntime`](crate::UnhandledPanic::ShutdownRuntime),
    /// any task's panic shuts it down at once. The default,
    /// [`UnhandledPanic::Ignore`](crate::UnhandledPanic::Ignore), gives the
    /// panic to the task's `JoinHandle` and carries on.
    ///
    /// ```
    /// let rt = weft::Runtime::builder()
    ///     .unhandled_panic(weft::UnhandledPanic::ShutdownRuntime)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn unhandled_panic(&mut self, policy: crate::UnhandledPanic) -> &mut Self {
        self.exec.unhandled_panic(policy);
        self
    }

    /// Finds blocking code inside async code: calls `f` for every poll that
    /// runs longer than `threshold`, while it still runs, on the runtime's
    /// monitor thread (within about twice the threshold, plus 1 ms). Each
    /// such poll is reported once and counted in
    /// [`RuntimeMetrics::worker_long_poll_count`]. Without this option no
    /// poll is watched, at no cost.
    ///
    /// `f` should be quick (log, count, send on a channel): while it runs,
    /// the monitor does not look at the driver. A panic in `f` is caught
    /// and printed; the monitor goes on.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::builder()
    ///     .on_long_poll(Duration::from_millis(100), |stall: &weft::LongPoll| {
    ///         eprintln!(
    ///             "task {} blocked worker {} for {:?}",
    ///             stall.task_id, stall.worker, stall.elapsed
    ///         );
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async { weft::task::yield_now().await });
    /// ```
    ///
    /// # Panics
    ///
    /// If `threshold` is zero.
    pub fn on_long_poll(
        &mut self,
        threshold: Duration,
        f: impl Fn(&crate::LongPoll) + Send + Sync + 'static,
    ) -> &mut Self {
        self.exec.on_long_poll(threshold, f);
        self
    }

    /// Starts the runtime.
    ///
    /// # Errors
    ///
    /// If the OS refuses a worker thread or the poller (`epoll_create`).
    pub fn build(&mut self) -> io::Result<Runtime> {
        weft_reactor::net::set_blocking_offload(lookup_on_blocking_pool);
        let timer = weft_timer::Timer::new();
        let driver = Arc::new(weft_reactor::Driver::new(timer.clone())?);
        let reactor = driver.handle();
        let timer_handle = timer.handle();
        let user_start = self.on_thread_start.clone();
        let (r, t) = (reactor.clone(), timer_handle.clone());
        self.exec.on_thread_start(move || {
            // The executor enters its own context on the threads it starts
            // (workers and blocking threads); we add the reactor and timer.
            weft_reactor::context::set_current(Some(r.clone()));
            weft_timer::context::set_current(Some(t.clone()));
            if let Some(f) = &user_start {
                f();
            }
        });
        let user_stop = self.on_thread_stop.clone();
        self.exec.on_thread_stop(move || {
            if let Some(f) = &user_stop {
                f();
            }
            weft_reactor::context::set_current(None);
            weft_timer::context::set_current(None);
        });
        self.exec.driver(Box::new(SharedDriver(driver.clone())));
        let exec = self.exec.build()?;
        let handle = Handle {
            exec: exec.handle().clone(),
            reactor,
            timer: timer_handle,
        };
        Ok(Runtime {
            exec: Some(exec),
            handle,
            driver,
        })
    }
}

/// Where the sockets' host-name lookups run (`getaddrinfo` may block for
/// seconds): the current runtime's blocking pool. A plain function, so the
/// process-wide hook holds no runtime alive; outside a runtime the job is
/// handed back and the reactor gives it a thread of its own.
fn lookup_on_blocking_pool(
    job: weft_reactor::net::BlockingJob,
) -> Result<(), weft_reactor::net::BlockingJob> {
    match crate::Handle::try_current() {
        Ok(handle) => {
            // Detached: the lookup reports through its own channel.
            drop(handle.spawn_blocking(job));
            Ok(())
        }
        Err(_) => Err(job),
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").finish_non_exhaustive()
    }
}

/// A multi-threaded work-stealing runtime: worker threads with their run
/// queues, a reactor for sockets, a timer wheel, and a blocking pool.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let task = weft::spawn(async { 6 * 7 });
///     weft::time::sleep(std::time::Duration::from_millis(1)).await;
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// Dropping the runtime shuts it down: every task is cancelled (its future
/// dropped), every socket and timer waiter is woken with an error, and the
/// threads are joined. Dropping it from inside a task panics with an
/// explanation instead of deadlocking (after stopping every thread of the
/// runtime without waiting for them); [`shutdown_background`] is the way
/// to shut a runtime down from inside a task.
///
/// A panic in a waker that the runtime's timers or sockets fire is printed
/// by the panic hook, counted in [`RuntimeMetrics::driver_panic_count`],
/// and contained: the other tasks' timers and I/O go on.
///
/// [`shutdown_background`]: Runtime::shutdown_background
pub struct Runtime {
    exec: Option<weft_executor::Executor>,
    handle: Handle,
    driver: Arc<weft_reactor::Driver>,
}

impl Runtime {
    /// A runtime with one worker per core (or `WEFT_WORKER_THREADS`).
    ///
    /// # Errors
    ///
    /// If the OS refuses a worker thread or the poller.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] for custom settings.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The runtime's handle, for spawning from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs a future to completion on this thread, with the runtime
    /// entered: `weft::spawn`, sockets and timers work inside it.
    ///
    /// # Panics
    ///
    /// When called from inside a task (on a worker thread) or inside another
    /// `block_on`: both would block a thread the future may depend on.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task; see [`Handle::spawn`].
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

    /// Makes this runtime current on this thread until the guard drops.
    pub fn enter(&self) -> crate::EnterGuard {
        self.handle.enter()
    }

    /// Starts recording an execution trace (see [`crate::trace`]): what
    /// every worker polled, who spawned and woke what, steals, parks,
    /// driver turns, blocking jobs, until [`Recording::stop`](crate::trace::Recording::stop).
    /// While no recording is live, the cost is one predictable branch per poll.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let recording = rt.start_trace().unwrap();
    /// assert!(rt.start_trace().is_err(), "one recording at a time");
    /// rt.block_on(async {
    ///     weft::spawn(async { weft::task::yield_now().await }).await.unwrap();
    /// });
    /// let trace = recording.stop();
    /// assert_eq!(trace.dropped_events(), 0);
    /// let mut json = Vec::new();
    /// trace.write_chrome_json(&mut json).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`AlreadyTracing`](crate::trace::AlreadyTracing) if a recording is
    /// live on this runtime (one at a time).
    pub fn start_trace(&self) -> Result<crate::trace::Recording, crate::trace::AlreadyTracing> {
        self.handle.start_trace()
    }

    /// Live metrics of the scheduler and the blocking pool.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Counters of the event loop: driver turns, I/O events, timers fired.
    pub fn driver_stats(&self) -> DriverStats {
        self.driver.stats()
    }

    /// Shuts down, waiting at most `timeout` for the threads; returns as
    /// soon as everything has stopped.
    ///
    /// # Panics
    ///
    /// From inside a task (it would block a worker), after shutting down
    /// without waiting; use [`shutdown_background`](Runtime::shutdown_background) there.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        if let Some(exec) = self.exec.take() {
            exec.shutdown_timeout(timeout);
        }
    }

    /// Shuts down without waiting for the threads. Unlike a drop, this may
    /// be called from inside a task.
    ///
    /// ```
    /// let outer = weft::Runtime::new().unwrap();
    /// let inner = weft::Runtime::new().unwrap();
    /// outer.block_on(async move {
    ///     weft::spawn(async move { inner.shutdown_background() }).await.unwrap();
    /// });
    /// ```
    pub fn shutdown_background(mut self) {
        if let Some(exec) = self.exec.take() {
            exec.shutdown_background();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.metrics().num_workers())
            .finish_non_exhaustive()
    }
}
