//! Whether part 2's figures can be trusted: the decision, apart from the
//! measuring and the printing, so that it can be tested on made-up numbers
//! (whether the machine running the tests is quiet is not up to the tests).
//!
//! The wall-clock speedup `T(1 worker) / T(N workers)` alone cannot tell
//! parallelism from noise: if another program takes the core while the
//! one-worker run computes, that run is slow and the speedup comes out
//! above N, which N cores cannot do; if it takes a core during the N-worker
//! run, the speedup comes out near 1 and parallelism seems not to work. So
//! the demo also measures, for each run, how many cores the workers kept
//! busy: their CPU time over the wall time (see `cpu.rs`). That number is
//! at most `min(N, cores)` whatever else runs, and falls below it exactly
//! when something else took the cores.
//!
//! The rules:
//! - **Busy**: some worker count kept fewer than [`STARVED`] of the cores
//!   it could use busy. Then the speedups show the contention, not the
//!   runtime: the demo prints a warning (with the load average) instead of
//!   its conclusion. Without a CPU measurement (no `/proc`), a one-minute
//!   load average of at least the core count counts as busy instead.
//! - **Above the ideal**: a median speedup above `min(N, cores)` by more
//!   than [`TOLERANCE`] is never printed without a footnote saying why it
//!   cannot be parallelism (the one-worker runs were slowed).

/// Below this share of the cores a worker count could use, its runs were
/// starved by other programs. On a quiet machine the workers of a CPU-bound
/// job keep 0.9 to 1.0 of their cores busy (what the tail of the job, the
/// spawning and the wakeups cost); 0.8 leaves room for that and for the
/// tick-sized lag of the CPU clock (`cpu.rs`), and flags any machine where
/// another program held a core for a fifth of the run. Re-tune by running
/// the demo on an idle machine and reading the "cores busy" column.
pub const STARVED: f64 = 0.8;

/// A speedup this much above the ideal is not noise: 5%, the spread of the
/// medians of repeated runs on an idle machine.
pub const TOLERANCE: f64 = 1.05;

/// The median and the extremes of some samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no samples.
    pub fn of(samples: &[f64]) -> Option<Spread> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

/// What part 2 measured at one worker count.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub workers: usize,
    /// The one-worker time over this count's time (the median: of the
    /// medians; min and max: of the per-round ratios).
    pub speedup: Spread,
    /// Per round, the workers' CPU time over the wall time (`None`: could
    /// not be measured here).
    pub cores_busy: Option<Spread>,
}

/// A worker count whose workers got less than they could use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Starved {
    pub workers: usize,
    /// Median cores busy.
    pub got: f64,
    /// `min(workers, cores)`.
    pub could: f64,
}

/// The decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The machine was too busy for the speedups to mean anything.
    pub busy: bool,
    /// The worker counts that were starved (empty if nothing was measured).
    pub starved: Vec<Starved>,
    /// The worker counts whose median speedup is above the ideal.
    pub above_ideal: Vec<usize>,
    /// The one-worker runs' median cores busy, when it was measured: what
    /// explains a speedup above the ideal.
    pub alone: Option<f64>,
}

/// The most cores `workers` workers can keep busy on `cores` cores.
pub fn ideal(workers: usize, cores: usize) -> f64 {
    workers.min(cores.max(1)) as f64
}

