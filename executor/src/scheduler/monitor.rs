//! The driver monitor: keeps the driver turning while a task hogs the
//! worker that left it (tokio issue 4730), without a wakeup per driver turn.
//!
//! A worker that leaves the driver to run what it woke may stay away for
//! long: one task can spin, or block, for seconds. If every other worker is
//! parked on its condvar, nobody waits on the driver, and every timer and
//! socket of the runtime stalls. The first answer here was eager: leaving the
//! driver, a worker woke a condvar-parked peer to take it over. That costs a
//! futex wake and a context switch on *every* driver turn in which a peer
//! sleeps, and under HTTP load (hyper + wrk) the peers then take turns in
//! the driver: about half of weft's futex wakes, and 2-7 % of its
//! throughput against the same server with no hand-off.
//!
//! So the hand-off is lazy, as Go's `sysmon` does it for its netpoller: one
//! monitor thread per runtime looks every [`INTERVAL`] (backing off to
//! [`MAX_INTERVAL`] while the driver keeps turning); if nobody entered or
//! left the driver since its last look and nobody is in it now, it hands
//! the driver to a condvar-parked worker. A worker that leaves the driver
//! and comes back within a millisecond (the common case) costs nothing but
//! a fence and a load.
//!
//! An idle runtime must not pay a wakeup per millisecond. When one wait has
//! held the driver for [`DEEP_AFTER`] looks in a row, the monitor sleeps
//! without a timeout ("deep"), and the next unlock of the driver wakes it
//! ([`Monitor::driver_left`], called by `DriverSlot::unlock` itself, so that
//! no way of leaving the driver can forget it: a first version called it
//! only where a worker left a blocking wait with tasks to run, and missed a
//! worker that left with nothing to do while a peer's maintenance poll held
//! the driver, then parked on its condvar; if that peer then spun, nobody
//! turned the driver). The race between the two is a Dekker pair of SeqCst
//! fences, M1 and M2 below; `loom_tests::monitor_deep_sleep_vs_driver_left`
//! checks it.
//!
//! With `Builder::on_long_poll` set, the monitor also watches what each
//! worker polls, and reports polls that run past the threshold
//! (`long_poll.rs` has that protocol). It then looks every
//! `min(INTERVAL, threshold / 2)`, runs for one worker too, and sleeps deep
//! only if it also sees every worker parked; a worker leaving its parker
//! checks `deep` after fence M3, the same Dekker pair as M1 (M2 on this
//! side): `loom_tests::monitor_deep_sleep_vs_worker_unpark`.

use super::long_poll::Watcher;
use super::park::DriverSlot;
use super::Shared;
use crate::sync::{fence, AtomicBool, Condvar, Mutex};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

/// How often the monitor looks at first, and again after every hand-off. A
/// hogged driver is handed on within one to two intervals.
pub(crate) const INTERVAL: Duration = Duration::from_millis(1);

/// The longest interval the monitor backs off to while the driver keeps
/// turning. Looking every millisecond cost a busy runtime a thread wakeup
/// per millisecond: under hyper + wrk the monitor thread took 0.12-0.2 us
/// of CPU per request, 2-3 % of the server's (docs/benchmarks.md). Backing
/// off as Go's `sysmon` does (it goes from 20 us to 10 ms) cuts that
/// eightfold, and bounds a stall of the driver behind a hogging task at
/// two of these intervals (tokio's is unbounded: issue 4730).
pub(crate) const MAX_INTERVAL: Duration = Duration::from_millis(8);

/// Looks in a row that see the driver turning before the interval doubles.
pub(crate) const BACKOFF_AFTER: u32 = 4;

/// Looks in a row with one wait holding the driver (nothing happening)
/// before the monitor sleeps until a worker leaves the driver.
pub(crate) const DEEP_AFTER: u32 = 16;

