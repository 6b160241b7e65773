//! Long-poll detection: finding blocking code inside async code while it
//! blocks (`Builder::on_long_poll`).
//!
//! A poll that runs for long (a `std::thread::sleep`, a blocking lock, a
//! CPU-heavy loop) stalls every task queued behind it on that worker. The
//! driver monitor (`monitor.rs`), which already looks at the runtime every
//! millisecond while it is busy, also looks at what each worker is polling,
//! and calls the user's callback on its own thread while the poll still
//! runs.
//!
//! Protocol. Each worker owns one cache-padded [`PollSlot`] that only it
//! writes, and only when the option is set (otherwise the worker pays one
//! well-predicted branch per poll, see `run_watched`):
//!
//! ```text
//! worker, poll start:  task = id        (Release, R1)
//!                      seq  = seq + 1   (Release, R2)   now odd: in a poll
//! worker, poll end:    seq  = seq + 1   (Relaxed)       now even: between polls
//!
//! monitor, each look:  s1 = seq (Acquire, pairs with R2)
//!                      id = task (Relaxed)
//!                      fence(Acquire)   (pairs with R1)
//!                      s2 = seq (Relaxed)
//!                      in poll s1 with task id  iff  s1 == s2 and s1 is odd
//! ```
//!
//! Why the pair (s1, id) is consistent when s1 == s2: R2 orders the id of
//! poll s1 before s1, so `id` is that one or a newer one. If it were a newer
//! poll's, that poll's R1 store (which follows the store that ended poll s1)
//! synchronises with the monitor's Acquire fence, so `s2` would read at least
//! s1 + 1. The worker publishes no clock: the monitor timestamps a poll
//! itself when it first sees its sequence number, and reports it at the
//! first look where the same number is still there and at least the
//! threshold has passed since. One report per sequence number (the monitor
//! alone keeps that state), so a poll is reported once however long it
//! lasts, and two stalls in two polls of one task (two numbers) are two
//! reports. The elapsed time reported is measured from that first sight, so
//! it never exceeds how long the poll really ran (it may fall short of it by
//! up to one look interval), and a poll shorter than the threshold is never
//! reported.
//!
//! Reaching the monitor: it looks every `min(1 ms, threshold / 2)`, and a
//! stall is reported within the threshold plus two look intervals. It must
//! not sleep "deep" (without a timeout) while a worker could be polling: with
//! watching on, it sleeps deep only if, after fence M2, it sees every worker
//! parked (`Parker::is_parked`), and a worker leaving its parker calls
//! `Shared::after_unpark`, whose fence M3 pairs with M2 as M1 does: either
//! the monitor sees the worker out of its parker (and stays awake), or the
//! worker sees the monitor's `deep` flag and wakes it. A worker cannot poll
//! without leaving its parker first. `loom_tests::monitor_deep_sleep_vs_worker_unpark`
//! checks this pair; `loom_tests::long_poll_slot_reads_are_consistent` the slot.

use crate::metrics::WorkerMetrics;
use crate::sync::{fence, AtomicU64, CachePadded};
use crate::task::Id;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

/// A poll that ran for longer than the threshold given to
/// `Builder::on_long_poll`, seen while it was still running.
///
/// A callback that logs each stall (`weft::Builder::on_long_poll` shows one
/// at work):
///
/// ```
/// fn log_stall(stall: &weft::LongPoll) {
///     eprintln!(
///         "task {} has blocked worker {} for {:?} so far",
///         stall.task_id, stall.worker, stall.elapsed
///     );
/// }
/// # let _ = log_stall;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LongPoll {
    /// The worker that runs the poll (`0..num_workers()`).
    pub worker: usize,
    /// The task being polled.
    pub task_id: Id,
    /// How long the poll had run when the monitor saw it: at least the
    /// threshold, and at most the true time (it is measured from the
    /// monitor's first sight of the poll, which may come up to one look
    /// interval, at most 1 ms, after the poll began).
    pub elapsed: Duration,
}

