//! weft against tokio and async-executor, workload by workload.
//!
//! **These benchmarks are regression tests.** Each workload runs on the
//! three runtimes in the same process with the same number of workers, so
//! the ratio weft/tokio holds on a noisy machine even when absolute times
//! do not; a ratio that grows between two runs is a regression to chase.
//! CI only builds this file (`cargo bench --no-run`); see
//! docs/benchmarks.md for a recorded run and how to read it.
//!
//! ```text
//! cargo bench --bench compare                  # full run, a few minutes
//! cargo bench --bench compare -- ping          # only workloads whose name contains "ping"
//! WEFT_BENCH_QUICK=1 cargo bench --bench compare
//! ```
//!
//! Environment: `WEFT_BENCH_ONLY=weft` (run one runtime, e.g. under a
//! profiler), `WEFT_BENCH_WORKERS` (default 2), `WEFT_BENCH_SAMPLES`
//! (default 30, 5 in quick mode; heavy workloads use a third as many, at
//! least 3), `WEFT_BENCH_QUICK`, `WEFT_BENCH_OUT` (default
//! `target/bench-results/`).
//!
//! Method: every runtime is built before its workload's clock starts and
//! dropped after it stops. Each workload first runs twice per runtime
//! untimed (warm-up), then `samples` times per runtime, the three runtimes
//! taking turns within each round (the order rotates every round) so they
//! share the machine's noise fairly; fork_join at 1 and at N workers are
//! measured in the same rounds too, so their ratio (the speedup) is not
//! skewed by noise that comes and goes. The table shows the median of each;
//! the ratios are of medians, time over time, so below 1.0 means weft is
//! faster. The clock runs around the whole `block_on` call unless the
//! workload says otherwise. Synchronisation between tasks uses
//! futures-channel oneshots, the same for all three runtimes.

mod common;

use common::{
    env_or, fib_par, fmt_secs, median, name_filter, quantile, quick, timer_durations, write_result,
    AsyncExecutor, Owned, Rt, Tokio, Weft, FIB_CUTOFF, FIB_N, FIB_RESULT, TIMERS,
};
use futures_channel::oneshot;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Workload sizes, named as in tokio's own runtime benches where they exist.
const SPAWN_MANY: usize = 10_000;
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 1_000;
const PING_PONGS: usize = 1_000;
const CHAIN_DEPTH: usize = 1_000;
const TIMEOUTS: usize = 100_000;
const TCP_CLIENTS: usize = 64;
const TCP_ROUNDS: usize = 2_000;
const TCP_MSG: usize = 64;

/// What one run of a workload measured.
#[derive(Clone, Default)]
struct Sample {
    secs: f64,
    /// Workload-specific figures (lateness, throughput), by name.
    extra: Vec<(&'static str, f64)>,
}

impl Sample {
    fn time(d: Duration) -> Sample {
        Sample {
            secs: d.as_secs_f64(),
            extra: Vec::new(),
        }
    }
}

struct Workload {
    name: &'static str,
    /// `None`: the configured worker count; `Some(1)`: one worker.
    workers: Option<usize>,
    /// Heavy workloads take a third of the samples.
    heavy: bool,
    /// Workloads of one group are measured in the same rounds, taking
    /// turns, so a ratio between them (fork_join's speedup from 1 to N
    /// workers) is not skewed by noise that comes and goes.
    group: &'static str,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn_many_local",
        workers: None,
        group: "spawn_many_local",
        heavy: false,
    },
    Workload {
        name: "spawn_many_remote",
        workers: None,
        group: "spawn_many_remote",
        heavy: false,
    },
    Workload {
        name: "yield_many",
        workers: None,
        group: "yield_many",
        heavy: false,
    },
    Workload {
        name: "ping_pong",
        workers: None,
        group: "ping_pong",
        heavy: false,
    },
    Workload {
        name: "chained_spawn",
        workers: None,
        group: "chained_spawn",
        heavy: false,
    },
    Workload {
        name: "timers",
        workers: None,
        group: "timers",
        heavy: false,
    },
    Workload {
        name: "timers_1k",
        workers: None,
        group: "timers_1k",
        heavy: false,
    },
    Workload {
        name: "timeout_ready",
        workers: None,
        group: "timeout_ready",
        heavy: false,
    },
    Workload {
        name: "tcp_echo",
        workers: None,
        group: "tcp_echo",
        heavy: true,
    },
    Workload {
        name: "fork_join_1w",
        workers: Some(1),
        group: "fork_join",
        heavy: true,
    },
    Workload {
        name: "fork_join",
        workers: None,
        group: "fork_join",
        heavy: true,
    },
];

