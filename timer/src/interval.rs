//! [`Interval`]: ticks at a fixed period.
//!
//! An interval is a [`Sleep`] re-armed at each tick: the entry allocated for
//! the first tick is reused for every later one, so a running interval costs
//! one lock per tick and no allocation.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use crate::context;
use crate::sleep::{far_future, Sleep};

/// How late a tick may complete before it counts as missed. Copied from
/// tokio, so that `MissedTickBehavior` means the same in both: a tick a few
/// milliseconds late (scheduling noise) keeps the plain `+ period` schedule.
const MISSED_TICK_SLACK: Duration = Duration::from_millis(5);

/// Ticks every `period`, the first tick completing at once.
///
/// # Panics
///
/// Panics if `period` is zero, or if called outside a weft runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # weft::Runtime::new().unwrap().block_on(async {
/// let mut interval = weft::time::interval(Duration::from_millis(10));
/// let first = interval.tick().await; // at once
/// let second = interval.tick().await; // 10 ms later
/// assert!(second >= first + Duration::from_millis(10));
/// # });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "`period` must be non-zero");
    let handle = context::current_for("weft::time::interval");
    Interval::new(Sleep::new(handle, Instant::now()), period)
}

/// Ticks every `period`, the first tick completing at `start`.
///
/// # Panics
///
/// Panics if `period` is zero, or if called outside a weft runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "`period` must be non-zero");
    let handle = context::current_for("weft::time::interval_at");
    Interval::new(Sleep::new(handle, start), period)
}

/// What an [`Interval`] does when ticks were missed (the task was not polled
/// for more than a period).
///
/// With a 10 ms period starting at 0, a tick expected at 10 ms that completes
/// at 35 ms is followed by ticks at:
///
/// | behaviour | next ticks | |
/// |---|---|---|
/// | `Burst` | 20, 30 (both at once), 40, 50 ... | catches up on every missed tick |
/// | `Delay` | 45, 55, 65 ... | restarts the period from now |
/// | `Skip`  | 40, 50, 60 ... | drops the missed ticks, keeps the grid |
///
/// The default is [`Skip`](MissedTickBehavior::Skip): after a stall it
/// neither floods the task with a burst of catch-up ticks (which would make
/// the stall's load worse just as the system recovers) nor shifts the
/// schedule for good (which `Delay` does, so ticks drift away from their
/// grid). Periodic work such as heartbeats, metrics flushes and cache sweeps
/// wants exactly that: the next tick on the original schedule. (tokio
/// defaults to `Burst`; choose it explicitly where every tick must be
/// counted.)
///
/// ```
/// use weft::time::MissedTickBehavior;
///
/// assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Skip);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MissedTickBehavior {
    /// Tick as fast as possible until caught up with the schedule.
    Burst,
    /// Schedule the next tick one period after the late one completed.
    Delay,
    /// Skip the missed ticks; the next tick is the next one on the schedule.
    #[default]
    Skip,
}

impl MissedTickBehavior {
    /// The next deadline after the tick due at `timeout` completed at `now`,
    /// more than [`MISSED_TICK_SLACK`] late.
    fn next_timeout(self, timeout: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => add(timeout, period),
            MissedTickBehavior::Delay => add(now, period),
            MissedTickBehavior::Skip => {
                let late = now.saturating_duration_since(timeout).as_nanos();
                let into_period = late % period.as_nanos();
                // `into_period < period`, which is a `Duration`, so it fits.
                let into_period = Duration::from_nanos(into_period as u64);
                add(now, period - into_period)
            }
        }
    }
}

/// `instant + period`, or the far future if that overflows.
fn add(instant: Instant, period: Duration) -> Instant {
    instant
        .checked_add(period)
        .unwrap_or_else(|| far_future(instant))
}

/// Ticks at a fixed period; created by [`interval`] and [`interval_at`].
///
/// Each tick yields the instant it was *scheduled* for. A tick is never
/// early. Polling spends one unit of the task's cooperative budget.
///
/// # Panics
///
/// Polling panics once the runtime that owns its timer has shut down.
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    fn new(delay: Sleep, period: Duration) -> Interval {
        Interval {
            delay,
            period,
            missed_tick_behavior: MissedTickBehavior::default(),
        }
    }

    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// Cancel safe: dropping the future before it completes loses no tick.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; see [`tick`](Self::tick). When it returns
    /// `Pending`, the waker of `cx` is woken at the tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.delay).poll(cx));
        let timeout = self.delay.deadline();
        let now = self.delay.handle().inner.now();
        let next = if now > add(timeout, MISSED_TICK_SLACK) {
            self.missed_tick_behavior
                .next_timeout(timeout, now, self.period)
        } else {
            add(timeout, self.period)
        };
        // The sleep completed, so this re-arms lazily: no lock until the next
        // poll.
        self.delay.reset_to(next);
        Poll::Ready(timeout)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.delay.reset_to(add(Instant::now(), self.period));
    }

    /// Restarts the schedule with a tick right away.
    pub fn reset_immediately(&mut self) {
        self.delay.reset_to(Instant::now());
    }

    /// Restarts the schedule with the next tick `after` from now.
    pub fn reset_after(&mut self, after: Duration) {
        self.delay.reset_to(add(Instant::now(), after));
    }

    /// Restarts the schedule with the next tick at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.delay.reset_to(deadline);
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What happens when ticks are missed.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what happens when ticks are missed.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("delay", &self.delay)
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed_tick_behavior)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn next_timeout_follows_the_table() {
        let base = Instant::now();
        let ms = Duration::from_millis;
        let period = ms(10);
        let (timeout, now) = (base + ms(10), base + ms(35));
        let next = |b: MissedTickBehavior| b.next_timeout(timeout, now, period) - base;
        assert_eq!(next(MissedTickBehavior::Burst), ms(20));
        assert_eq!(next(MissedTickBehavior::Delay), ms(45));
        assert_eq!(next(MissedTickBehavior::Skip), ms(40));
        // Exactly on the grid: Skip goes to the next grid point.
        let on_grid = MissedTickBehavior::Skip.next_timeout(timeout, base + ms(30), period);
        assert_eq!(on_grid - base, ms(40));
    }
}
