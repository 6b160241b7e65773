//! How weft, tokio and async-executor scale across cores.
//!
//! **These benchmarks are regression tests**: a weft speedup curve that
//! drops between two runs on the same machine is a scheduler regression.
//! CI only builds this file. docs/benchmarks.md records a run.
//!
//! ```text
//! cargo bench --bench scaling
//! WEFT_SCALING_WORKERS=1,2,4,8 cargo bench --bench scaling   # choose the points
//! ```
//!
//! For every worker count in 1..=N, 2N and 4N (N = available parallelism),
//! each runtime runs two workloads (every round visits every worker count,
//! so noise that comes and goes hits all points alike). The 2N and 4N
//! points are *oversubscribed*: more workers than CPUs, so workers share
//! cores and the OS scheduler preempts them, as on a machine whose runtime
//! was sized for more cores than its container gets. There the ideal is a
//! flat line at N, and the question is how much a runtime loses to
//! preempted searchers, wake-ups of workers that have no core to run on
//! and stolen work left behind by a descheduled worker. Every printed row
//! with more workers than CPUs says so ("2N, oversubscribed"), and the CSV
//! has an `oversubscribed` column.
//!
//!
//! - `fork_join`: recursive parallel fib(38), spawning above a cutoff of 22
//!   (CPU-bound, about 2,600 tasks);
//! - `mixed`: 64 parent tasks, each spawning 200 children that compute
//!   fib(18), yield once and return; the parents await their children.
//!
//! Speedup at `w` workers is the runtime's own median at 1 worker over its
//! median at `w`. Results go to `target/bench-results/scaling.csv` and
//! `scaling.svg` (speedup against workers, with the ideal line
//! `min(w, N)`). Then a per-worker view of weft: all work spawned from one
//! task, the tasks each worker polled and stole (`per_worker.csv`).
//!
//! Environment: `WEFT_SCALING_WORKERS` (comma-separated list),
//! `WEFT_SCALING_SAMPLES` (default 7, 3 with `WEFT_BENCH_QUICK=1`),
//! `WEFT_BENCH_OUT`.

mod common;

use common::{
    env_or, fib_par, fib_seq, fmt_secs, median, quick, write_result, AsyncExecutor, Owned, Rt,
    Tokio, Weft, FIB_CUTOFF, FIB_N, FIB_RESULT,
};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const MIXED_PARENTS: usize = 64;
const MIXED_CHILDREN: usize = 200;
const MIXED_WORK: u32 = 18;
/// Per-worker view: tasks spawned from one task, and the work in each.
const SPREAD_TASKS: usize = 10_000;
const SPREAD_WORK: u32 = 20;

const WORKLOADS: [&str; 2] = ["fork_join", "mixed"];
const NAMES: [&str; 3] = [Weft::NAME, Tokio::NAME, AsyncExecutor::NAME];
const COLORS: [&str; 3] = ["#d62728", "#1f77b4", "#2ca02c"];

fn fork_join<R: Rt>(rt: &R) -> Duration {
    let start = Instant::now();
    let v = rt.block_on(rt.spawn(fib_par(rt.clone(), FIB_N, FIB_CUTOFF)));
    let d = start.elapsed();
    assert_eq!(v, FIB_RESULT);
    d
}

fn mixed<R: Rt>(rt: &R) -> Duration {
    let h = rt.clone();
    let start = Instant::now();
    let total = rt.block_on(rt.spawn(async move {
        let parents: Vec<_> = (0..MIXED_PARENTS)
            .map(|_| {
                let h2 = h.clone();
                h.spawn(async move {
                    let children: Vec<_> = (0..MIXED_CHILDREN)
                        .map(|_| {
                            h2.spawn(async {
                                let v = fib_seq(std::hint::black_box(MIXED_WORK));
                                R::yield_now().await;
                                v
                            })
                        })
                        .collect();
                    let mut sum = 0;
                    for c in children {
                        sum += c.await;
                    }
                    sum
                })
            })
            .collect();
        let mut sum = 0;
        for p in parents {
            sum += p.await;
        }
        sum
    }));
    let d = start.elapsed();
    assert_eq!(
        total,
        fib_seq(MIXED_WORK) * (MIXED_PARENTS * MIXED_CHILDREN) as u64
    );
    d
}

