//! Part 2, parallelism: the same jobs at 1, 2, ..., N worker threads.
//!
//! The CPU-bound job is split into tasks that never wait; it is only done
//! when every round of work has run on some core, so the only way to finish
//! sooner is to run tasks at the same instant on several cores: parallelism.
//! The I/O-bound job has as many tasks, each waiting on a timer; one worker
//! already overlaps all of the waits (part 1), so extra workers find nothing
//! to do.

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use super::svg;
use super::ui::{self, Ui};
use super::work::{self, Calibration};
use super::Config;

/// Columns of the bar at the end of each row.
const BAR: usize = 28;

struct Row {
    workers: usize,
    cpu: Duration,
    io: Duration,
}

/// The worker counts to measure: all of 1..=max when that is a short list,
/// else the powers of two and `max` itself.
fn worker_counts(max: usize) -> Vec<usize> {
    if max <= 8 {
        return (1..=max).collect();
    }
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n < max)
        .collect();
    counts.push(max);
    counts
}

fn cpu_job(rt: &weft::Runtime, tasks: usize, rounds: u64) -> Duration {
    let started = Instant::now();
    let sum = rt.block_on(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|i| weft::spawn(async move { work::crunch(i as u64, rounds) }))
            .collect();
        let mut sum = 0u64;
        for h in handles {
            sum = sum.wrapping_add(h.await.expect("a CPU task failed"));
        }
        sum
    });
    black_box(sum);
    started.elapsed()
}

fn io_job(rt: &weft::Runtime, tasks: usize, wait: Duration) -> Duration {
    let started = Instant::now();
    rt.block_on(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|_| weft::spawn(weft::time::sleep(wait)))
            .collect();
        for h in handles {
            h.await.expect("a waiting task failed");
        }
    });
    started.elapsed()
}

pub fn run(config: &Config, calibration: &Calibration, ui: &mut Ui<'_>) -> io::Result<String> {
    let tasks = config.cpu_tasks;
    let rounds = calibration.rounds_for(config.cpu_total / tasks as u32);
    let counts = worker_counts(config.max_workers);
    let max = *counts.last().expect("at least one worker count");

    ui.line(ui.header("2. Parallelism: more cores help computing, not waiting"))?;
    ui.line(format!(
        "   CPU-bound: {tasks} tasks that only compute (~{} of work in all).",
        ui::duration(config.cpu_total)
    ))?;
    ui.line(format!(
        "   I/O-bound: {tasks} tasks that each wait {} on a timer.",
        ui::duration(config.io_wait)
    ))?;
    if config.repeats > 1 {
        ui.line(format!(
            "   Each time is the best of {} runs.",
            config.repeats
        ))?;
    }
    ui.blank()?;

    // Rows are printed as they are measured; the progress line sits below.
    let scale = BAR as f64 / max as f64;
    ui.line(format!(
        "   {:>7}  {:>9}  {:>7}  {:>5}  {:>9}  {}",
        "workers", "CPU-bound", "speedup", "ideal", "I/O-bound", "speedup vs ideal"
    ))?;
    let mut rows: Vec<Row> = Vec::new();
    for &workers in &counts {
        let rt = super::runtime(workers);
        let mut cpu = Duration::MAX;
        for run in 1..=config.repeats {
            ui.progress(format!(
                "   part 2: CPU-bound job on {workers} worker(s), run {run}/{}...",
                config.repeats
            ))?;
            cpu = cpu.min(cpu_job(&rt, tasks, rounds));
        }
        ui.progress(format!(
            "   part 2: I/O-bound job on {workers} worker(s)..."
        ))?;
        let io = io_job(&rt, tasks, config.io_wait);
        drop(rt);

        let base = rows.first().map_or(cpu, |r| r.cpu).as_secs_f64();
        let speedup = base / cpu.as_secs_f64();
        let ideal = ((workers as f64 * scale).round() as usize).min(BAR);
        let filled = ((speedup * scale).round() as usize).min(BAR);
        ui.line(format!(
            "   {:>7}  {:>9}  {:>7}  {:>5}  {:>9}  {}",
            workers,
            ui::ms(cpu),
            format!("{speedup:.2}x"),
            format!("{workers}x"),
            ui::ms(io),
            ui.bar(filled, ideal.saturating_sub(filled)),
        ))?;
        rows.push(Row { workers, cpu, io });
    }
    ui.blank()?;

    let base = rows[0].cpu.as_secs_f64();
    let last = rows.last().expect("at least one row");
    let best = base / last.cpu.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if last.workers > 1 {
        ui.line(format!(
            "   CPU-bound: {} workers finished {} faster than one (ideal {}x).",
            last.workers,
            ui.good(&format!("{best:.2}x")),
            last.workers
        ))?;
    }
    let io_min = rows.iter().map(|r| r.io).min().unwrap_or_default();
    let io_max = rows.iter().map(|r| r.io).max().unwrap_or_default();
    let io_range = if ui::ms(io_min) == ui::ms(io_max) {
        ui::ms(io_min)
    } else {
        format!("{} to {}", ui::ms(io_min), ui::ms(io_max))
    };
    ui.line(format!(
        "   I/O-bound: {io_range} at any worker count: waiting needs no core."
    ))?;
    ui.line(ui.dim("   Parallelism runs tasks at the same instant on several cores, and"))?;
    ui.line(ui.dim("   shortens computing. Concurrency overlaps waiting; one core will do."))?;
    if last.workers > cores {
        ui.line(ui.dim(&format!(
            "   This machine has {cores} core(s): past that, workers take turns."
        )))?;
    }

    let points = |f: &dyn Fn(&Row) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.workers as f64, f(r))).collect()
    };
    let io_base = rows[0].io.as_secs_f64();
    let y_max = rows
        .iter()
        .map(|r| base / r.cpu.as_secs_f64())
        .fold(max as f64, f64::max);
    Ok(svg::line_chart(&svg::LineChart {
        title: &format!("Speedup at 1..{max} workers ({tasks} tasks)"),
        x_label: "worker threads",
        y_label: "speedup over 1 worker",
        x_min: 1.0,
        x_max: max as f64,
        y_max: y_max.ceil(),
        x_ticks: Some(counts.iter().map(|&w| w as f64).collect()),
        x_marker: None,
        series: vec![
            svg::Series {
                name: "ideal",
                color: "#999999",
                dashed: true,
                points: points(&|r| r.workers as f64),
            },
            svg::Series {
                name: "CPU-bound",
                color: "#2ca02c",
                dashed: false,
                points: points(&|r| base / r.cpu.as_secs_f64()),
            },
            svg::Series {
                name: "I/O-bound",
                color: "#1f77b4",
                dashed: false,
                points: points(&|r| io_base / r.io.as_secs_f64()),
            },
        ],
    }))
}
