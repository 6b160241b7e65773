//! [`Timer`], the driver's side, and [`Handle`], the futures' side.
//!
//! The protocol a driver follows is documented on [`Timer`].

use std::fmt;
use std::time::{Duration, Instant};

use crate::entry::DEADLINE_MAX;
use crate::sync::{Acquire, Arc, AtomicBool, AtomicU64, Mutex, MutexGuard, Relaxed, Release};
use crate::wake_list::WakeList;
use crate::wheel::Wheel;

/// The message of the panic when a timer future is used after its runtime
/// shut down.
pub(crate) const SHUT_DOWN_MESSAGE: &str = "the weft runtime that owns this timer has shut down";

/// A timer wheel: the driver's handle on every `Sleep`, `Timeout` and
/// `Interval` created from its [`Handle`].
///
/// Cloning a `Timer` gives another handle on the same wheel.
///
/// # The driver protocol
///
/// One thread at a time drives the timer (in weft: the worker that owns the
/// I/O driver). A turn of its loop is:
///
/// 1. `let deadline = timer.begin_wait();` records, under the wheel lock, that
///    the driver is about to block until `deadline` (`None`: until something
///    else wakes it).
/// 2. Block until `deadline` or an unpark (e.g. an epoll wait with the
///    timeout `deadline - now`). If a timer with an earlier deadline is
///    registered in the meantime, the callback given to
///    [`Timer::set_unpark`] is called (once per wait, after the registering
///    thread released the lock), so the block must return promptly when the
///    callback runs *before* it started, too (`Poller::notify` and weft's
///    wakeup eventfd behave so).
/// 3. `timer.end_wait();`
/// 4. `timer.process_at(Instant::now());` fires everything due.
///
/// Steps 1 and a registration are ordered by the wheel lock: a timer
/// registered before step 1 is part of the returned deadline, one registered
/// after it interrupts the wait. That is the whole argument for "an earlier
/// timer is never slept through".
///
/// # Examples
///
/// Driving a timer by hand, without a runtime:
///
/// ```
/// # if weft_timer::__BUILT_WITH_LOOM { return; } // loom types need a model
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Poll};
/// use std::time::{Duration, Instant};
/// use weft_timer::{context, Timer};
/// # use std::sync::Arc;
/// # use std::task::{Wake, Waker};
/// # struct Noop;
/// # impl Wake for Noop { fn wake(self: Arc<Self>) {} }
/// # let waker = Waker::from(Arc::new(Noop));
///
/// let timer = Timer::new();
/// let start = Instant::now();
/// let _guard = context::enter(timer.handle());
/// let mut sleep = pin!(weft_timer::sleep_until(start + Duration::from_millis(10)));
///
/// let mut cx = Context::from_waker(&waker);
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// assert_eq!(timer.len(), 1);
///
/// // Never early: nothing fires a nanosecond before the deadline.
/// assert_eq!(timer.process_at(start + Duration::from_millis(10) - Duration::from_nanos(1)), 0);
/// assert_eq!(timer.process_at(start + Duration::from_millis(10)), 1);
/// assert!(sleep.as_mut().poll(&mut cx).is_ready());
/// assert!(timer.is_empty());
/// ```
#[derive(Clone)]
pub struct Timer {
    inner: Arc<Inner>,
}

/// A cheap, clonable reference to a [`Timer`], held by the futures it
/// creates and installed as the thread's current timer by
/// [`context::enter`](crate::context::enter).
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: Arc<Inner>,
}

/// The state shared by the timer and its handles.
pub(crate) struct Inner {
    /// Time zero of the wheel: deadlines are nanoseconds since this instant.
    origin: Instant,
    /// Set by `Timer::shutdown` (also recorded in the wheel, under its lock).
    shut_down: AtomicBool,
    /// Mirror of the wheel's latest processed time (ns), for [`Inner::now`].
    processed: AtomicU64,
    wheel: Mutex<Wheel>,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Wheel> {
        self.wheel.lock()
    }

    /// `instant` in nanoseconds since the origin, clamped to the range the
    /// wheel represents (instants before the origin are due at once).
    pub(crate) fn ns(&self, instant: Instant) -> u64 {
        let ns = instant.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(ns).unwrap_or(u64::MAX).min(DEADLINE_MAX)
    }

    /// The instant `ns` nanoseconds after the origin.
    pub(crate) fn instant(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }

    /// The later of the clock and the latest time the timer processed. The
    /// two agree in a runtime (the driver processes `Instant::now()`); a
    /// timer driven by hand at chosen instants makes `Interval` see those.
    pub(crate) fn now(&self) -> Instant {
        // Relaxed: a monotone hint; whoever acts on a firing learned of it
        // through the wake, which orders this store before the load.
        let processed = self.instant(self.processed.load(Relaxed));
        Instant::now().max(processed)
    }

