//! Part 1, concurrency: 10,000 tasks each sleep 100 ms on ONE worker thread.
//!
//! A sleeping task is not on the thread: its first poll registers a timer
//! (with the task's waker) and returns `Pending`, and the worker moves on to
//! the next task. Once all of them are parked, the worker blocks in the
//! event loop until the earliest deadline; the timer wheel then fires the
//! due timers, their wakers queue the tasks again, and each finishes in one
//! more poll. So the waits overlap, and the whole lot takes about one wait.

use std::io;
use std::time::{Duration, Instant};

use super::svg;
use super::ui::{self, thousands, Ui};
use super::Config;

pub fn run(config: &Config, ui: &mut Ui<'_>) -> io::Result<String> {
    let n = config.sleepers;
    let wait = config.sleep;
    ui.line(ui.header("1. Concurrency: many tasks take turns on one thread"))?;
    ui.progress(format!(
        "part 1: spawning {} sleeping tasks...",
        thousands(n as u64)
    ))?;

    let rt = super::runtime_with(1, Some(super::PART1_TRACE_EVENTS));
    let recording = super::start_trace(config, &rt);
    let metrics = rt.metrics();
    let polls_before = metrics.worker_poll_count(0);
    let driver_before = rt.driver_stats();

    let (spawned_in, alive, done_at, started) = rt.block_on(async move {
        let started = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|_| {
                weft::spawn(async move {
                    weft::time::sleep(wait).await;
                    Instant::now()
                })
            })
            .collect();
        let spawned_in = started.elapsed();
        let alive = weft::Handle::current().metrics().num_alive_tasks();
        let mut done_at = Vec::with_capacity(n);
        for h in handles {
            done_at.push(h.await.expect("a sleeping task failed"));
        }
        (spawned_in, alive, done_at, started)
    });

    let total = done_at
        .iter()
        .max()
        .map_or(Duration::ZERO, |t| *t - started);
    let polls = metrics.worker_poll_count(0) - polls_before;
    let driver = rt.driver_stats();
    let timers = driver.timers_fired - driver_before.timers_fired;
    let turns = driver.turns - driver_before.turns;
    super::write_trace(config, "concurrency", recording)?;
    drop(rt);

    let one_by_one = wait * n as u32;
    ui.line(format!(
        "   {} tasks each sleep {} on 1 worker thread.",
        thousands(n as u64),
        ui::duration(wait)
    ))?;
    ui.line(format!(
        "   one after another, that would take {} x {} = {}",
        thousands(n as u64),
        ui::duration(wait),
        ui::duration(one_by_one)
    ))?;
    ui.line(format!(
        "   measured, interleaved on one thread:   {}  ({} times less)",
        ui.num(&ui::duration(total)),
        ui.good(&thousands(
            (one_by_one.as_secs_f64() / total.as_secs_f64()).round() as u64
        )),
    ))?;
    ui.line(format!(
        "   {} tasks were alive at once; spawning them took {}.",
        ui.num(&thousands(alive as u64)),
        ui::duration(spawned_in)
    ))?;
    ui.line(format!(
        "   The worker polled {} times (about 2 per task), and its event loop",
        ui.num(&thousands(polls))
    ))?;
    ui.line(format!(
        "   fired {} timers in {} turns.",
        ui.num(&thousands(timers)),
        ui.num(&thousands(turns))
    ))?;
    ui.line(ui.dim("   A sleeping task is a parked future, not a blocked thread: while it"))?;
    ui.line(ui.dim("   waits, the same thread runs the others. That is concurrency."))?;

    // The plot: how many tasks had finished by each instant.
    let mut ends: Vec<f64> = done_at
        .iter()
        .map(|t| (*t - started).as_secs_f64() * 1e3)
        .collect();
    ends.sort_by(f64::total_cmp);
    let step = (ends.len() / 200).max(1);
    let mut points = vec![(0.0, 0.0)];
    let mut last = 0.0;
    for (i, t) in ends.iter().enumerate().step_by(step) {
        points.push((*t, last));
        points.push((*t, i as f64 + 1.0));
        last = i as f64 + 1.0;
    }
    if let Some(t) = ends.last() {
        points.push((*t, ends.len() as f64));
    }
    let x_max = ends.last().copied().unwrap_or(1.0) * 1.1;
    Ok(svg::line_chart(&svg::LineChart {
        title: &format!(
            "{} tasks sleeping {} each, on 1 worker thread",
            thousands(n as u64),
            ui::duration(wait)
        ),
        x_label: "time since the first spawn (ms)",
        y_label: "tasks finished",
        x_min: 0.0,
        x_max,
        y_max: n as f64,
        x_ticks: None,
        x_marker: Some((wait.as_secs_f64() * 1e3, "one sleep")),
        note: None,
        series: vec![svg::Series {
            name: "finished",
            color: "#1f77b4",
            dashed: false,
            points,
            ranges: Vec::new(),
        }],
    }))
}