pub(crate) type LongPollHook = std::sync::Arc<dyn Fn(&LongPoll) + Send + Sync>;

/// What `Builder::on_long_poll` gave.
#[derive(Clone)]
pub(crate) struct LongPollConfig {
    pub(crate) threshold: Duration,
    pub(crate) hook: LongPollHook,
}

/// The looks never come closer than this, however small the threshold: a
/// guess at what a thread that wakes this often still costs little (a
/// wakeup is a few microseconds). Re-tune if sub-200 µs thresholds matter.
const MIN_LOOK_INTERVAL: Duration = Duration::from_micros(100);

/// One worker's published poll; written only by that worker.
#[derive(Default)]
pub(crate) struct PollSlot {
    /// Odd while a poll runs; +1 at its start and at its end.
    seq: AtomicU64,
    /// The task of the current (or last) poll, as `Id::as_u64`.
    task: AtomicU64,
}

impl PollSlot {
    /// Poll start; only the owning worker calls this.
    #[inline]
    pub(crate) fn enter(&self, task: Id) {
        // R1, Release: pairs with the monitor's Acquire fence in `read`: a
        // monitor that reads this id sees the end of the previous poll.
        self.task.store(task.as_u64(), Release);
        // Single writer: a Relaxed load of our own store.
        let seq = self.seq.load(Relaxed);
        // R2, Release: pairs with the monitor's Acquire load of `seq` in
        // `read`: a monitor that sees this poll's number sees its id.
        self.seq.store(seq.wrapping_add(1), Release);
    }

    /// Poll end; only the owning worker calls this.
    #[inline]
    pub(crate) fn leave(&self) {
        // Relaxed: the monitor only compares it with an earlier read; R1 of
        // the next poll orders it before that poll's id (see `read`).
        let seq = self.seq.load(Relaxed);
        self.seq.store(seq.wrapping_add(1), Relaxed);
    }

    /// The monitor's read: `Some((seq, task id))` if the worker is inside a
    /// poll, with the id of that very poll (module docs).
    pub(crate) fn read(&self) -> Option<(u64, u64)> {
        // Acquire: pairs with R2 in `enter`.
        let s1 = self.seq.load(Acquire);
        if s1 % 2 == 0 {
            return None;
        }
        let task = self.task.load(Relaxed);
        // Pairs with R1 in `enter`: if `task` is a newer poll's, `s2` below
        // sees that the poll `s1` ended.
        fence(Acquire);
        let s2 = self.seq.load(Relaxed);
        (s1 == s2).then_some((s1, task))
    }
}

/// Runs `task` on worker `worker`, publishing the poll in its slot if
/// watching is on. Off, this is one load and one well-predicted branch;
/// the watched path is a call of its own, so that it does not weigh on the
/// code around every poll. Measured with callgrind (2 workers, 100k spawns
/// then 200 tasks x 500 yields, 7 runs each): off, the program's instruction
/// count is within run-to-run noise of the code without this feature
/// (median +0.1 %, spread about 2 %); on, publishing adds about 20
/// instructions per poll (median +1.4 %).
#[inline(always)]
pub(crate) fn run_watched(shared: &super::Shared, worker: usize, task: super::Notified) {
    match &shared.long_poll {
        None => task.run(),
        Some(watch) => run_published(watch.slot(worker), task),
    }
}

#[inline(never)]
fn run_published(slot: &PollSlot, task: super::Notified) {
    slot.enter(task.id());
    task.run();
    slot.leave();
}

impl super::Shared {
    /// Called by a worker each time it comes back from its parker. With
    /// watching on, fence M3 pairs with M2 in `monitor::deep_sleep` (module
    /// docs): the monitor must not sleep deep through a worker that is about
    /// to poll. Without watching, nothing (the driver's own unlock tells
    /// the monitor what it needs).
    #[inline]
    pub(crate) fn after_unpark(&self) {
        if self.long_poll.is_some() {
            if let Some(slot) = &self.driver {
                // M3 is inside `worker_unparked`.
                slot.monitor().worker_unparked();
            }
        }
    }
}

