//! Part 2, parallelism: the same jobs at 1, 2, ..., N worker threads.
//!
//! The CPU-bound job is split into tasks that never wait; it is only done
//! when every round of work has run on some core, so the only way to finish
//! sooner is to run tasks at the same instant on several cores: parallelism.
//! The I/O-bound job has as many tasks, each waiting on a timer; one worker
//! already overlaps all of the waits (part 1), so extra workers find nothing
//! to do.
//!
//! How it measures, so that a busy machine cannot fake a result:
//! - One runtime per worker count, all built first; the runs are
//!   interleaved (1, 2, .., N, then N, .., 1, and so on, `repeats` rounds),
//!   so that a burst of outside load falls on every count alike, and each
//!   round's speedup compares runs made moments apart.
//! - Around each CPU-bound run, the workers' own CPU time (`cpu.rs`): over
//!   the wall time it says how many cores computed at once. Other programs
//!   cannot raise it, only lower it, and a lowered one is what makes a
//!   speedup lie (`verdict.rs` decides when).
//! - Medians, with the lowest and highest speedup seen; a warning with the
//!   load average instead of the conclusion when the machine was too busy.

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use super::cpu::{self, WorkerIds};
use super::svg;
use super::ui::{self, Ui};
use super::verdict::{self, Measured, Spread, Verdict};
use super::work::{self, Calibration};
use super::Config;

/// Cells of the "cores busy" bar: the widest that keeps a row in 80 columns.
const BAR: usize = 18;

/// How long to wait for a new runtime's workers to say who they are.
const START_LIMIT: Duration = Duration::from_secs(5);

/// A runtime and the thread ids of its workers (`None`: not readable here).
struct Pool {
    workers: usize,
    rt: weft::Runtime,
    tids: Option<Vec<u32>>,
}

impl Pool {
    fn new(workers: usize) -> Pool {
        let ids = WorkerIds::default();
        let hook = ids.clone();
        let rt = weft::Runtime::builder()
            .worker_threads(workers)
            .thread_name("weft-demo")
            .on_thread_start(move || hook.register_current())
            .build()
            .expect("could not start a weft runtime");
        let tids = ids.wait_for(workers, START_LIMIT);
        Pool { workers, rt, tids }
    }

    fn cpu_time(&self) -> Option<Duration> {
        cpu::total_cpu_time(self.tids.as_deref()?)
    }
}

/// One CPU-bound run: its wall time, and the cores its workers kept busy.
struct Run {
    wall: Duration,
    cores_busy: Option<f64>,
}

/// Everything measured at one worker count, one entry per round.
struct Samples {
    workers: usize,
    cpu: Vec<Run>,
    io: Vec<Duration>,
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

fn cpu_job(pool: &Pool, tasks: usize, rounds: u64) -> Run {
    // The workers are idle here (their runtime has had nothing to do since
    // its last run), so their CPU clocks are up to date.
    let before = pool.cpu_time();
    let started = Instant::now();
    let sum = pool.rt.block_on(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|i| weft::spawn(async move { work::crunch(i as u64, rounds) }))
            .collect();
        let mut sum = 0u64;
        for h in handles {
            sum = sum.wrapping_add(h.await.expect("a CPU task failed"));
        }
        sum
    });
    let wall = started.elapsed();
    let after = pool.cpu_time();
    black_box(sum);
    let cores_busy = match (before, after) {
        (Some(before), Some(after)) => {
            Some(after.saturating_sub(before).as_secs_f64() / wall.as_secs_f64())
        }
        _ => None,
    };
    Run { wall, cores_busy }
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

/// The median wall time of some CPU-bound runs, in seconds.
fn median_secs(runs: &[Run]) -> f64 {
    let secs: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
    Spread::of(&secs).map_or(f64::NAN, |s| s.median)
}

fn median_duration(samples: &[Duration]) -> Duration {
    let secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    Spread::of(&secs).map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.median))
}

