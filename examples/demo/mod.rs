//! The demo's logic, shared by `examples/demo.rs` (the binary) and
//! `tests/demo.rs` (which runs it in `--quick` mode and checks the shape of
//! its output).
//!
//! Four parts, one file each:
//!
//! | part | file | runtime | what it measures |
//! |---|---|---|---|
//! | 1. concurrency | `concurrency.rs` | 1 worker | 10,000 timer waits overlapping on one thread |
//! | 2. parallelism | `parallelism.rs` | 1..=N workers | a CPU-bound and an I/O-bound job: time, speedup, cores busy |
//! | 3. work stealing | `stealing.rs` | N workers (at least 2) | per-worker polls and steals from `RuntimeMetrics` |
//! | 4. event loop | `event_loop.rs` | 1 worker | `driver_stats()` deltas around an echo exchange |
//!
//! Every number printed is measured while the demo runs, or worked out
//! from measured numbers and the sizes below (which the flags choose).
//! Part 2 also checks that its numbers mean something: `cpu.rs` reads how
//! much CPU the workers really got, `verdict.rs` decides when the machine
//! was too busy for a speedup to be believed.

mod concurrency;
mod cpu;
mod event_loop;
mod parallelism;
mod stealing;
mod svg;
mod ui;
mod verdict;
mod work;

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use ui::Ui;

/// Command-line options.
#[derive(Debug, Default, Clone)]
pub struct Args {
    /// Largest worker count (default: the machine's available parallelism).
    pub workers: Option<usize>,
    /// Smaller sizes, for tests and impatient people (under 10 s).
    pub quick: bool,
    /// Also write the plots as SVG files into this directory.
    pub svg: Option<PathBuf>,
    /// Also record each part as an execution trace into this directory
    /// (`concurrency`, `parallelism`, `stealing`, `event_loop`; each as
    /// `.json` for Perfetto and `.html` for a browser).
    pub trace: Option<PathBuf>,
}

pub const USAGE: &str = "\
usage: cargo run --release --example demo -- [--workers N] [--quick] [--svg DIR] [--trace DIR]

  --workers N   run the parallel parts on up to N worker threads
                (default: the number of cores)
  --quick       smaller sizes, finishes in a few seconds
  --svg DIR     also write the plots as SVG files into DIR
  --trace DIR   also record each part's execution trace into DIR:
                concurrency, parallelism, stealing and event_loop, each as
                .html (open in a browser) and .json (open in Perfetto)";

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--workers" => {
                    let n = args.next().ok_or("--workers needs a number")?;
                    let n: usize = n
                        .parse()
                        .map_err(|_| format!("--workers: `{n}` is not a number"))?;
                    if n == 0 {
                        return Err("--workers: need at least one worker".into());
                    }
                    parsed.workers = Some(n);
                }
                "--svg" => {
                    let dir = args.next().ok_or("--svg needs a directory")?;
                    parsed.svg = Some(dir.into());
                }
                "--trace" => {
                    let dir = args.next().ok_or("--trace needs a directory")?;
                    parsed.trace = Some(dir.into());
                }
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(parsed)
    }
}

/// Sizes of the four parts.
pub struct Config {
    pub max_workers: usize,
    /// Part 1: tasks, and how long each one sleeps.
    pub sleepers: usize,
    pub sleep: Duration,
    /// Part 2: tasks the job is split into, its length on one worker, how
    /// many interleaved rounds (each runs every worker count once; the
    /// medians are shown), and the I/O-bound job's wait per task.
    pub cpu_tasks: usize,
    pub cpu_total: Duration,
    pub repeats: usize,
    pub io_wait: Duration,
    /// Part 3: tasks spawned from one task, and the total CPU work in them.
    pub steal_tasks: usize,
    pub steal_total: Duration,
    /// Part 4: echo rounds and the client's pause (a timer) before each.
    pub echo_rounds: usize,
    pub echo_pause: Duration,
    /// Where each part writes its execution trace (`--trace`).
    pub trace: Option<PathBuf>,
}

/// Part 1's trace buffer, events per worker: its 10,000 sleepers make about
/// 50,000 events on the one worker (two polls and an end each, the wakes
/// of the first-poll burst), so this keeps the whole part with room to
/// spare, while a larger run is cut instead of filling the default
/// 2^20-event (24 MiB) buffer.
pub const PART1_TRACE_EVENTS: usize = 65_536;

/// Starts recording on `rt` if `--trace` was given.
pub fn start_trace(config: &Config, rt: &weft::Runtime) -> Option<weft::trace::Recording> {
    config
        .trace
        .as_ref()
        .map(|_| rt.start_trace().expect("a fresh runtime is not tracing"))
}

