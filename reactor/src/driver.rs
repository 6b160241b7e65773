//! The driver: one turn of weft's event loop, behind the executor's
//! [`Driver`](weft_executor::Driver) seam.
//!
//! # A turn ([`park`](weft_executor::Driver::park))
//!
//! 1. **Timer check.** Ask the timer for the nearest deadline. For a
//!    blocking turn this is [`Timer::begin_wait`], which also tells the timer
//!    that a thread is about to block, so that a timer registered *earlier*
//!    than that deadline while we wait calls the unpark hook installed in
//!    [`Driver::new`], i.e. a write to the reactor's wakeup eventfd
//!    (`crate::epoll::Wake`; `Poller::notify` on other systems), and
//!    interrupts the wait.
//! 2. **Event listening.** Wait for `min(timeout, deadline - now)`, with
//!    nanosecond precision: on Linux one `epoll_pwait2` on the poller's
//!    descriptor ([`crate::epoll`] says why not `Poller::wait`, which costs
//!    five syscalls there, and how the two share the poller); elsewhere
//!    `Poller::wait`.
//! 3. **Timers.** [`Timer::end_wait`], then fire every due timer with
//!    [`Timer::process_at`].
//! 4. **Event handling.** Dispatch the events: mark each source's directions
//!    ready and wake its readers and/or writers (a readable event never wakes
//!    a writer), with no lock held while waking.
//!
//! A non-blocking turn (`Some(Duration::ZERO)`, which the workers take every
//! so many ticks so a busy queue cannot starve I/O) skips the begin/end-wait
//! bracket: nothing blocks, so no one needs interrupting.
//!
//! Only one thread calls `park` at a time (the executor's contract, and
//! polling's: a second concurrent `wait` returns at once with nothing). The
//! turn's buffers sit behind a mutex that is therefore never contended.

use std::fmt;
use std::io;
use std::task::Waker;
use std::time::{Duration, Instant};

use polling::Events;
use weft_timer::Timer;

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::epoll::{RawEvents, Waited};
use crate::reactor::{Handle, IoEvent, Reactor};
use crate::sync::{Arc, AtomicUsize, Mutex, Relaxed};

/// The I/O + timer driver of one runtime: owns the [`Reactor`] and the
/// [`Timer`], and implements [`weft_executor::Driver`] so that a parked
/// worker turns the event loop.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use weft_executor::Driver as _;
///
/// let timer = weft_timer::Timer::new();
/// let driver = weft_reactor::Driver::new(timer)?;
/// let _guard = weft_reactor::context::enter(driver.handle());
/// // ... create sockets, spawn tasks that use them ...
/// driver.park(Some(Duration::from_millis(10))); // one turn of the event loop
/// println!("{:?}", driver.stats());
/// # std::io::Result::Ok(())
/// ```
pub struct Driver {
    handle: Handle,
    timer: Timer,
    turn: Mutex<Turn>,
    stats: Counters,
}

/// Buffers reused by every turn.
struct Turn {
    /// What polling's `Poller::wait` returns.
    events: Events,
    /// What the driver's own epoll wait returns (`crate::epoll`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    raw: RawEvents,
    wakers: Vec<Waker>,
}