/// `1.93` or `12.4`: three significant digits.
fn ratio(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn max_load(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

pub fn run(config: &Config, calibration: &Calibration, ui: &mut Ui<'_>) -> io::Result<String> {
    let tasks = config.cpu_tasks;
    let rounds = calibration.rounds_for(config.cpu_total / tasks as u32);
    let counts = worker_counts(config.max_workers);
    let max = *counts.last().expect("at least one worker count");
    let repeats = config.repeats.max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    ui.line(ui.header("2. Parallelism: more cores help computing, not waiting"))?;
    ui.line(format!(
        "   CPU-bound: {tasks} tasks that only compute (~{} of work in all).",
        ui::duration(config.cpu_total)
    ))?;
    ui.line(format!(
        "   I/O-bound: {tasks} tasks that each wait {} on a timer.",
        ui::duration(config.io_wait)
    ))?;
    let schedule = if counts.len() == 1 {
        format!("{repeats} runs")
    } else {
        format!(
            "{} interleaved (1..{max}, {max}..1, ...)",
            plural(repeats, "round", "rounds")
        )
    };
    ui.line(format!(
        "   {schedule}; medians, and the range of speedups."
    ))?;
    ui.line("   Cores busy: the workers' CPU time over the wall time; ideal: one per")?;
    ui.line(format!(
        "   worker, up to the {}.",
        plural(cores, "core", "cores")
    ))?;
    ui.blank()?;

    let load_before = cpu::load_average();
    let pools: Vec<Pool> = counts.iter().map(|&w| Pool::new(w)).collect();
    let mut samples: Vec<Samples> = counts
        .iter()
        .map(|&workers| Samples {
            workers,
            cpu: Vec::with_capacity(repeats),
            io: Vec::with_capacity(repeats),
        })
        .collect();
    for round in 0..repeats {
        // Up, then down: what drifts over the part (the CPU's clock, a
        // build starting) weighs on every count alike.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..pools.len()).collect()
        } else {
            (0..pools.len()).rev().collect()
        };
        for &i in &order {
            ui.progress(format!(
                "   part 2: round {}/{repeats}, CPU-bound job on {}...",
                round + 1,
                plural(pools[i].workers, "worker", "workers")
            ))?;
            // The first round's run on the most workers is the trace.
            let traced = round == 0 && i + 1 == pools.len();
            let recording = traced
                .then(|| super::start_trace(config, &pools[i].rt))
                .flatten();
            let run = cpu_job(&pools[i], tasks, rounds);
            super::write_trace(config, "parallelism", recording)?;
            samples[i].cpu.push(run);
        }
        for &i in &order {
            ui.progress(format!(
                "   part 2: round {}/{repeats}, I/O-bound job on {}...",
                round + 1,
                plural(pools[i].workers, "worker", "workers")
            ))?;
            let io = io_job(&pools[i].rt, tasks, config.io_wait);
            samples[i].io.push(io);
        }
    }
    drop(pools);
    let load = max_load(load_before, cpu::load_average());

    // The speedup is the one-worker median time over this count's, so the
    // table's columns agree; its range is that of the per-round ratios
    // (each round's runs were made moments apart).
    let base: Vec<f64> = samples[0]
        .cpu
        .iter()
        .map(|r| r.wall.as_secs_f64())
        .collect();
    let base_median = median_secs(&samples[0].cpu);
    let measured: Vec<Measured> = samples
        .iter()
        .map(|s| {
            let ratios: Vec<f64> = s
                .cpu
                .iter()
                .zip(&base)
                .map(|(r, b)| b / r.wall.as_secs_f64())
                .collect();
            let range = Spread::of(&ratios).expect("one run per round");
            let busy: Option<Vec<f64>> = s.cpu.iter().map(|r| r.cores_busy).collect();
            Measured {
                workers: s.workers,
                speedup: Spread {
                    median: base_median / median_secs(&s.cpu),
                    ..range
                },
                cores_busy: busy.and_then(|b| Spread::of(&b)),
            }
        })
        .collect();
    let verdict = verdict::assess(&measured, cores, load);

    print_table(ui, &samples, &measured, &verdict, max, cores)?;
    ui.blank()?;
    print_conclusion(ui, &samples, &measured, &verdict, cores, load)?;

    Ok(plot(
        &samples, &measured, &verdict, &counts, tasks, repeats, load,
    ))
}

fn print_table(
    ui: &mut Ui<'_>,
    samples: &[Samples],
    measured: &[Measured],
    verdict: &Verdict,
    max: usize,
    cores: usize,
) -> io::Result<()> {
    // The bar's room is the ideal, `min(workers, cores)`; the widest ideal
    // fills it.
    let scale = BAR as f64 / verdict::ideal(max, cores);
    ui.line(format!(
        "   {:>7}  {:>9}  {:>7}  {:<9}   {:<w$}  {:>9}",
        "workers",
        "CPU-bound",
        "speedup",
        "range",
        "cores busy (# of ideal)",
        "I/O-bound",
        w = 5 + BAR,
    ))?;
    for (s, m) in samples.iter().zip(measured) {
        let cpu_walls: Vec<Duration> = s.cpu.iter().map(|r| r.wall).collect();
        let mark = if verdict.above_ideal.contains(&m.workers) {
            "*"
        } else {
            ""
        };
        let range = if s.workers == 1 {
            "-".to_string()
        } else {
            format!("{}-{}", ratio(m.speedup.min), ratio(m.speedup.max))
        };
        let ideal_cells =
            ((verdict::ideal(s.workers, cores) * scale).round() as usize).clamp(1, BAR);
        let (busy, bar) = match m.cores_busy {
            Some(b) => {
                let filled = ((b.median * scale).round() as usize).min(BAR);
                (
                    ratio(b.median),
                    ui.bar(filled, ideal_cells.saturating_sub(filled)),
                )
            }
            None => ("n/a".to_string(), ui.bar(0, ideal_cells)),
        };
        let cells = ideal_cells.max(
            m.cores_busy
                .map_or(0, |b| ((b.median * scale).round() as usize).min(BAR)),
        );
        ui.line(format!(
            "   {:>7}  {:>9}  {:>7}  {:<9}   {:>4} {}{}  {:>9}",
            s.workers,
            ui::ms(median_duration(&cpu_walls)),
            format!("{}x{mark}", ratio(m.speedup.median)),
            range,
            busy,
            bar,
            " ".repeat(BAR - cells),
            ui::ms(median_duration(&s.io)),
        ))?;
    }
    Ok(())
}

fn print_conclusion(
    ui: &mut Ui<'_>,
    samples: &[Samples],
    measured: &[Measured],
    verdict: &Verdict,
    cores: usize,
    load: Option<f64>,
) -> io::Result<()> {
    let cores_text = plural(cores, "core", "cores");
    if !verdict.above_ideal.is_empty() {
        let why = match verdict.alone {
            Some(alone) if alone < verdict::STARVED => {
                format!("that worker kept only {} of its core busy", ratio(alone))
            }
            _ => "by something outside weft (another program, the CPU clock)".to_string(),
        };
        let text = format!(
            "Above the ideal, which {cores_text} cannot do: the one-worker runs \
             were slowed, {why}."
        );
        for line in ui::wrap(&text, "   * ", "     ") {
            ui.line(line)?;
        }
    }
    let load_text = match load {
        Some(l) => format!("load average {l:.2}"),
        None => "load average unknown".to_string(),
    };
    let last = measured.last().expect("at least one row");
    if verdict.busy {
        let why = if verdict.starved.is_empty() {
            "The workers' CPU time could not be read here, but by the load alone \
             other programs had the cores"
                .to_string()
        } else {
            let parts: Vec<String> = verdict
                .starved
                .iter()
                .map(|s| {
                    format!(
                        "{} of {} busy with {}",
                        ratio(s.got),
                        plural(s.could as usize, "core", "cores"),
                        plural(s.workers, "worker", "workers")
                    )
                })
                .collect();
            format!(
                "The workers kept only {}; other programs had the rest",
                parts.join(", ")
            )
        };
        let text = format!(
            "Warning: this machine is busy ({load_text}, {cores_text}). {why}. \
             The times above measure that contention, not weft's parallelism: \
             run the demo again on a quiet machine."
        );
        for line in ui::wrap(&text, "   ! ", "     ") {
            ui.line(ui.bad(&line))?;
        }
    } else if last.workers > 1 {
        ui.line(format!(
            "   CPU-bound: {} workers finished {} faster than one (ideal {}x).",
            last.workers,
            ui.good(&format!("{}x", ratio(last.speedup.median))),
            verdict::ideal(last.workers, cores),
        ))?;
        if let Some(b) = last.cores_busy {
            ui.line(format!(
                "   They kept {} cores busy at once (median).",
                ratio(b.median)
            ))?;
        }
        ui.line(ui.dim(&format!("   Measured with {load_text} on {cores_text}.")))?;
    }
    let io: Vec<Duration> = samples.iter().map(|s| median_duration(&s.io)).collect();
    let io_min = io.iter().copied().min().unwrap_or_default();
    let io_max = io.iter().copied().max().unwrap_or_default();
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
            "   This machine has {cores_text}: past that, workers take turns."
        )))?;
    }
    Ok(())
}

