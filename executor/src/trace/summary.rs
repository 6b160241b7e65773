//! `Summary`: the numbers a trace boils down to.

use super::event::Kind;
use super::Trace;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Per-worker polls, busy and parked time and steals, and the wake-to-poll
/// delay (how long a woken task waited in a queue), over one trace.
///
/// Busy time is the sum of the worker's polls; parked time the sum of its
/// parks (on the driver or its condvar). The delay is measured from each
/// wake (including a task waking itself to yield) to the task's next poll
/// start, on any worker.
#[derive(Clone, Debug)]
pub struct Summary {
    workers: Vec<WorkerSummary>,
    delays: Vec<u64>,
    window: u64,
    dropped: u64,
}

#[derive(Clone, Debug, Default)]
struct WorkerSummary {
    polls: u64,
    busy: u64,
    parked: u64,
    steals: u64,
    stolen: u64,
}

impl Summary {
    pub(crate) fn new(trace: &Trace) -> Summary {
        let mut workers = vec![WorkerSummary::default(); trace.workers.len()];
        let polls = trace.polls();
        let mut starts: HashMap<u64, Vec<u64>> = HashMap::new();
        for p in &polls {
            let w = &mut workers[p.lane];
            w.polls += 1;
            w.busy += p.end - p.start;
            starts.entry(p.task).or_default().push(p.start);
        }
        let mut wakes = Vec::new();
        for (lane, events) in trace.workers.iter().enumerate() {
            let mut parked_at = None;
            for e in events {
                match e.kind {
                    Kind::Park => parked_at = Some(e.ts),
                    Kind::Unpark => {
                        if let Some(t) = parked_at.take() {
                            workers[lane].parked += e.ts.saturating_sub(t);
                        }
                    }
                    Kind::Steal => {
                        workers[lane].steals += 1;
                        workers[lane].stolen += e.task;
                    }
                    Kind::Wake => wakes.push((e.task, e.ts)),
                    _ => {}
                }
            }
            if let Some(t) = parked_at {
                workers[lane].parked += trace.end.saturating_sub(t);
            }
        }
        for e in trace
            .driver
            .iter()
            .chain(&trace.other)
            .chain(&trace.blocking)
        {
            if e.kind == Kind::Wake {
                wakes.push((e.task, e.ts));
            }
        }
        // `polls` is sorted by start, so each task's list is too.
        let mut delays: Vec<u64> = wakes
            .into_iter()
            .filter_map(|(task, ts)| {
                let s = starts.get(&task)?;
                let i = s.partition_point(|&start| start < ts);
                s.get(i).map(|&start| start - ts)
            })
            .collect();
        delays.sort_unstable();
        Summary {
            workers,
            delays,
            window: trace.end,
            dropped: trace.dropped,
        }
    }

    /// Number of workers.
    pub fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// Polls by worker `i` in the window.
    ///
    /// # Panics
    ///
    /// If `i >= num_workers()` (as for every per-worker method).
    pub fn polls(&self, i: usize) -> u64 {
        self.workers[i].polls
    }

    /// Time worker `i` spent polling tasks.
    pub fn busy(&self, i: usize) -> Duration {
        Duration::from_nanos(self.workers[i].busy)
    }

    /// Time worker `i` spent parked (in the driver or on its condvar).
    pub fn parked(&self, i: usize) -> Duration {
        Duration::from_nanos(self.workers[i].parked)
    }

    /// Steal operations by worker `i` (as `RuntimeMetrics::worker_steal_operations`).
    pub fn steals(&self, i: usize) -> u64 {
        self.workers[i].steals
    }

    /// Tasks worker `i` stole (as `RuntimeMetrics::worker_steal_count`).
    pub fn stolen_tasks(&self, i: usize) -> u64 {
        self.workers[i].stolen
    }

    /// Length of the recorded window.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window)
    }

    fn delay_quantile(&self, q: f64) -> Option<Duration> {
        if self.delays.is_empty() {
            return None;
        }
        let i = ((self.delays.len() - 1) as f64 * q).round() as usize;
        Some(Duration::from_nanos(self.delays[i]))
    }

    /// Median wake-to-poll delay (`None` if no wake led to a poll).
    pub fn wake_to_poll_p50(&self) -> Option<Duration> {
        self.delay_quantile(0.5)
    }

    /// 99th percentile of the wake-to-poll delay.
    pub fn wake_to_poll_p99(&self) -> Option<Duration> {
        self.delay_quantile(0.99)
    }

    /// Longest wake-to-poll delay.
    pub fn wake_to_poll_max(&self) -> Option<Duration> {
        self.delays.last().map(|&d| Duration::from_nanos(d))
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "window {:?}, {} events dropped",
            self.window(),
            self.dropped
        )?;
        writeln!(
            f,
            "{:>8} {:>10} {:>12} {:>12} {:>8} {:>8}",
            "worker", "polls", "busy", "parked", "steals", "stolen"
        )?;
        for (i, w) in self.workers.iter().enumerate() {
            writeln!(
                f,
                "{:>8} {:>10} {:>12} {:>12} {:>8} {:>8}",
                i,
                w.polls,
                format!("{:.3?}", Duration::from_nanos(w.busy)),
                format!("{:.3?}", Duration::from_nanos(w.parked)),
                w.steals,
                w.stolen
            )?;
        }
        match (
            self.wake_to_poll_p50(),
            self.wake_to_poll_p99(),
            self.wake_to_poll_max(),
        ) {
            (Some(p50), Some(p99), Some(max)) => write!(
                f,
                "wake to poll ({} wakes): p50 {:.3?}, p99 {:.3?}, max {:.3?}",
                self.delays.len(),
                p50,
                p99,
                max
            ),
            _ => write!(f, "wake to poll: no wakes"),
        }
    }
}