/// The runtime's long-poll watch: the workers' slots and the callback.
pub(crate) struct LongPollWatch {
    threshold: Duration,
    hook: LongPollHook,
    slots: Box<[CachePadded<PollSlot>]>,
}

impl LongPollWatch {
    pub(crate) fn new(config: LongPollConfig, workers: usize) -> LongPollWatch {
        LongPollWatch {
            threshold: config.threshold,
            hook: config.hook,
            slots: (0..workers).map(|_| CachePadded::default()).collect(),
        }
    }

    pub(crate) fn slot(&self, worker: usize) -> &PollSlot {
        &self.slots[worker]
    }

    /// How often the monitor must look for stalls to be reported within
    /// the threshold plus two looks.
    pub(crate) fn look_interval(&self, default: Duration) -> Duration {
        default.min(self.threshold / 2).max(MIN_LOOK_INTERVAL)
    }
}

/// What the monitor remembers of one worker's current poll.
#[derive(Clone, Copy)]
struct Seen {
    seq: u64,
    first_seen: Instant,
    reported: bool,
}

/// The monitor thread's side: one `Seen` per worker.
pub(crate) struct Watcher<'a> {
    watch: &'a LongPollWatch,
    seen: Vec<Option<Seen>>,
    /// Told of each stall before the user's hook (the execution trace
    /// records it as a `LongPoll` event on the worker's lane).
    on_stall: Option<&'a (dyn Fn(usize, Id) + Sync)>,
}