#[derive(Default)]
pub(crate) struct Monitor {
    /// The monitor sleeps without a timeout. Written under `mutex`.
    deep: AtomicBool,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Monitor {
    /// Called by `DriverSlot::unlock`, after the unlock: if the monitor is
    /// in its deep sleep, wake it so that it watches the driver again.
    pub(crate) fn driver_left(&self) {
        // M1: orders the driver unlock (before this call) before our load
        // of `deep`, against M2 in `deep_sleep`. Either the monitor sees the
        // unlock and does not sleep, or we see `deep` and wake it.
        fence(SeqCst);
        if self.deep.load(Relaxed) {
            self.wake();
        }
    }

    /// Called by a worker that left its parker while long polls are
    /// watched: if the monitor sleeps deep, wake it, because the worker may
    /// now poll a task that blocks.
    pub(crate) fn worker_unparked(&self) {
        // M3: orders the parker's state change (to EMPTY, before this call)
        // before our load of `deep`, against M2 in `deep_sleep`, which
        // orders `deep = true` before the monitor's read of every parker's
        // state. Either the monitor sees us out of the parker and does not
        // sleep, or we see `deep` and wake it.
        fence(SeqCst);
        if self.deep.load(Relaxed) {
            self.wake();
        }
    }

    /// The monitor's mutex, held by the monitor thread except while it waits.
    pub(crate) fn lock(&self) -> crate::sync::MutexGuard<'_, ()> {
        self.mutex.lock()
    }

    /// Wakes the monitor from any sleep (the shutdown flag is set first).
    pub(crate) fn wake(&self) {
        // Taking the mutex orders us after the monitor's `wait` began: it
        // holds the mutex from setting `deep` until it waits.
        let _guard = self.mutex.lock();
        // Relaxed: `deep` is written only under the mutex, and the monitor
        // reads it under the mutex after its wait (the mutex orders them).
        self.deep.store(false, Relaxed);
        self.condvar.notify_one();
    }
}

/// What the monitor saw at one look.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Look {
    /// The driver was entered or left since the last look: all is well.
    Moving,
    /// Nobody entered the driver for a whole interval and nobody is in it:
    /// hand it to a parked worker (if there is one).
    Abandoned,
    /// One wait has held the driver since the last look.
    Held,
}

/// The monitor's pace: [`INTERVAL`] (or the long-poll watch's own) at
/// first, doubling up to `max` while every look sees the driver turning,
/// back to the start after a hand-off.
struct Pace {
    base: Duration,
    max: Duration,
    now: Duration,
    moving: u32,
}

impl Pace {
    fn new(base: Duration, max: Duration) -> Pace {
        Pace {
            base,
            max: max.max(base),
            now: base,
            moving: 0,
        }
    }

    fn after(&mut self, look: Look) {
        match look {
            Look::Moving => {
                self.moving += 1;
                if self.moving >= BACKOFF_AFTER {
                    self.moving = 0;
                    self.now = (self.now * 2).min(self.max);
                }
            }
            Look::Abandoned => {
                self.moving = 0;
                self.now = self.base;
            }
            Look::Held => self.moving = 0,
        }
    }
}

fn look(slot: &DriverSlot, last_turns: &mut usize) -> Look {
    let turns = slot.turns();
    if turns != std::mem::replace(last_turns, turns) {
        Look::Moving
    } else if slot.is_locked() {
        Look::Held
    } else {
        Look::Abandoned
    }
}

/// The deep sleep, given the monitor's mutex: sleeps until a worker leaves
/// the driver (or, with `workers_parked` in use, its parker) or shutdown
/// begins, unless the driver moved meanwhile or `workers_parked` says some
/// worker is out of its parker. Returns the guard.
pub(crate) fn deep_sleep<'a>(
    monitor: &'a Monitor,
    slot: &DriverSlot,
    last_turns: usize,
    workers_parked: impl Fn() -> bool,
    is_shutdown: impl Fn() -> bool,
    mut guard: crate::sync::MutexGuard<'a, ()>,
) -> crate::sync::MutexGuard<'a, ()> {
    // Relaxed: ordered before the loads below by M2 (and read by
    // `driver_left` after M1), which is all the Dekker pair needs.
    monitor.deep.store(true, Relaxed);
    // M2: pairs with M1 in `driver_left` and M3 in `worker_unparked` (see
    // there).
    fence(SeqCst);
    if slot.turns() != last_turns || !slot.is_locked() || !workers_parked() {
        monitor.deep.store(false, Relaxed);
        return guard;
    }
    while monitor.deep.load(Relaxed) && !is_shutdown() {
        guard = monitor.condvar.wait(guard);
    }
    guard
}