/// Decides from the rows (one per worker count, the first for one worker),
/// the core count and the highest one-minute load average seen.
pub fn assess(rows: &[Measured], cores: usize, load: Option<f64>) -> Verdict {
    let starved: Vec<Starved> = rows
        .iter()
        .filter_map(|r| {
            let got = r.cores_busy?.median;
            let could = ideal(r.workers, cores);
            (got < STARVED * could).then_some(Starved {
                workers: r.workers,
                got,
                could,
            })
        })
        .collect();
    let measured = rows.iter().all(|r| r.cores_busy.is_some());
    let busy = if measured {
        !starved.is_empty()
    } else {
        load.is_some_and(|l| l >= cores as f64)
    };
    let above_ideal = rows
        .iter()
        .filter(|r| r.speedup.median > ideal(r.workers, cores) * TOLERANCE)
        .map(|r| r.workers)
        .collect();
    let alone = rows
        .iter()
        .find(|r| r.workers == 1)
        .and_then(|r| r.cores_busy)
        .map(|s| s.median);
    Verdict {
        busy,
        starved,
        above_ideal,
        alone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(median: f64) -> Spread {
        Spread {
            median,
            min: median * 0.95,
            max: median * 1.05,
        }
    }

    fn row(workers: usize, speedup: f64, busy: Option<f64>) -> Measured {
        Measured {
            workers,
            speedup: s(speedup),
            cores_busy: busy.map(s),
        }
    }

    #[test]
    fn spread_takes_the_median() {
        assert_eq!(Spread::of(&[]), None);
        let one = Spread::of(&[3.0]).unwrap();
        assert_eq!((one.median, one.min, one.max), (3.0, 3.0, 3.0));
        let odd = Spread::of(&[5.0, 1.0, 2.0]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max), (2.0, 1.0, 5.0));
        let even = Spread::of(&[4.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((even.median, even.min, even.max), (3.0, 1.0, 10.0));
    }

    #[test]
    fn a_quiet_machine_gives_no_warning() {
        let rows = [row(1, 1.0, Some(0.99)), row(2, 1.96, Some(1.95))];
        let v = assess(&rows, 2, Some(0.2));
        assert!(!v.busy, "{v:?}");
        assert!(v.starved.is_empty() && v.above_ideal.is_empty(), "{v:?}");
        assert_eq!(v.alone, Some(0.99));
    }

    #[test]
    fn the_reported_impossible_speedup_is_busy_and_explained() {
        // "2 workers finished 2.58x faster than one (ideal 2x)" on 2 cores:
        // the one-worker runs got half a core.
        let rows = [row(1, 1.0, Some(0.52)), row(2, 2.58, Some(1.34))];
        let v = assess(&rows, 2, Some(3.1));
        assert!(v.busy);
        assert_eq!(v.above_ideal, vec![2]);
        assert_eq!(v.alone, Some(0.52));
        let workers: Vec<usize> = v.starved.iter().map(|s| s.workers).collect();
        assert_eq!(workers, vec![1, 2]);
        assert_eq!(v.starved[0].could, 1.0);
        assert_eq!(v.starved[1].could, 2.0);
    }

    #[test]
    fn the_reported_no_speedup_is_busy() {
        // 0.97x: the two workers together kept about one core busy.
        let rows = [row(1, 1.0, Some(0.97)), row(2, 0.97, Some(1.02))];
        let v = assess(&rows, 2, Some(2.4));
        assert!(v.busy);
        assert_eq!(
            v.starved,
            vec![Starved {
                workers: 2,
                got: 1.02,
                could: 2.0
            }]
        );
        assert!(v.above_ideal.is_empty());
    }

    #[test]
    fn the_measurement_wins_over_the_load_average() {
        // A high load average from builds that have just finished, while
        // the workers had their cores: the figures hold.
        let rows = [row(1, 1.0, Some(0.98)), row(2, 1.9, Some(1.9))];
        assert!(!assess(&rows, 2, Some(6.0)).busy);
    }

    #[test]
    fn without_cpu_times_the_load_average_decides() {
        let rows = [row(1, 1.0, None), row(2, 1.5, None)];
        assert!(assess(&rows, 2, Some(2.5)).busy);
        assert!(!assess(&rows, 2, Some(0.3)).busy);
        assert!(!assess(&rows, 2, None).busy, "nothing known: no claim");
        assert_eq!(assess(&rows, 2, None).alone, None);
    }

    #[test]
    fn more_workers_than_cores_are_held_to_the_core_count() {
        // 4 workers on 2 cores can keep 2 busy and go 2x faster, not 4x.
        let rows = [
            row(1, 1.0, Some(0.99)),
            row(2, 1.95, Some(1.96)),
            row(3, 1.93, Some(1.97)),
            row(4, 1.94, Some(1.95)),
        ];
        let v = assess(&rows, 2, Some(0.5));
        assert!(!v.busy && v.above_ideal.is_empty(), "{v:?}");
        // ... and 2.5x at 4 workers on 2 cores is flagged.
        let rows = [row(1, 1.0, Some(0.99)), row(4, 2.5, Some(1.96))];
        assert_eq!(assess(&rows, 2, None).above_ideal, vec![4]);
    }

    #[test]
    fn a_speedup_within_the_tolerance_is_not_flagged() {
        let rows = [row(1, 1.0, Some(0.99)), row(2, 2.04, Some(1.97))];
        assert!(assess(&rows, 2, None).above_ideal.is_empty());
        let rows = [row(1, 1.0, Some(0.99)), row(2, 2.2, Some(1.97))];
        let v = assess(&rows, 2, None);
        assert_eq!(v.above_ideal, vec![2]);
        assert!(!v.busy, "above the ideal, yet the workers had their cores");
    }
}
