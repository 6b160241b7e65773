use std::fmt;
use std::future::Future;
use weft_executor::task::JoinHandle;
use weft_executor::RuntimeMetrics;

/// A cheap, cloneable reference to a runtime, usable from any thread.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let out = std::thread::spawn(move || handle.block_on(async { 1 + 1 }))
///     .join()
///     .unwrap();
/// assert_eq!(out, 2);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) exec: weft_executor::Handle,
    pub(crate) reactor: weft_reactor::Handle,
    pub(crate) timer: weft_timer::Handle,
}

/// The error of [`Handle::try_current`]: no weft runtime on this thread.
#[derive(Debug)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no weft runtime is running on this thread")
    }
}

impl std::error::Error for TryCurrentError {}

/// Keeps a runtime current on this thread; returned by [`Handle::enter`].
#[must_use = "the runtime stays entered only while the guard lives"]
pub struct EnterGuard {
    // Dropped in reverse order of entering.
    _timer: weft_timer::context::EnterGuard,
    _reactor: weft_reactor::context::EnterGuard,
    _exec: weft_executor::EnterGuard,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

impl Handle {
    /// The runtime of the current thread (a task, `block_on`, or `enter`).
    ///
    /// # Panics
    ///
    /// Outside a runtime, with a message saying how to get into one.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(_) => panic!(
                "there is no weft runtime on this thread: call this from inside a task, \
                 from inside `Runtime::block_on`, or after `Runtime::enter()` / `Handle::enter()`"
            ),
        }
    }

    /// The runtime of the current thread, if any.
    ///
    /// # Errors
    ///
    /// Outside a runtime.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        // An executor entered without our reactor and timer (through the
        // executor crate alone) is not a weft runtime.
        match (
            weft_executor::Handle::try_current(),
            weft_reactor::context::try_current(),
            weft_timer::context::try_current(),
        ) {
            (Ok(exec), Some(reactor), Some(timer)) => Ok(Handle {
                exec,
                reactor,
                timer,
            }),
            _ => Err(TryCurrentError(())),
        }
    }

    /// Makes this runtime current on this thread until the guard drops:
    /// `weft::spawn`, timers and sockets then use it.
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _exec: self.exec.enter(),
            _reactor: weft_reactor::context::enter(self.reactor.clone()),
            _timer: weft_timer::context::enter(self.timer.clone()),
        }
    }

    /// Spawns a future onto the runtime's workers.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.exec.spawn(future)
    }

    /// Runs a blocking closure on the runtime's blocking pool.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.exec.spawn_blocking(f)
    }

    /// Runs a future to completion on this thread with the runtime entered.
    ///
    /// # Panics
    ///
    /// On a worker thread, or inside another `block_on` on this thread.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        // The executor's `block_on` refuses worker threads and nesting.
        let _reactor = weft_reactor::context::enter(self.reactor.clone());
        let _timer = weft_timer::context::enter(self.timer.clone());
        self.exec.block_on(future)
    }

    /// Starts recording an execution trace of this runtime; see
    /// [`Runtime::start_trace`](crate::Runtime::start_trace).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let trace = rt.block_on(async {
    ///     let recording = weft::Handle::current().start_trace().unwrap();
    ///     weft::spawn(async {}).await.unwrap();
    ///     recording.stop()
    /// });
    /// assert!(trace.summary().num_workers() > 0);
    /// ```
    ///
    /// # Errors
    ///
    /// [`AlreadyTracing`](crate::trace::AlreadyTracing) if a recording is
    /// live on this runtime.
    pub fn start_trace(&self) -> Result<crate::trace::Recording, crate::trace::AlreadyTracing> {
        self.exec.start_trace()
    }

    /// Live metrics of the runtime.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.exec.metrics()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}
