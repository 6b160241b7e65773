//! Where a late timer's lateness comes from: the timer firing late, or the
//! woken task waiting in a run queue.
//!
//! ```text
//! cargo bench --bench timer_lateness
//! WEFT_BENCH_ROUNDS=9 cargo bench --bench timer_lateness
//! ```
//!
//! The `timers` workload of `compare` (100,000 tasks each sleeping 1-10 ms,
//! spawned at once, fixed seed), with each sleep wrapped so that its waker
//! records when it was called. Per task, with `deadline` = when it asked to
//! sleep plus how long:
//! - *fire*: waker called minus deadline (the timer's own delay);
//! - *queue*: resumed minus waker called (waiting to be polled);
//! - *late*: resumed minus deadline, the sum, what `compare` reports.
//!
//! The wrapper allocates on every poll of the sleep, the same for the three
//! runtimes, so compare figures within one run, not with `compare`'s.
//! Figures are medians over rounds of each round's percentile. This is how
//! the 30-45 ms p99 tail of weft's timers, as of docs/benchmarks.md's first
//! run, was found to be queueing (fire p99 under 1 ms, queue p99 over
//! 100 ms): woken tasks were moved behind a backlog of new ones.

mod common;

use common::{env_or, median, quantile, quick, timer_durations, AsyncExecutor, Rt, Tokio, Weft};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Nanoseconds since the first call: one clock for every thread.
fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A waker that notes when it was first called, then wakes the real one.
struct Recorder {
    inner: Waker,
    woke_ns: AtomicU64,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Relaxed: the value is read by the task this wake schedules, and
        // scheduling a task synchronizes with its next poll.
        let _ = self.woke_ns.compare_exchange(0, now_ns(), Relaxed, Relaxed);
        self.inner.wake_by_ref();
    }
}

/// Polls `F` with a [`Recorder`]; resolves to when the last recorder before
/// the final poll was woken (0 if the sleep was ready on its first poll).
struct Traced<F> {
    fut: Pin<Box<F>>,
    last: Option<Arc<Recorder>>,
}

impl<F: Future<Output = ()>> Future for Traced<F> {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let woke = self.last.as_ref().map_or(0, |r| r.woke_ns.load(Relaxed));
        let rec = Arc::new(Recorder {
            inner: cx.waker().clone(),
            woke_ns: AtomicU64::new(0),
        });
        let waker = Waker::from(rec.clone());
        self.last = Some(rec);
        match self.fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(()) => Poll::Ready(woke),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// (deadline, woken, resumed) of every task, in ns on the `now_ns` clock.
fn one_round<R: Rt>(rt: &R, durations: Arc<Vec<Duration>>) -> Vec<(u64, u64, u64)> {
    let h = rt.clone();
    rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = durations
            .iter()
            .map(|&d| {
                h.spawn(async move {
                    let asked = now_ns();
                    let woke = Traced {
                        fut: Box::pin(R::sleep(d)),
                        last: None,
                    }
                    .await;
                    (asked + d.as_nanos() as u64, woke, now_ns())
                })
            })
            .collect();
        let mut rows = Vec::with_capacity(handles.len());
        for j in handles {
            rows.push(j.await);
        }
        rows
    }))
}

/// Per-round percentiles, in ms: late p50, late p99, fire p99, queue p99.
fn percentiles(rows: &[(u64, u64, u64)]) -> [f64; 4] {
    let ms = |ns: u64| ns as f64 / 1e6;
    // A sleep found ready on its first poll was never woken: all its
    // lateness is queueing.
    let woken = |&(deadline, woke, _): &(u64, u64, u64)| if woke == 0 { deadline } else { woke };
    let mut late: Vec<f64> = rows.iter().map(|r| ms(r.2 - r.0)).collect();
    let mut fire: Vec<f64> = rows
        .iter()
        .map(|r| ms(woken(r).saturating_sub(r.0)))
        .collect();
    let mut queue: Vec<f64> = rows
        .iter()
        .map(|r| ms(r.2.saturating_sub(woken(r))))
        .collect();
    [
        quantile(&mut late, 0.5),
        quantile(&mut late, 0.99),
        quantile(&mut fire, 0.99),
        quantile(&mut queue, 0.99),
    ]
}

fn main() {
    let workers: usize = env_or("WEFT_BENCH_WORKERS", 2);
    let rounds: usize = env_or("WEFT_BENCH_ROUNDS", if quick() { 2 } else { 5 }).max(1);
    let durations = Arc::new(timer_durations(common::TIMERS));
    let weft = Weft::build(workers);
    let tokio = Tokio::build(workers);
    let ae = AsyncExecutor::build(workers);
    let mut results: [Vec<[f64; 4]>; 3] = Default::default();
    println!(
        "timer lateness: {} sleeps of 1-10 ms, {workers} workers, {rounds} rounds, {}",
        durations.len(),
        common::machine()
    );
    for round in 0..rounds {
        // The runtimes take turns, the order rotating every round.
        for k in 0..3 {
            let which = (round + k) % 3;
            let rows = match which {
                0 => one_round(&*weft, durations.clone()),
                1 => one_round(&*tokio, durations.clone()),
                _ => one_round(&*ae, durations.clone()),
            };
            results[which].push(percentiles(&rows));
        }
    }
    println!();
    println!("| runtime | late p50 | late p99 | fire p99 | queue p99 |");
    println!("|---|---:|---:|---:|---:|");
    for (which, name) in [Weft::NAME, Tokio::NAME, AsyncExecutor::NAME]
        .iter()
        .enumerate()
    {
        let col = |i: usize| median(&results[which].iter().map(|r| r[i]).collect::<Vec<_>>());
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            col(0),
            col(1),
            col(2),
            col(3)
        );
    }
}