impl Turn {
    fn new() -> Turn {
        Turn {
            events: Events::new(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            raw: RawEvents::new(),
            wakers: Vec::new(),
        }
    }

    /// Waits for events for at most `wait`, with one syscall on Linux
    /// (`crate::epoll` says why polling's own wait costs five there, and
    /// how the two share the poller).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn listen(&mut self, poller: &polling::Poller, wait: Option<Duration>) -> io::Result<()> {
        self.events.clear();
        match self.raw.wait(poller, wait)? {
            Waited::Done { polling_key: false } => Ok(()),
            // polling's timerfd, armed by an earlier fallback wait, fired:
            // let polling disarm and re-arm its registrations.
            Waited::Done { polling_key: true } => poller
                .wait(&mut self.events, Some(Duration::ZERO))
                .map(drop),
            Waited::UsePoller => poller.wait(&mut self.events, wait).map(drop),
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn listen(&mut self, poller: &polling::Poller, wait: Option<Duration>) -> io::Result<()> {
        self.events.clear();
        poller.wait(&mut self.events, wait).map(drop)
    }

    /// Hands the events of the last `listen` to `reactor`, which collects
    /// the wakers to call into `self.wakers`; returns the events delivered.
    fn dispatch(&mut self, reactor: &Reactor) -> usize {
        let polled = self.events.iter().map(IoEvent::from_polling);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let events = self.raw.iter().chain(polled);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let events = polled;
        reactor.dispatch(events, &mut self.wakers)
    }
}

#[derive(Default)]
struct Counters {
    turns: AtomicUsize,
    events: AtomicUsize,
    timers_fired: AtomicUsize,
    wakes: AtomicUsize,
}

/// Counters of the event loop (turns, I/O events, timers fired, tasks
/// woken) since the runtime started, from `weft::Runtime::driver_stats`.
///
/// Each counter is updated once per turn by the parking thread and read
/// with `Relaxed`: the values are exact once the driver is idle, and
/// possibly a turn behind while it runs. The demo's "event loop" part
/// (`cargo run --release --example demo`) prints them around an echo
/// exchange.
///
/// ```
/// use std::time::Duration;
///
/// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
/// let before = rt.driver_stats();
/// rt.block_on(async {
///     // Two timers, one after the other: the turn that fired the first
///     // has finished counting before the second can fire.
///     weft::time::sleep(Duration::from_millis(5)).await;
///     weft::time::sleep(Duration::from_millis(5)).await;
/// });
/// let after = rt.driver_stats();
/// assert!(after.turns > before.turns, "the event loop turned");
/// println!("{} turns, {} timers fired", after.turns, after.timers_fired);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverStats {
    /// Turns of the event loop (waits for events and timers).
    pub turns: u64,
    /// Readiness events delivered to live sources.
    pub events: u64,
    /// Timers fired by the driver.
    pub timers_fired: u64,
    /// Tasks woken because their source became ready (or the driver shut
    /// down).
    pub wakes: u64,
}

impl Driver {
    /// Creates the poller and takes ownership of `timer`.
    ///
    /// # Errors
    ///
    /// Fails if the OS refuses a poller (out of file descriptors) or has no
    /// edge-triggered polling.
    pub fn new(timer: Timer) -> io::Result<Driver> {
        let reactor = Arc::new(Reactor::new()?);
        // Weak: the timer (or a clone of it kept by a `Sleep`) must not keep
        // the poller and its file descriptors alive after the runtime is gone.
        let weak = Arc::downgrade(&reactor);
        timer.set_unpark(move || {
            if let Some(reactor) = weak.upgrade() {
                reactor.notify();
            }
        });
        Ok(Driver {
            handle: Handle::from_reactor(reactor),
            timer,
            turn: Mutex::new(Turn::new()),
            stats: Counters::default(),
        })
    }

    /// A handle to register I/O sources with this driver's reactor.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The timer this driver fires.
    pub fn timer(&self) -> &Timer {
        &self.timer
    }

    /// The event loop's counters so far.
    pub fn stats(&self) -> DriverStats {
        // Relaxed: statistics only (see `DriverStats`).
        let get = |c: &AtomicUsize| c.load(Relaxed) as u64;
        DriverStats {
            turns: get(&self.stats.turns),
            events: get(&self.stats.events),
            timers_fired: get(&self.stats.timers_fired),
            wakes: get(&self.stats.wakes),
        }
    }

    fn turn(&self, timeout: Option<Duration>) {
        let mut turn = self.turn.lock();
        let reactor = self.handle.reactor();

        // 1. Timer check.
        let blocking = timeout != Some(Duration::ZERO);
        let wait = if blocking {
            let deadline = self.timer.begin_wait();
            let until_deadline = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match (timeout, until_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        } else {
            Some(Duration::ZERO)
        };

        // 2. Event listening.
        let waited = turn.listen(reactor.poller(), wait);
        if blocking {
            self.timer.end_wait();
        }
        if let Err(e) = waited {
            // polling retries EINTR itself; anything else (EBADF, EINVAL on
            // our own epoll fd) means the poller is broken beyond repair, and
            // carrying on would spin or hang every task doing I/O.
            panic!("weft reactor: waiting on the OS poller failed: {e}");
        }

        // 3. Timers. A panicking waker (foreign code) must cost neither the
        // I/O events already taken from the poller nor the other wakers:
        // the panic is held until the end of the turn, then resumed for the
        // executor to contain and count (its `DriverOwner::turn`).
        let mut first_panic = None;
        let fired = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.timer.process_at(Instant::now())
        }))
        .unwrap_or_else(|payload| {
            first_panic = Some(payload);
            0
        });