    /// Panics if the timer shut down.
    #[track_caller]
    pub(crate) fn assert_running(&self) {
        // Acquire: pairs with the Release store in `Timer::shutdown`.
        if self.shut_down.load(Acquire) {
            panic!("{SHUT_DOWN_MESSAGE}");
        }
    }
}

impl Timer {
    /// Creates an empty timer whose time zero is now.
    pub fn new() -> Timer {
        Timer {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                shut_down: AtomicBool::new(false),
                processed: AtomicU64::new(0),
                wheel: Mutex::new(Wheel::new()),
            }),
        }
    }

    /// A handle for creating timer futures (see [`context::enter`]).
    ///
    /// [`context::enter`]: crate::context::enter
    pub fn handle(&self) -> Handle {
        Handle {
            inner: self.inner.clone(),
        }
    }

    /// The earliest deadline of any registered timer, `None` if there is none.
    ///
    /// Never later than the true earliest deadline, and exact except in one
    /// case: right after the earliest timer of a wheel slot more than 64 ms
    /// ahead was cancelled or moved later, it may still report that timer's
    /// old deadline. The driver then wakes there once, `process_at` cascades
    /// the slot, and the next answer is exact. Timers whose deadline is at or
    /// before the latest processed time never show up here: they fired.
    ///
    /// ```
    /// # if weft_timer::__BUILT_WITH_LOOM { return; } // loom types need a model
    /// use std::future::Future;
    /// use std::time::{Duration, Instant};
    /// use weft_timer::{context, Timer};
    /// # use std::sync::Arc;
    /// # use std::task::{Context, Wake, Waker};
    /// # struct Noop;
    /// # impl Wake for Noop { fn wake(self: Arc<Self>) {} }
    /// # let waker = Waker::from(Arc::new(Noop));
    ///
    /// let timer = Timer::new();
    /// assert_eq!(timer.next_deadline(), None);
    /// let deadline = Instant::now() + Duration::from_micros(2_500);
    /// let _guard = context::enter(timer.handle());
    /// let mut sleep = Box::pin(weft_timer::sleep_until(deadline));
    /// let _ = sleep.as_mut().poll(&mut Context::from_waker(&waker));
    /// assert_eq!(timer.next_deadline(), Some(deadline));
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        let next = self.inner.lock().next_deadline();
        next.map(|ns| self.inner.instant(ns))
    }

    /// Records that the driver is about to block and returns the deadline to
    /// block until (`None`: indefinitely). Until [`end_wait`](Self::end_wait),
    /// registering a timer with an earlier deadline calls the unpark callback
    /// (once). See the driver protocol on [`Timer`].
    pub fn begin_wait(&self) -> Option<Instant> {
        let until = self.inner.lock().begin_wait();
        until.map(|ns| self.inner.instant(ns))
    }

    /// The driver woke up: no more unparks are needed for this wait.
    pub fn end_wait(&self) {
        self.inner.lock().end_wait();
    }

    /// Sets the callback that interrupts the driver's wait (for example
    /// `Poller::notify`). It is called without the wheel lock held.
    pub fn set_unpark(&self, unpark: impl Fn() + Send + Sync + 'static) {
        let unpark: crate::sync::Callback = std::sync::Arc::new(unpark);
        self.inner.lock().set_unpark(unpark);
    }

    /// Fires every timer whose deadline is at or before `now` and returns how
    /// many fired. Wakers are called after the wheel lock is released, in
    /// batches.
    ///
    /// Time never goes back: a `now` earlier than a previous one processes
    /// nothing new.
    pub fn process_at(&self, now: Instant) -> usize {
        let now = self.inner.ns(now);
        let mut wakers = WakeList::new();
        let mut fired = 0;
        loop {
            let mut wheel = self.inner.lock();
            let done = wheel.process(now, &mut wakers, &mut fired);
            // Relaxed: see `Inner::now`.
            self.inner.processed.store(wheel.now(), Relaxed);
            drop(wheel);
            wakers.wake_all();
            if done {
                return fired;
            }
        }
    }

    /// Shuts the timer down: wakes every registered timer. From then on,
    /// polling a `Sleep`, `Timeout` (once its future is pending) or `Interval`
    /// of this timer panics with "the weft runtime that owns this timer has
    /// shut down", so no task waits forever on a timer nobody drives.
    pub fn shutdown(&self) {
        // Release: pairs with the Acquire in `Inner::assert_running`, so a
        // task woken below and polled anywhere sees the flag.
        self.inner.shut_down.store(true, Release);
        let mut wakers = WakeList::new();
        loop {
            let done = self.inner.lock().shutdown(&mut wakers);
            wakers.wake_all();
            if done {
                return;
            }
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.lock().is_shut_down()
    }

    /// The number of registered timers (pending `Sleep`s that were polled).
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(loom)))]
impl Timer {
    /// The shared state, for the wheel's model tests.
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl Default for Timer {
    fn default() -> Timer {
        Timer::new()
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// Whether both handles refer to the same timer.
    pub fn ptr_eq(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