fn plot(
    samples: &[Samples],
    measured: &[Measured],
    verdict: &Verdict,
    counts: &[usize],
    tasks: usize,
    repeats: usize,
    load: Option<f64>,
) -> String {
    let max = *counts.last().expect("at least one worker count");
    let io_base = median_duration(&samples[0].io).as_secs_f64();
    let x = |m: &Measured| m.workers as f64;
    let y_max = measured
        .iter()
        .flat_map(|m| [m.speedup.max, m.cores_busy.map_or(0.0, |b| b.max)])
        .chain(
            samples
                .iter()
                .map(|s| io_base / median_duration(&s.io).as_secs_f64()),
        )
        .fold(max as f64, f64::max);
    let note = verdict.busy.then(|| match load {
        Some(l) => format!("machine busy (load average {l:.2}): these show contention"),
        None => "machine busy: these show contention".to_string(),
    });
    let title = format!("Speedup at 1..{max} workers ({tasks} tasks, medians of {repeats})");
    svg::line_chart(&svg::LineChart {
        title: &title,
        x_label: "worker threads",
        y_label: "speedup over 1 worker; cores busy",
        x_min: 1.0,
        x_max: max as f64,
        y_max: y_max.ceil(),
        x_ticks: Some(counts.iter().map(|&w| w as f64).collect()),
        x_marker: None,
        note: note.as_deref(),
        series: vec![
            svg::Series {
                name: "ideal",
                color: "#999999",
                dashed: true,
                points: measured.iter().map(|m| (x(m), x(m))).collect(),
                ranges: Vec::new(),
            },
            svg::Series {
                name: "CPU-bound speedup",
                color: "#2ca02c",
                dashed: false,
                points: measured.iter().map(|m| (x(m), m.speedup.median)).collect(),
                ranges: measured
                    .iter()
                    .map(|m| (x(m), m.speedup.min, m.speedup.max))
                    .collect(),
            },
            svg::Series {
                name: "CPU cores busy",
                color: "#ff7f0e",
                dashed: true,
                points: measured
                    .iter()
                    .filter_map(|m| Some((x(m), m.cores_busy?.median)))
                    .collect(),
                ranges: measured
                    .iter()
                    .filter_map(|m| {
                        let b = m.cores_busy?;
                        Some((x(m), b.min, b.max))
                    })
                    .collect(),
            },
            svg::Series {
                name: "I/O-bound speedup",
                color: "#1f77b4",
                dashed: false,
                points: samples
                    .iter()
                    .map(|s| {
                        let io = median_duration(&s.io).as_secs_f64();
                        (s.workers as f64, io_base / io)
                    })
                    .collect(),
                ranges: Vec::new(),
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(workers: usize, wall_ms: u64, busy: f64) -> Samples {
        Samples {
            workers,
            cpu: (0..3)
                .map(|_| Run {
                    wall: Duration::from_millis(wall_ms),
                    cores_busy: Some(busy),
                })
                .collect(),
            io: vec![Duration::from_millis(50); 3],
        }
    }

    fn measured(workers: usize, speedup: f64, busy: f64) -> Measured {
        let spread = |x: f64| Spread {
            median: x,
            min: x,
            max: x,
        };
        Measured {
            workers,
            speedup: spread(speedup),
            cores_busy: Some(spread(busy)),
        }
    }

    /// The table and the conclusion for made-up measurements.
    fn report(rows: &[(usize, u64, f64, f64)], cores: usize, load: f64) -> String {
        let samples: Vec<Samples> = rows.iter().map(|r| samples(r.0, r.1, r.3)).collect();
        let measured: Vec<Measured> = rows.iter().map(|r| measured(r.0, r.2, r.3)).collect();
        let verdict = verdict::assess(&measured, cores, Some(load));
        let mut out = Vec::new();
        {
            let mut ui = Ui::new(&mut out, false);
            let max = rows.last().unwrap().0;
            print_table(&mut ui, &samples, &measured, &verdict, max, cores).unwrap();
            print_conclusion(&mut ui, &samples, &measured, &verdict, cores, Some(load)).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= ui::COLUMNS, "too wide: {line:?}");
        }
        text
    }

    #[test]
    fn a_quiet_run_states_its_speedup() {
        let text = report(&[(1, 150, 1.0, 0.99), (2, 76, 1.97, 1.96)], 2, 0.1);
        assert!(text.contains("2 workers finished 1.97x faster than one (ideal 2x)"));
        assert!(text.contains("kept 1.96 cores busy"));
        assert!(text.contains("load average 0.10 on 2 cores"));
        assert!(!text.contains("Warning") && !text.contains('*'), "{text}");
    }

    #[test]
    fn a_busy_run_warns_and_explains_instead() {
        let text = report(&[(1, 290, 1.0, 0.52), (2, 112, 2.58, 1.34)], 2, 3.1);
        assert!(
            text.contains("2.58x*"),
            "the impossible figure is marked:\n{text}"
        );
        assert!(text.contains("* Above the ideal, which 2 cores cannot do"));
        assert!(text.contains("   ! Warning: this machine is busy (load average 3.10"));
        assert!(!text.contains("faster than one"), "{text}");
    }
}