        // 4. Event handling.
        let delivered = turn.dispatch(reactor);
        let woken = turn.wakers.len();
        for waker in turn.wakers.drain(..) {
            if let Err(payload) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()))
            {
                first_panic.get_or_insert(payload);
            }
        }

        // Relaxed: statistics only; nothing is published through them.
        self.stats.turns.fetch_add(1, Relaxed);
        self.stats.events.fetch_add(delivered, Relaxed);
        self.stats.timers_fired.fetch_add(fired, Relaxed);
        self.stats.wakes.fetch_add(woken, Relaxed);
        if let Some(payload) = first_panic {
            std::panic::resume_unwind(payload);
        }
    }
}

impl weft_executor::Driver for Driver {
    fn park(&self, timeout: Option<Duration>) {
        self.turn(timeout);
    }

    fn unpark(&self) {
        self.handle.reactor().notify();
    }

    /// Wakes every task waiting on a source (their next operation fails
    /// with "runtime shut down"), refuses new registrations, then shuts the
    /// timer down.
    fn shutdown(&self) {
        let woken = self.handle.reactor().shutdown();
        // Relaxed: statistics only.
        self.stats.wakes.fetch_add(woken, Relaxed);
        self.timer.shutdown();
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("reactor", self.handle.reactor())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom), any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// What `Turn::dispatch` would hand the reactor after the last listen.
    fn events(turn: &Turn) -> Vec<IoEvent> {
        let polled = turn.events.iter().map(IoEvent::from_polling);
        turn.raw.iter().chain(polled).collect()
    }

    /// The fallback for kernels without `epoll_pwait2` (and valgrind, which
    /// does not know it): timed waits go through `Poller::wait`, which arms
    /// polling's timerfd; when such a wait ends early, that timerfd fires
    /// later, during one of our own waits, under polling's key, and must be
    /// handed back (and must not swallow anything). The switch is
    /// process-wide, so the other tests of this binary may take the
    /// fallback too; both paths are correct.
    #[test]
    fn without_epoll_pwait2_timed_waits_fall_back_and_stay_correct() {
        crate::epoll::pretend_no_pwait2();
        let poller = polling::Poller::new().unwrap();
        let wake = crate::epoll::Wake::new(&poller).unwrap();
        let mut turn = Turn::new();

        // A timed wait with nothing to report times out, through polling.
        let start = Instant::now();
        turn.listen(&poller, Some(Duration::from_millis(20)))
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(19));
        assert_eq!(events(&turn).len(), 0);

        // A timed wait cut short by an event leaves polling's timerfd
        // armed for 30 ms more.
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        // SAFETY: `a` stays open until it is deleted below.
        unsafe { poller.add_with_mode(&a, polling::Event::all(7), polling::PollMode::Edge) }
            .unwrap();
        turn.listen(&poller, Some(Duration::from_millis(30)))
            .unwrap();
        let first: Vec<_> = events(&turn);
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(first[0].writable);

        // An untimed wait (our own) then sees the stale timerfd under
        // polling's key, hands back, and reports no event of ours...
        turn.listen(&poller, None).unwrap();
        assert_eq!(events(&turn).len(), 0);
        // ...and the next events still arrive: a wakeup, then data.
        wake.wake();
        turn.listen(&poller, None).unwrap();
        assert_eq!(events(&turn).len(), 0, "the wakeup is not an I/O event");
        use std::io::Write as _;
        (&b).write_all(b"x").unwrap();
        turn.listen(&poller, None).unwrap();
        let readable: Vec<_> = events(&turn);
        assert_eq!(readable.len(), 1, "{readable:?}");
        assert!(readable[0].readable && readable[0].key == 7);
        poller.delete(&a).unwrap();
    }
}