/// Runs workload `name` once on `rt`.
fn run<R: Rt>(name: &str, rt: &R, durations: &Arc<Vec<Duration>>) -> Sample {
    match name {
        "spawn_many_local" => spawn_many_local(rt),
        "spawn_many_remote" => spawn_many_remote(rt),
        "yield_many" => yield_many(rt),
        "ping_pong" => ping_pong(rt),
        "chained_spawn" => chained_spawn(rt),
        "timers" => timers(rt, durations.clone()),
        // Lightly loaded timers: lateness here is the timer's own precision
        // (issue target: p99 under 0.25 ms on an idle machine), not queueing.
        "timers_1k" => timers(rt, Arc::new(durations[..1000].to_vec())),
        "timeout_ready" => timeout_ready(rt),
        "tcp_echo" => {
            // The clock covers the round trips only, not the connects.
            let d = rt.tcp_echo(TCP_CLIENTS, TCP_ROUNDS, TCP_MSG);
            let mut s = Sample::time(d);
            let trips = (TCP_CLIENTS * TCP_ROUNDS) as f64;
            s.extra.push(("round_trips_per_s", trips / d.as_secs_f64()));
            s
        }
        "fork_join" | "fork_join_1w" => fork_join(rt),
        other => unreachable!("unknown workload {other}"),
    }
}

/// 10,000 empty tasks spawned from inside a task, then awaited.
fn spawn_many_local<R: Rt>(rt: &R) -> Sample {
    let h = rt.clone();
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..SPAWN_MANY).map(|_| h.spawn(async {})).collect();
        for j in handles {
            j.await;
        }
    }));
    Sample::time(start.elapsed())
}

/// 10,000 empty tasks spawned from the benchmark's (non-runtime) thread,
/// then awaited there.
fn spawn_many_remote<R: Rt>(rt: &R) -> Sample {
    let start = Instant::now();
    let handles: Vec<_> = (0..SPAWN_MANY).map(|_| rt.spawn(async {})).collect();
    rt.block_on(async move {
        for j in handles {
            j.await;
        }
    });
    Sample::time(start.elapsed())
}

/// 200 tasks, each yielding 1,000 times.
fn yield_many<R: Rt>(rt: &R) -> Sample {
    let h = rt.clone();
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                h.spawn(async {
                    for _ in 0..YIELDS {
                        R::yield_now().await;
                    }
                })
            })
            .collect();
        for j in handles {
            j.await;
        }
    }));
    Sample::time(start.elapsed())
}

/// 1,000 tasks, each spawning a partner and exchanging two oneshot
/// messages with it (ping, then pong).
fn ping_pong<R: Rt>(rt: &R) -> Sample {
    let h = rt.clone();
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..PING_PONGS)
            .map(|_| {
                let h2 = h.clone();
                h.spawn(async move {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    h2.spawn_detached(async move {
                        ping_rx.await.unwrap();
                        pong_tx.send(()).unwrap();
                    });
                    ping_tx.send(()).unwrap();
                    pong_rx.await.unwrap();
                })
            })
            .collect();
        for j in handles {
            j.await;
        }
    }));
    Sample::time(start.elapsed())
}

/// Each task spawns the next, 1,000 deep; the last one signals.
fn chained_spawn<R: Rt>(rt: &R) -> Sample {
    fn link<R: Rt>(h: R, left: usize, done: oneshot::Sender<()>) {
        if left == 0 {
            done.send(()).unwrap();
        } else {
            let h2 = h.clone();
            h.spawn_detached(async move { link(h2, left - 1, done) });
        }
    }
    let h = rt.clone();
    let start = Instant::now();
    rt.block_on(async move {
        let (tx, rx) = oneshot::channel();
        let h2 = h.clone();
        h.spawn_detached(async move { link(h2, CHAIN_DEPTH, tx) });
        rx.await.unwrap();
    });
    Sample::time(start.elapsed())
}