fn run<R: Rt>(workload: &str, rt: &R) -> f64 {
    match workload {
        "fork_join" => fork_join(rt),
        _ => mixed(rt),
    }
    .as_secs_f64()
}

type Trio = (Owned<Weft>, Owned<Tokio>, Owned<AsyncExecutor>);

fn run_which(which: usize, workload: &str, t: &Trio) -> f64 {
    match which {
        0 => run(workload, &*t.0),
        1 => run(workload, &*t.1),
        _ => run(workload, &*t.2),
    }
}

/// The worker counts to measure: `WEFT_SCALING_WORKERS`, else 1..=N, 2N and
/// 4N (the last two oversubscribed).
fn worker_counts(n: usize) -> Vec<usize> {
    if let Ok(list) = std::env::var("WEFT_SCALING_WORKERS") {
        let mut v: Vec<usize> = list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("WEFT_SCALING_WORKERS: a list of numbers")
            })
            .collect();
        if !v.contains(&1) {
            v.push(1); // speedups are relative to one worker
        }
        v.sort_unstable();
        v.dedup();
        return v;
    }
    let mut v: Vec<usize> = (1..=n).collect();
    v.push(2 * n);
    v.push(4 * n);
    v.dedup(); // n = 1: 1, 2, 4
    v
}

/// A worker count as printed: `w`, and past the CPU count how far past
/// (`"8 (4N, oversubscribed)"`), so that no one reads an oversubscribed
/// row as a point on the speedup curve.
fn point_label(w: usize, n: usize) -> String {
    if w <= n {
        w.to_string()
    } else if w % n == 0 {
        format!("{w} ({}N, oversubscribed)", w / n)
    } else {
        format!("{w} (oversubscribed)")
    }
}

fn main() {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let samples: usize = env_or("WEFT_SCALING_SAMPLES", if quick() { 3 } else { 7 }).max(1);
    let counts = worker_counts(n);
    let over: Vec<usize> = counts.iter().copied().filter(|&w| w > n).collect();
    println!(
        "weft scaling: workers {counts:?} (N = {n} CPUs; oversubscribed: {over:?}), \
         {samples} samples, {}",
        common::machine()
    );

    // Every round measures every worker count, so noise that comes and goes
    // on a shared machine hits all points alike instead of skewing the
    // speedups. The runtimes of all points stay alive across rounds when
    // their threads are few; on a big machine they are rebuilt (and warmed
    // up again) every round instead.
    let total_threads: usize = counts.iter().map(|w| 3 * w).sum();
    let keep = total_threads <= 512;
    let mut kept: Vec<Option<Trio>> = counts.iter().map(|_| None).collect();
    // got[workload][runtime][point]: samples.
    let mut got = vec![vec![vec![Vec::new(); counts.len()]; 3]; WORKLOADS.len()];
    for round in 0..samples {
        for (p, &w) in counts.iter().enumerate() {
            let fresh = kept[p].is_none();
            let trio = kept[p]
                .take()
                .unwrap_or_else(|| (Weft::build(w), Tokio::build(w), AsyncExecutor::build(w)));
            for (k, workload) in WORKLOADS.iter().enumerate() {
                if fresh {
                    for which in 0..3 {
                        run_which(which, workload, &trio); // warm-up
                    }
                }
                for j in 0..3 {
                    let which = (round + p + j) % 3;
                    got[k][which][p].push(run_which(which, workload, &trio));
                }
            }
            if keep {
                kept[p] = Some(trio);
            }
        }
    }
    drop(kept);

    // medians[workload][runtime][point]
    let mut medians = vec![vec![vec![f64::NAN; counts.len()]; 3]; WORKLOADS.len()];
    for (k, workload) in WORKLOADS.iter().enumerate() {
        for (p, &w) in counts.iter().enumerate() {
            for which in 0..3 {
                medians[k][which][p] = median(&got[k][which][p]);
            }
            println!(
                "  {:>24} workers  {workload:<9}  weft {}  tokio {}  async-executor {}",
                point_label(w, n),
                fmt_secs(medians[k][0][p]),
                fmt_secs(medians[k][1][p]),
                fmt_secs(medians[k][2][p])
            );
        }
    }

    let base = counts
        .iter()
        .position(|&w| w == 1)
        .expect("1 worker is measured");
    let mut csv = String::from("workload,workers,runtime,median_s,speedup,oversubscribed\n");
    let mut table = String::from(
        "\n| workload | workers | weft | tokio | async-executor |\n|---|---:|---:|---:|---:|\n",
    );
    for (k, workload) in WORKLOADS.iter().enumerate() {
        for (p, &w) in counts.iter().enumerate() {
            let mut row = format!("| {workload} | {} |", point_label(w, n));
            for which in 0..3 {
                let m = medians[k][which][p];
                let speedup = medians[k][which][base] / m;
                let _ = writeln!(
                    csv,
                    "{workload},{w},{},{m:.9},{speedup:.4},{}",
                    NAMES[which],
                    w > n
                );
                let _ = write!(row, " {} (x{speedup:.2}) |", fmt_secs(m));
            }
            table.push_str(&row);
            table.push('\n');
        }
    }
    println!(
        "{table}(median time, speedup over the same runtime at 1 worker in parentheses; \
         rows past N = {n} CPUs are oversubscribed: the ideal there is x{n}, not the worker count)"
    );
    write_result("scaling.csv", &csv);
    write_result("scaling.svg", &svg(&counts, n, &medians, base));

    per_worker(n);
}

