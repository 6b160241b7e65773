//! Part 3, work stealing: one task spawns every task, on its own worker.
//!
//! A task spawned from a worker goes into that worker's own run queue (its
//! LIFO slot first), and a parked peer is woken to look for work. The peers'
//! queues are empty, so they steal: each takes a batch (about half of a
//! victim's queue, at most 32 tasks) and runs it. The counters come from
//! `rt.metrics()`, read after the job: tasks queued on, polled by and
//! stolen by each worker.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_channel::oneshot;

use super::svg;
use super::ui::{self, thousands, Ui};
use super::work::{self, Calibration};
use super::Config;

/// Columns of the bar at the end of each row.
const BAR: usize = 24;

struct WorkerRow {
    queued: u64,
    polled: u64,
    stolen: u64,
    steals: u64,
    busy: Duration,
}

pub fn run(config: &Config, calibration: &Calibration, ui: &mut Ui<'_>) -> io::Result<String> {
    let workers = config.max_workers.max(2);
    let tasks = config.steal_tasks;
    let rounds = calibration.rounds_for(config.steal_total / tasks as u32);

    ui.line(ui.header("3. Work stealing: idle workers take work from a busy one"))?;
    ui.line(format!(
        "   One task spawns {tasks} CPU-bound tasks (~{} of work), all into its",
        ui::duration(config.steal_total)
    ))?;
    ui.line(format!(
        "   own worker's queue; {} with nothing to do.",
        if workers == 2 {
            "the other worker starts".to_string()
        } else {
            format!("the other {} workers start", workers - 1)
        }
    ))?;
    if config.max_workers < 2 {
        ui.line(ui.dim("   (Stealing needs two workers, so this part uses two.)"))?;
    }
    ui.progress(format!("part 3: {tasks} tasks on {workers} workers..."))?;

    let rt = super::runtime(workers);
    let recording = super::start_trace(config, &rt);
    let started = Instant::now();
    let cpu_time = rt.block_on(async move {
        // The spawner runs as a task, so its spawns go to its own worker.
        let spawner = weft::spawn(async move {
            // The children report to one channel rather than through their
            // join handles, so the spawner is woken once, not once per child.
            let remaining = Arc::new(AtomicUsize::new(tasks));
            let cpu_ns = Arc::new(AtomicU64::new(0));
            let (done_tx, done_rx) = oneshot::channel::<()>();
            let done_tx = Arc::new(Mutex::new(Some(done_tx)));
            for i in 0..tasks {
                let (remaining, cpu_ns, done_tx) =
                    (remaining.clone(), cpu_ns.clone(), done_tx.clone());
                // Detached: dropping a JoinHandle does not cancel the task.
                drop(weft::spawn(async move {
                    let t = Instant::now();
                    work::crunch(i as u64, rounds);
                    cpu_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                    if remaining.fetch_sub(1, AcqRel) == 1 {
                        if let Some(tx) = done_tx.lock().unwrap().take() {
                            let _ = tx.send(());
                        }
                    }
                }));
            }
            done_rx.await.expect("the last task reports");
            Duration::from_nanos(cpu_ns.load(Relaxed))
        });
        spawner.await.expect("the spawning task failed")
    });
    let wall = started.elapsed();
    // Busy time is added up when a worker parks; let them all park first.
    std::thread::sleep(Duration::from_millis(20));

    let timeline = super::write_trace(config, "stealing", recording)?;

    let m = rt.metrics();
    let rows: Vec<WorkerRow> = (0..workers)
        .map(|i| WorkerRow {
            queued: m.worker_local_schedule_count(i),
            polled: m.worker_poll_count(i),
            stolen: m.worker_steal_count(i),
            steals: m.worker_steal_operations(i),
            busy: m.worker_total_busy_duration(i),
        })
        .collect();
    drop(rt);

    ui.blank()?;
    ui.line(format!(
        "   {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {:>8}  {}",
        "worker", "queued", "polled", "stolen", "steals", "busy", "tasks polled"
    ))?;
    let most = rows.iter().map(|r| r.polled).max().unwrap_or(1).max(1);
    for (i, r) in rows.iter().enumerate() {
        let filled = (r.polled as f64 / most as f64 * BAR as f64).round() as usize;
        ui.line(format!(
            "   {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {:>8}  {}",
            i,
            thousands(r.queued),
            thousands(r.polled),
            thousands(r.stolen),
            thousands(r.steals),
            ui::ms(r.busy),
            ui.bar(filled, 0),
        ))?;
    }
    ui.blank()?;

    // The spawner's worker is the one that queued the most tasks.
    let (home, home_row) = rows
        .iter()
        .enumerate()
        .max_by_key(|(_, r)| r.queued)
        .expect("at least two workers");
    let others = || rows.iter().enumerate().filter(|(i, _)| *i != home);
    let stolen: u64 = others().map(|(_, r)| r.stolen).sum();
    let steals: u64 = others().map(|(_, r)| r.steals).sum();
    let polled_elsewhere: u64 = others().map(|(_, r)| r.polled).sum();
    let them = if workers == 2 {
        "The other worker"
    } else {
        "The others"
    };
    ui.line(format!(
        "   Worker {home} ran the spawner and queued {} tasks. {them} stole",
        ui.num(&thousands(home_row.queued))
    ))?;
    ui.line(format!(
        "   {} tasks in {} batches, and made {} of the {} polls.",
        ui.num(&thousands(stolen)),
        ui.num(&thousands(steals)),
        ui.num(&thousands(polled_elsewhere)),
        thousands(rows.iter().map(|r| r.polled).sum())
    ))?;
    ui.line(format!(
        "   The tasks took {} in all, each timed from start to end, and were",
        ui::ms(cpu_time)
    ))?;
    ui.line(format!(
        "   done {} after the first spawn: {} of them in progress at once.",
        ui::ms(wall),
        ui.good(&format!(
            "{:.2}",
            cpu_time.as_secs_f64() / wall.as_secs_f64()
        ))
    ))?;
    ui.line(ui.dim("   queued: tasks pushed on the worker's own queue (spawned or woken"))?;
    ui.line(ui.dim("   there); stolen: tasks it took from other queues (one can move twice)."))?;
    if let Some(html) = timeline {
        ui.line("   The timeline (steals are the red arrows), to open in a browser:")?;
        ui.line(format!("     {}", html.display()))?;
        ui.line(ui.dim("   Each part's is beside it, as .html and as .json for Perfetto."))?;
    }

    let labels: Vec<String> = (0..workers).map(|i| format!("worker {i}")).collect();
    Ok(svg::bar_chart(&svg::BarChart {
        title: &format!("{tasks} tasks spawned on one worker, {workers} workers"),
        y_label: "tasks",
        labels: &labels,
        series: &[
            (
                "queued",
                "#1f77b4",
                rows.iter().map(|r| r.queued as f64).collect(),
            ),
            (
                "polled",
                "#2ca02c",
                rows.iter().map(|r| r.polled as f64).collect(),
            ),
            (
                "stolen",
                "#ff7f0e",
                rows.iter().map(|r| r.stolen as f64).collect(),
            ),
        ],
    }))
}
