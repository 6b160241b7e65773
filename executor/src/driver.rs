//! The seam between the scheduler and the I/O + timer driver.
//!
//! The executor knows nothing of sockets or timers. It only knows that, when a
//! worker runs out of work, one parked worker at a time may block inside a
//! [`Driver`] instead of on its own condvar, and that [`Driver::unpark`] wakes
//! that worker up again. The reactor crate implements this trait; tests and
//! benchmarks of the bare executor run without one.

use std::time::Duration;

/// An event source that a parked worker can block on.
///
/// Exactly one thread at a time calls [`park`](Driver::park): the scheduler
/// hands the driver to one parked worker through a try-lock (see
/// `docs/scheduler.md`, "driver ownership"). [`unpark`](Driver::unpark) may be
/// called from any thread at any time, including before `park`.
pub trait Driver: Send + Sync + 'static {
    /// Runs one turn of the event loop: wait for events until `timeout`
    /// (`None` = until an event or an unpark, `Some(Duration::ZERO)` = do not
    /// block), then fire due timers and wake the tasks whose sources are ready.
    ///
    /// An [`unpark`](Driver::unpark) that happens before or during the call
    /// makes it return promptly.
    fn park(&self, timeout: Option<Duration>);

    /// Interrupts a thread blocked in [`park`](Driver::park), or makes the next
    /// `park` return at once if no thread is blocked yet.
    fn unpark(&self);

    /// Called once when the runtime shuts down, after the workers stopped:
    /// wake every waiter of the driver with an error so nothing waits forever.
    fn shutdown(&self);

    /// Cumulative counts for the execution trace, read before and after
    /// each turn while a trace records (never otherwise). The default
    /// reports nothing; the trace then counts the wakes itself.
    fn turn_counts(&self) -> Option<DriverCounts> {
        None
    }
}

/// What a driver did since it started (see [`Driver::turn_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverCounts {
    /// Timers fired.
    pub timers_fired: u64,
    /// I/O readiness events delivered.
    pub io_events: u64,
    /// Wakers woken.
    pub wakes: u64,
}