/// weft's per-worker view: every task spawned from one task, so all work
/// starts on one worker; the others get it by stealing from that worker's
/// queue or, once the queue passes its capacity and overflows, from the
/// injector.
fn per_worker(n: usize) {
    let workers = n.max(2);
    let rt = Weft::build(workers);
    let m = rt.handle.0.metrics();
    let snapshot = |i: usize| {
        [
            m.worker_poll_count(i),
            m.worker_steal_count(i),
            m.worker_steal_operations(i),
            m.worker_overflow_count(i),
            m.worker_lifo_hits(i),
        ]
    };
    let before: Vec<_> = (0..workers).map(snapshot).collect();
    let h = rt.handle.clone();
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        let tasks: Vec<_> = (0..SPREAD_TASKS)
            .map(|_| h.spawn(async { fib_seq(std::hint::black_box(SPREAD_WORK)) }))
            .collect();
        for t in tasks {
            t.await;
        }
    }));
    let took = start.elapsed();
    let after: Vec<_> = (0..workers).map(snapshot).collect();
    println!(
        "\nweft per worker: {SPREAD_TASKS} tasks of fib({SPREAD_WORK}) spawned from one task \
         (polls include the spawning task's), {workers} workers, {}",
        fmt_secs(took.as_secs_f64())
    );
    println!(
        "| worker | tasks polled | tasks stolen | steal operations | overflows to injector | LIFO hits |\n\
         |---:|---:|---:|---:|---:|---:|"
    );
    let mut csv = String::from("worker,polled,stolen,steal_operations,overflows,lifo_hits\n");
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let d: Vec<u64> = a.iter().zip(b).map(|(a, b)| a - b).collect();
        println!(
            "| {i} | {} | {} | {} | {} | {} |",
            d[0], d[1], d[2], d[3], d[4]
        );
        let _ = writeln!(csv, "{i},{},{},{},{},{}", d[0], d[1], d[2], d[3], d[4]);
    }
    write_result("per_worker.csv", &csv);
}