/// 100,000 tasks, each sleeping 1-10 ms (fixed seed). Measures the total
/// time and each timer's lateness: when the task resumed minus when it
/// asked to.
fn timers<R: Rt>(rt: &R, durations: Arc<Vec<Duration>>) -> Sample {
    let h = rt.clone();
    let start = Instant::now();
    let mut late: Vec<f64> = rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..durations.len())
            .map(|i| {
                let d = durations[i];
                h.spawn(async move {
                    let asked = Instant::now();
                    R::sleep(d).await;
                    let woke = asked.elapsed();
                    assert!(woke >= d, "a timer fired early: {woke:?} < {d:?}");
                    (woke - d).as_secs_f64()
                })
            })
            .collect();
        let mut late = Vec::with_capacity(handles.len());
        for j in handles {
            late.push(j.await);
        }
        late
    }));
    let mut s = Sample::time(start.elapsed());
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    s.extra.push(("lateness_mean_s", mean));
    s.extra.push(("lateness_p99_s", quantile(&mut late, 0.99)));
    s
}

/// `timeout(1 s, ready)` 100,000 times in one task: the cost of a timer
/// that is created and dropped without ever firing.
fn timeout_ready<R: Rt>(rt: &R) -> Sample {
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        for i in 0..TIMEOUTS {
            let v = R::timeout(Duration::from_secs(1), std::future::ready(i)).await;
            assert_eq!(v, Some(i));
        }
    }));
    Sample::time(start.elapsed())
}

/// Recursive parallel fib(38), spawning above the cutoff.
fn fork_join<R: Rt>(rt: &R) -> Sample {
    let start = Instant::now();
    let v = rt.block_on(rt.spawn(fib_par(rt.clone(), FIB_N, FIB_CUTOFF)));
    let d = start.elapsed();
    assert_eq!(v, FIB_RESULT);
    Sample::time(d)
}

/// The three runtimes of one workload, built with the same worker count.
struct Trio {
    weft: Owned<Weft>,
    tokio: Owned<Tokio>,
    ae: Owned<AsyncExecutor>,
}

impl Trio {
    fn new(workers: usize) -> Trio {
        Trio {
            weft: Weft::build(workers),
            tokio: Tokio::build(workers),
            ae: AsyncExecutor::build(workers),
        }
    }

    fn run(&self, which: usize, name: &str, durations: &Arc<Vec<Duration>>) -> Sample {
        match which {
            0 => run(name, &*self.weft, durations),
            1 => run(name, &*self.tokio, durations),
            _ => run(name, &*self.ae, durations),
        }
    }
}

const NAMES: [&str; 3] = [Weft::NAME, Tokio::NAME, AsyncExecutor::NAME];