impl<'a> Watcher<'a> {
    pub(crate) fn new(watch: &'a LongPollWatch) -> Watcher<'a> {
        Watcher {
            watch,
            seen: vec![None; watch.slots.len()],
            on_stall: None,
        }
    }

    /// Also calls `f(worker, task)` for each stall, before the user's hook.
    pub(crate) fn with_on_stall(mut self, f: &'a (dyn Fn(usize, Id) + Sync)) -> Watcher<'a> {
        self.on_stall = Some(f);
        self
    }

    /// One look at every worker at time `now`; calls the hook for every
    /// poll first seen at least the threshold ago and not yet reported.
    pub(crate) fn look<'m>(&mut self, now: Instant, metrics: impl Fn(usize) -> &'m WorkerMetrics) {
        for (worker, slot) in self.watch.slots.iter().enumerate() {
            let seen = &mut self.seen[worker];
            let Some((seq, task)) = slot.read() else {
                *seen = None;
                continue;
            };
            match seen {
                Some(s) if s.seq == seq => {
                    let elapsed = now.saturating_duration_since(s.first_seen);
                    if !s.reported && elapsed >= self.watch.threshold {
                        s.reported = true;
                        // Single writer: only the monitor counts long polls.
                        metrics(worker).long_poll_count.add(1);
                        self.report(worker, task, elapsed);
                    }
                }
                _ => {
                    *seen = Some(Seen {
                        seq,
                        first_seen: now,
                        reported: false,
                    })
                }
            }
        }
    }

    #[cold]
    fn report(&self, worker: usize, task: u64, elapsed: Duration) {
        let Some(task_id) = NonZeroU64::new(task).map(Id) else {
            return;
        };
        if let Some(on_stall) = self.on_stall {
            on_stall(worker, task_id);
        }
        let stall = LongPoll {
            worker,
            task_id,
            elapsed,
        };
        // User code on the monitor thread: a panic must not kill the
        // monitor (it also keeps the driver turning).
        if catch_unwind(AssertUnwindSafe(|| (self.watch.hook)(&stall))).is_err() {
            eprintln!("weft: the on_long_poll callback panicked; the monitor goes on");
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn watch(threshold: Duration) -> (LongPollWatch, Arc<Mutex<Vec<LongPoll>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let config = LongPollConfig {
            threshold,
            hook: Arc::new(move |s: &LongPoll| sink.lock().unwrap().push(s.clone())),
        };
        (LongPollWatch::new(config, 2), got)
    }

    fn id(n: u64) -> Id {
        Id(NonZeroU64::new(n).unwrap())
    }

    #[test]
    fn slot_reads_in_poll_only() {
        let slot = PollSlot::default();
        assert_eq!(slot.read(), None);
        slot.enter(id(7));
        assert_eq!(slot.read(), Some((1, 7)));
        slot.leave();
        assert_eq!(slot.read(), None);
        slot.enter(id(9));
        assert_eq!(slot.read(), Some((3, 9)));
    }

    #[test]
    fn one_report_per_poll_and_one_per_stall() {
        let ms = Duration::from_millis;
        let (watch, got) = watch(ms(10));
        let metrics: Vec<WorkerMetrics> = (0..2).map(|_| WorkerMetrics::default()).collect();
        let mut watcher = Watcher::new(&watch);
        let t0 = Instant::now();
        watch.slot(1).enter(id(5));
        watcher.look(t0, |i| &metrics[i]);
        watcher.look(t0 + ms(9), |i| &metrics[i]);
        assert!(got.lock().unwrap().is_empty(), "9 ms < 10 ms threshold");
        watcher.look(t0 + ms(12), |i| &metrics[i]);
        watcher.look(t0 + ms(50), |i| &metrics[i]);
        {
            let got = got.lock().unwrap();
            assert_eq!(got.len(), 1, "one stall, one report");
            assert_eq!((got[0].worker, got[0].task_id), (1, id(5)));
            assert_eq!(got[0].elapsed, ms(12));
        }
        // The same task polled again, and stalling again: a second report.
        watch.slot(1).leave();
        watch.slot(1).enter(id(5));
        watcher.look(t0 + ms(51), |i| &metrics[i]);
        watcher.look(t0 + ms(70), |i| &metrics[i]);
        assert_eq!(got.lock().unwrap().len(), 2);
        assert_eq!(metrics[1].long_poll_count.get(), 2);
        assert_eq!(metrics[0].long_poll_count.get(), 0);
    }

    #[test]
    fn polls_that_change_between_looks_are_not_reported() {
        let ms = Duration::from_millis;
        let (watch, got) = watch(ms(10));
        let metrics: Vec<WorkerMetrics> = (0..2).map(|_| WorkerMetrics::default()).collect();
        let mut watcher = Watcher::new(&watch);
        let t0 = Instant::now();
        for i in 0..100u32 {
            watch.slot(0).enter(id(3));
            watcher.look(t0 + ms(20) * i, |i| &metrics[i]);
            watch.slot(0).leave();
        }
        assert!(got.lock().unwrap().is_empty());
    }

    #[test]
    fn a_panicking_hook_does_not_kill_the_watcher() {
        let config = LongPollConfig {
            threshold: Duration::from_millis(1),
            hook: std::sync::Arc::new(|_: &LongPoll| panic!("hook")),
        };
        let watch = LongPollWatch::new(config, 1);
        let metrics = [WorkerMetrics::default()];
        let mut watcher = Watcher::new(&watch);
        let t0 = Instant::now();
        watch.slot(0).enter(id(1));
        watcher.look(t0, |i| &metrics[i]);
        watcher.look(t0 + Duration::from_millis(5), |i| &metrics[i]);
        assert_eq!(metrics[0].long_poll_count.get(), 1);
    }

    #[test]
    fn look_interval_follows_the_threshold() {
        let (w, _) = watch(Duration::from_millis(200));
        assert_eq!(
            w.look_interval(Duration::from_millis(1)),
            Duration::from_millis(1)
        );
        let (w, _) = watch(Duration::from_micros(600));
        assert_eq!(
            w.look_interval(Duration::from_millis(1)),
            Duration::from_micros(300)
        );
        let (w, _) = watch(Duration::from_micros(10));
        assert_eq!(w.look_interval(Duration::from_millis(1)), MIN_LOOK_INTERVAL);
    }
}