/// The monitor thread's body; returns at shutdown.
pub(crate) fn run(shared: &Shared) {
    let Some(slot) = &shared.driver else { return };
    let monitor = slot.monitor();
    let watch = shared.long_poll.as_ref();
    // Watching long polls needs a steady pace (a poll is reported within
    // its threshold); otherwise back off while all is well.
    let mut pace = match watch {
        Some(w) => {
            let every = w.look_interval(INTERVAL);
            Pace::new(every, every)
        }
        None => Pace::new(INTERVAL, MAX_INTERVAL),
    };
    let trace_stall = |worker, task| crate::trace::on_long_poll(shared, worker, task);
    let mut watcher = watch.map(|w| Watcher::new(w).with_on_stall(&trace_stall));
    // Without watching, the driver alone decides (a worker that is not
    // parked and not in the driver is of no concern to the hand-off).
    let workers_parked = || watch.is_none() || shared.remotes.iter().all(|r| r.parker.is_parked());
    let mut last_turns = slot.turns();
    let mut held = 0;
    let mut guard = monitor.lock();
    loop {
        if shared.is_shutdown() {
            return;
        }
        (guard, _) = monitor.condvar.wait_timeout(guard, pace.now);
        if shared.is_shutdown() {
            return;
        }
        if let Some(watcher) = &mut watcher {
            // Not under our mutex: the callback is user code, and a worker
            // waking us would wait for it.
            drop(guard);
            watcher.look(Instant::now(), |i| &shared.remotes[i].metrics);
            guard = monitor.lock();
        }
        let seen = look(slot, &mut last_turns);
        pace.after(seen);
        match seen {
            Look::Moving => held = 0,
            Look::Abandoned => {
                held = 0;
                // Not under our mutex: the hand-off takes a parker's.
                drop(guard);
                shared.hand_off_driver();
                guard = monitor.lock();
            }
            Look::Held => {
                held += 1;
                if held >= DEEP_AFTER {
                    held = 0;
                    guard = deep_sleep(
                        monitor,
                        slot,
                        last_turns,
                        workers_parked,
                        || shared.is_shutdown(),
                        guard,
                    );
                    last_turns = slot.turns();
                }
            }
        }
    }
}

/// A driver that does nothing, for tests of the monitor's logic alone.
#[cfg(test)]
pub(crate) struct NoDriver;

#[cfg(test)]
impl crate::Driver for NoDriver {
    fn park(&self, _timeout: Option<Duration>) {}
    fn unpark(&self) {}
    fn shutdown(&self) {}
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn looks_tell_moving_held_and_abandoned_apart() {
        let slot = DriverSlot::new(Box::new(NoDriver));
        let mut last = slot.turns();
        assert_eq!(look(&slot, &mut last), Look::Abandoned);
        assert!(slot.try_lock());
        assert_eq!(look(&slot, &mut last), Look::Held);
        slot.unlock();
        assert_eq!(look(&slot, &mut last), Look::Moving);
        assert_eq!(look(&slot, &mut last), Look::Abandoned);
        // Entered and left between two looks: still moving.
        assert!(slot.try_lock());
        slot.unlock();
        assert_eq!(look(&slot, &mut last), Look::Moving);
    }

    #[test]
    fn the_pace_backs_off_while_moving_and_resets_on_a_hand_off() {
        let mut pace = Pace::new(INTERVAL, MAX_INTERVAL);
        let mut seen = vec![pace.now];
        for _ in 0..5 * BACKOFF_AFTER {
            pace.after(Look::Moving);
            seen.push(pace.now);
        }
        assert_eq!(pace.now, MAX_INTERVAL, "capped: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        // A held look breaks the run of moving ones but keeps the pace.
        pace.after(Look::Held);
        assert_eq!(pace.now, MAX_INTERVAL);
        pace.after(Look::Abandoned);
        assert_eq!(pace.now, INTERVAL, "a hand-off: look closely again");
        // Not every moving look doubles: only a run of BACKOFF_AFTER.
        for _ in 1..BACKOFF_AFTER {
            pace.after(Look::Moving);
        }
        pace.after(Look::Held);
        pace.after(Look::Moving);
        assert_eq!(pace.now, INTERVAL);
        // A long-poll watch keeps its pace.
        let every = Duration::from_micros(250);
        let mut steady = Pace::new(every, every);
        for _ in 0..5 * BACKOFF_AFTER {
            steady.after(Look::Moving);
        }
        assert_eq!(steady.now, every);
    }

    #[test]
    fn deep_sleep_returns_at_once_if_the_driver_moved() {
        let slot = DriverSlot::new(Box::new(NoDriver));
        let monitor = slot.monitor();
        assert!(slot.try_lock());
        let last = slot.turns();
        slot.unlock();
        let guard = monitor.lock();
        // Would block forever if it ignored the unlock.
        drop(deep_sleep(monitor, &slot, last, || true, || false, guard));
        assert!(!monitor.deep.load(Relaxed));
    }
}