/// Speedup against workers, one panel per workload, drawn by hand.
fn svg(counts: &[usize], n: usize, medians: &[Vec<Vec<f64>>], base: usize) -> String {
    let (pw, ph) = (420.0, 340.0); // panel size
    let (ml, mr, mt, mb) = (55.0, 30.0, 40.0, 70.0); // margins inside a panel
    let width = pw * WORKLOADS.len() as f64;
    let height = ph + 10.0;
    let max_x = *counts.last().unwrap() as f64;
    let mut max_y = n as f64;
    for k in medians {
        for r in k {
            for m in r {
                let s = r[base] / m;
                if s.is_finite() {
                    max_y = max_y.max(s);
                }
            }
        }
    }
    let max_y = (max_y * 1.1).ceil();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (k, workload) in WORKLOADS.iter().enumerate() {
        let x0 = k as f64 * pw;
        let (left, right, top, bottom) = (x0 + ml, x0 + pw - mr, mt, ph - mb + 0.0);
        let sx = |x: f64| left + (x - 1.0).max(0.0) / (max_x - 1.0).max(1.0) * (right - left);
        let sy = |y: f64| bottom - y / max_y * (bottom - top);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="14" font-weight="bold">{workload}: speedup vs workers</text>"#,
            (left + right) / 2.0
        );
        // The oversubscribed region (more workers than CPUs), shaded first
        // so that the grid and the curves are drawn over it.
        if max_x > n as f64 {
            let x = sx(n as f64);
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{top}" width="{}" height="{}" fill="#f2f2f2"/><text x="{}" y="{}" text-anchor="middle" fill="#666">oversubscribed</text>"##,
                right - x,
                bottom - top,
                (x + right) / 2.0,
                top + 14.0
            );
        }
        // Axes, grid and ticks.
        let _ = writeln!(
            s,
            r#"<path d="M{left},{top} V{bottom} H{right}" stroke="black" fill="none"/>"#
        );
        let y_step = if max_y <= 8.0 {
            1.0
        } else {
            (max_y / 8.0).ceil()
        };
        let mut y = 0.0;
        while y <= max_y + 1e-9 {
            let py = sy(y);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{py}" x2="{right}" y2="{py}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{y}</text>"##,
                left - 5.0,
                py + 4.0
            );
            y += y_step;
        }
        // Ticks at least 28 px apart; the last point always gets one.
        let mut ticks: Vec<(f64, usize)> = Vec::new();
        for &w in counts {
            let px = sx(w as f64);
            if ticks.last().is_none_or(|&(last, _)| px - last >= 28.0) {
                ticks.push((px, w));
            }
        }
        let last = *counts.last().unwrap();
        if ticks.last().is_some_and(|&(_, w)| w != last) {
            let px = sx(last as f64);
            if ticks.last().is_some_and(|&(p, _)| px - p < 28.0) {
                ticks.pop();
            }
            ticks.push((px, last));
        }
        for (px, w) in ticks {
            let _ = writeln!(
                s,
                r#"<line x1="{px}" y1="{bottom}" x2="{px}" y2="{}" stroke="black"/><text x="{px}" y="{}" text-anchor="middle">{w}</text>"#,
                bottom + 4.0,
                bottom + 17.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">worker threads ({n} CPUs)</text>"#,
            (left + right) / 2.0,
            bottom + 34.0
        );
        // weft last, so it is drawn on top where the curves overlap.
        for which in [2, 1, 0] {
            let pts: Vec<String> = counts
                .iter()
                .enumerate()
                .map(|(p, &w)| {
                    let sp = medians[k][which][base] / medians[k][which][p];
                    format!("{:.1},{:.1}", sx(w as f64), sy(sp))
                })
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" stroke="{}" stroke-width="2" fill="none"/>"#,
                pts.join(" "),
                COLORS[which]
            );
            for pt in &pts {
                let (px, py) = pt.split_once(',').unwrap();
                let _ = writeln!(
                    s,
                    r#"<circle cx="{px}" cy="{py}" r="3" fill="{}"/>"#,
                    COLORS[which]
                );
            }
        }
        // The ideal, on top (dashed, so the curves show through): linear up
        // to the number of CPUs, flat after.
        let mut d = format!("M{},{}", sx(1.0), sy(1.0));
        let _ = write!(d, " L{},{}", sx(n as f64), sy(n as f64));
        if max_x > n as f64 {
            let _ = write!(d, " L{},{}", sx(max_x), sy(n as f64));
        }
        let _ = writeln!(
            s,
            r##"<path d="{d}" stroke="#888" stroke-dasharray="5,4" fill="none"/>"##
        );
        // Legend.
        let entries = [
            (NAMES[0], COLORS[0]),
            (NAMES[1], COLORS[1]),
            (NAMES[2], COLORS[2]),
            ("ideal", "#888"),
        ];
        for (i, (name, color)) in entries.iter().enumerate() {
            // One row under the axis title, out of the curves' way.
            let offsets = [0.0, 65.0, 135.0, 265.0];
            let (lx, ly) = (left + offsets[i], bottom + 52.0);
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{name}</text>"#,
                lx + 18.0,
                lx + 22.0,
                ly + 4.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