fn main() {
    let workers: usize = env_or("WEFT_BENCH_WORKERS", 2);
    let default_samples = if quick() { 5 } else { 30 };
    let samples: usize = env_or("WEFT_BENCH_SAMPLES", default_samples).max(1);
    let filter = name_filter();
    let only = std::env::var("WEFT_BENCH_ONLY").ok();
    let selected = |which: usize| only.as_deref().is_none_or(|o| o == NAMES[which]);

    let durations = Arc::new(timer_durations(TIMERS));

    println!(
        "weft compare: {workers} workers, {samples} samples ({} for heavy workloads), {}",
        (samples / 3).max(3).min(samples),
        common::machine()
    );

    let mut table = Vec::new();
    let mut round_speedup: Option<[f64; 3]> = None;
    let mut raw = String::from("workload,workers,runtime,sample,seconds\n");
    let mut details = String::from("workload,runtime,metric,median\n");
    let chosen: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| filter.as_deref().is_none_or(|f| w.name.contains(f)))
        .collect();
    for group in chosen.chunk_by(|a, b| a.group == b.group) {
        let n_samples = if group[0].heavy {
            (samples / 3).max(3).min(samples)
        } else {
            samples
        };
        let trios: Vec<Trio> = group
            .iter()
            .map(|w| Trio::new(w.workers.unwrap_or(workers)))
            .collect();
        for (w, trio) in group.iter().zip(&trios) {
            for which in (0..3).filter(|&k| selected(k)) {
                for _ in 0..2 {
                    trio.run(which, w.name, &durations);
                }
            }
        }
        // got[member][runtime]: samples.
        let mut got: Vec<[Vec<Sample>; 3]> = group.iter().map(|_| Default::default()).collect();
        for round in 0..n_samples {
            for j in 0..group.len() {
                let member = (round + j) % group.len();
                for k in 0..3 {
                    let which = (round + k) % 3;
                    if selected(which) {
                        let s = trios[member].run(which, group[member].name, &durations);
                        got[member][which].push(s);
                    }
                }
            }
        }
        drop(trios);

        // fork_join at 1 and at N workers ran in the same rounds: the median
        // of the per-round ratios cancels the machine's slow drifts (a busy
        // neighbour for a few seconds), which the ratio of the two medians
        // does not.
        if group.len() == 2 && group[0].group == "fork_join" {
            let (one, many) = if group[0].name == "fork_join_1w" {
                (0, 1)
            } else {
                (1, 0)
            };
            let mut per_round = [0.0; 3];
            for (which, slot) in per_round.iter_mut().enumerate() {
                let ratios: Vec<f64> = got[one][which]
                    .iter()
                    .zip(&got[many][which])
                    .map(|(a, b)| a.secs / b.secs)
                    .collect();
                *slot = if ratios.is_empty() {
                    f64::NAN
                } else {
                    median(&ratios)
                };
            }
            round_speedup = Some(per_round);
        }

        for (w, got) in group.iter().zip(&got) {
            let n_workers = w.workers.unwrap_or(workers);
            let medians: Vec<f64> = got
                .iter()
                .map(|v| median(&v.iter().map(|s| s.secs).collect::<Vec<_>>()))
                .collect();
            for (which, v) in got.iter().enumerate() {
                for (i, s) in v.iter().enumerate() {
                    let _ = writeln!(
                        raw,
                        "{},{},{},{},{:.9}",
                        w.name, n_workers, NAMES[which], i, s.secs
                    );
                }
                let Some(first) = v.first() else { continue };
                let metrics: Vec<&str> = first.extra.iter().map(|(k, _)| *k).collect();
                for (m, key) in metrics.iter().enumerate() {
                    let med = median(&v.iter().map(|s| s.extra[m].1).collect::<Vec<_>>());
                    let _ = writeln!(details, "{},{},{},{:.9}", w.name, NAMES[which], key, med);
                    let shown = if key.ends_with("_per_s") {
                        format!("{med:.0}")
                    } else if key.ends_with("_s") {
                        fmt_secs(med)
                    } else {
                        format!("{med}")
                    };
                    println!("  {:<18} {:<15} {:<18} {shown}", w.name, NAMES[which], key);
                }
            }
            println!(
                "  {:<18} weft {}  tokio {}  async-executor {}",
                w.name,
                fmt_secs(medians[0]),
                fmt_secs(medians[1]),
                fmt_secs(medians[2])
            );
            table.push((w.name, n_workers, n_samples, medians));
        }
    }

    // The summary table.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| workload | workers | weft median | tokio median | async-executor median | weft/tokio | weft/async-executor |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let mut csv = String::from(
        "workload,workers,samples,weft_median_s,tokio_median_s,async_executor_median_s,weft_over_tokio,weft_over_async_executor\n",
    );
    for (name, n_workers, n_samples, m) in &table {
        let _ = writeln!(
            out,
            "| {name} | {n_workers} | {} | {} | {} | {:.2} | {:.2} |",
            fmt_secs(m[0]),
            fmt_secs(m[1]),
            fmt_secs(m[2]),
            m[0] / m[1],
            m[0] / m[2]
        );
        let _ = writeln!(
            csv,
            "{name},{n_workers},{n_samples},{:.9},{:.9},{:.9},{:.4},{:.4}",
            m[0],
            m[1],
            m[2],
            m[0] / m[1],
            m[0] / m[2]
        );
    }
    let one = table.iter().find(|t| t.0 == "fork_join_1w");
    let many = table.iter().find(|t| t.0 == "fork_join");
    if let (Some(one), Some(many)) = (one, many) {
        let _ = writeln!(
            out,
            "\nfork_join speedup, 1 -> {} workers: weft {:.2}, tokio {:.2}, async-executor {:.2}",
            many.1,
            one.3[0] / many.3[0],
            one.3[1] / many.3[1],
            one.3[2] / many.3[2]
        );
    }
    if let Some(r) = round_speedup {
        let _ = writeln!(
            out,
            "fork_join speedup, median of per-round ratios: weft {:.2}, tokio {:.2}, async-executor {:.2}",
            r[0], r[1], r[2]
        );
    }
    print!("{out}");
    write_result("compare.csv", &csv);
    write_result("compare_details.csv", &details);
    write_result("compare_samples.csv", &raw);
}