/// Stops `recording` and writes it as `DIR/NAME.json` and `DIR/NAME.html`;
/// returns the HTML's path.
pub fn write_trace(
    config: &Config,
    name: &str,
    recording: Option<weft::trace::Recording>,
) -> io::Result<Option<PathBuf>> {
    let (Some(recording), Some(dir)) = (recording, &config.trace) else {
        return Ok(None);
    };
    let trace = recording.stop();
    trace.write_chrome_json(io::BufWriter::new(std::fs::File::create(
        dir.join(format!("{name}.json")),
    )?))?;
    let html = dir.join(format!("{name}.html"));
    trace.write_html(io::BufWriter::new(std::fs::File::create(&html)?))?;
    Ok(Some(html))
}

impl Config {
    pub fn new(args: &Args) -> Config {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let max_workers = args.workers.unwrap_or(cores);
        if args.quick {
            Config {
                max_workers,
                sleepers: 10_000,
                sleep: Duration::from_millis(100),
                cpu_tasks: 64,
                cpu_total: Duration::from_millis(150),
                repeats: 3,
                io_wait: Duration::from_millis(50),
                steal_tasks: 100,
                steal_total: Duration::from_millis(60),
                echo_rounds: 3,
                echo_pause: Duration::from_millis(10),
                trace: args.trace.clone(),
            }
        } else {
            Config {
                max_workers,
                sleepers: 10_000,
                sleep: Duration::from_millis(100),
                cpu_tasks: 128,
                cpu_total: Duration::from_millis(400),
                repeats: 5,
                io_wait: Duration::from_millis(100),
                steal_tasks: 200,
                steal_total: Duration::from_millis(200),
                echo_rounds: 5,
                echo_pause: Duration::from_millis(20),
                trace: args.trace.clone(),
            }
        }
    }
}

/// A runtime with `workers` worker threads.
fn runtime(workers: usize) -> weft::Runtime {
    runtime_with(workers, None)
}

/// The same, with a bounded trace buffer (events per worker) if given.
fn runtime_with(workers: usize, trace_buffer: Option<usize>) -> weft::Runtime {
    let mut builder = weft::Runtime::builder();
    if let Some(events) = trace_buffer {
        builder.trace_buffer(events);
    }
    builder
        .worker_threads(workers)
        .thread_name("weft-demo")
        .build()
        .expect("could not start a weft runtime")
}

/// Runs the whole demo, writing to `ui`.
pub fn run(args: &Args, ui: &mut Ui<'_>) -> io::Result<()> {
    let config = Config::new(args);
    let started = Instant::now();
    for dir in args.svg.iter().chain(&args.trace) {
        std::fs::create_dir_all(dir)?;
    }

    ui.line(ui.header("weft demo: concurrency and parallelism, measured"))?;
    ui.line(ui.dim(&format!(
        "{} cores available; parallel parts use up to {} worker{}.{}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        config.max_workers,
        if config.max_workers == 1 { "" } else { "s" },
        if args.quick { " Quick mode." } else { "" },
    )))?;
    ui.blank()?;

    let plot = concurrency::run(&config, ui)?;
    write_svg(args, "concurrency.svg", plot)?;
    ui.blank()?;

    ui.progress("calibrating the CPU-bound work...")?;
    let calibration = work::Calibration::measure();
    let plot = parallelism::run(&config, &calibration, ui)?;
    write_svg(args, "parallelism.svg", plot)?;
    ui.blank()?;

    let plot = stealing::run(&config, &calibration, ui)?;
    write_svg(args, "stealing.svg", plot)?;
    ui.blank()?;

    event_loop::run(&config, ui)?;
    ui.blank()?;

    let mut done = format!("done in {}", ui::duration(started.elapsed()));
    if let Some(dir) = &args.svg {
        done.push_str(&format!("; plots written to {}", dir.display()));
    }
    ui.line(ui.dim(&done))?;
    if let Some(dir) = &args.trace {
        ui.line(ui.dim(&format!("timelines written to {}", dir.display())))?;
    }
    ui.flush()
}

fn write_svg(args: &Args, name: &str, svg: String) -> io::Result<()> {
    match &args.svg {
        Some(dir) => std::fs::write(dir.join(name), svg),
        None => Ok(()),
    }
}

/// The binary's `main`: parses `std::env::args`, runs on stdout, returns
/// the exit code.
pub fn main() -> i32 {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("demo: {msg}\n");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() { 0 } else { 2 };
        }
    };
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut lock = stdout.lock();
    let mut ui = Ui::new(&mut lock, terminal);
    match run(&args, &mut ui) {
        Ok(()) => 0,
        Err(e) => {
            let _ = ui.flush();
            eprintln!("demo: {e}");
            1
        }
    }
}
