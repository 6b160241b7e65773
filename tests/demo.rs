//! The examples, run as tests: the demo in `--quick` mode (its output's
//! shape: four parts, a speedup row per worker count, numbers that parse,
//! 80 columns, no colour when not on a terminal, SVG files), the demo on a
//! machine made busy on purpose (it must warn, not claim a speedup), and
//! the echo server's self-test. The demo's own unit tests (the busy-machine
//! decision on made-up numbers, in `verdict.rs`) run here too.
//!
//! The demo's logic is compiled into this test from `examples/demo/`, so no
//! nested `cargo run` (which would wait on the build directory lock that
//! `cargo test` holds) is needed. Only the shape is checked, never the
//! speed: timings belong to the benchmarks.

// `main` and the usage text are the binary's, unused here.
#[allow(dead_code)]
#[path = "../examples/demo/mod.rs"]
mod demo;

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The demo tests measure CPU time; one at a time, so that neither is the
/// other's load.
static ONE_DEMO_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run_quick_demo(svg_dir: &std::path::Path) -> String {
    run_quick_demo_traced(svg_dir, None)
}

fn run_quick_demo_traced(svg_dir: &std::path::Path, trace_dir: Option<&std::path::Path>) -> String {
    let _one = ONE_DEMO_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut argv: Vec<String> = [
        "--quick",
        "--workers",
        "2",
        "--svg",
        svg_dir.to_str().expect("utf-8 temp dir"),
    ]
    .map(String::from)
    .to_vec();
    if let Some(dir) = trace_dir {
        argv.push("--trace".into());
        argv.push(dir.to_str().expect("utf-8 temp dir").into());
    }
    let args = demo::Args::parse(argv).expect("valid arguments");
    let mut out = Vec::new();
    {
        let mut ui = demo::Ui::new(&mut out, false);
        demo::run(&args, &mut ui).expect("the demo runs");
    }
    String::from_utf8(out).expect("the output is UTF-8")
}

/// The lines of the table whose header line contains every word of
/// `header`, up to the next blank line.
fn table<'a>(text: &'a str, header: &[&str]) -> Vec<&'a str> {
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|l| header.iter().all(|w| l.contains(w)))
        .unwrap_or_else(|| panic!("no table with header {header:?} in:\n{text}"));
    lines.take_while(|l| !l.trim().is_empty()).collect()
}

/// The text with every run of whitespace (line breaks of wrapped
/// paragraphs too) made one space.
fn flatten(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A duration printed as `<number> <unit>`, in milliseconds.
fn parse_ms(value: &str, unit: &str) -> f64 {
    let v: f64 = value
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {value:?}"));
    match unit {
        "s" => v * 1e3,
        "ms" => v,
        "µs" => v / 1e3,
        other => panic!("unknown unit {other:?}"),
    }
}

const BUSY_WARNING: &str = "Warning: this machine is busy";
const ABOVE_IDEAL_NOTE: &str = "* Above the ideal";

/// Part 2's table: one row per worker count (1 and 2), each with numbers
/// that parse, and no speedup above what the cores allow without the note
/// that explains it. Returns the rows' (workers, speedup, cores busy).
fn check_parallelism_table(text: &str) -> Vec<(usize, f64, Option<f64>)> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rows = table(
        text,
        &["workers", "CPU-bound", "speedup", "cores busy", "I/O-bound"],
    );
    assert_eq!(rows.len(), 2, "one row per worker count:\n{rows:#?}");
    let mut parsed = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        // workers, CPU time + unit, speedup, range, cores busy, bar,
        // I/O time + unit
        let w: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(w.len(), 9, "nine fields in {row:?}");
        let workers = w[0].parse::<usize>().expect("worker count");
        assert_eq!(workers, i + 1);
        assert!(parse_ms(w[1], w[2]) > 0.0);
        let marked = w[3].ends_with('*');
        let speedup: f64 = w[3]
            .trim_end_matches('*')
            .trim_end_matches('x')
            .parse()
            .expect("speedup");
        assert!(speedup > 0.0);
        if workers == 1 {
            assert_eq!(w[3], "1.00x", "speedup is relative to 1 worker");
            assert_eq!(w[4], "-", "no range for 1 worker against itself");
        } else {
            let (low, high) = w[4].split_once('-').expect("a range low-high");
            let low: f64 = low.parse().expect("range low");
            let high: f64 = high.parse().expect("range high");
            assert!(0.0 < low && low <= high, "{row:?}");
        }
        let busy = (w[5] != "n/a").then(|| w[5].parse::<f64>().expect("cores busy"));
        if let Some(busy) = busy {
            // A physical bound (with room for the CPU clock's lag): a unit
            // mix-up would break it, a slow machine cannot.
            assert!(
                busy > 0.0 && busy <= workers as f64 * 1.25,
                "cores busy {busy} with {workers} workers: {row:?}"
            );
        }
        assert!(
            w[6].chars().all(|c| c == '#' || c == '.'),
            "a bar of # and . in {row:?}"
        );
        assert!(parse_ms(w[7], w[8]) > 0.0);
        // Never a speedup above the core count without an explanation.
        let ideal = workers.min(cores) as f64;
        if speedup > ideal * 1.05 {
            assert!(marked, "a speedup above the ideal is marked: {row:?}");
            assert!(
                flatten(text).contains(ABOVE_IDEAL_NOTE),
                "a marked speedup is explained:\n{text}"
            );
        }
        parsed.push((workers, speedup, busy));
    }
    let flat = flatten(text);
    let busy_warning = flat.contains(BUSY_WARNING);
    let claim = flat.contains("faster than one");
    assert!(
        busy_warning != claim,
        "either the warning or the conclusion, never both or neither:\n{text}"
    );
    parsed
}

/// Threads that keep every core busy until dropped (or for at most
/// `limit`, should the test hang).
struct Burners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl Burners {
    fn start(count: usize, limit: Duration) -> Burners {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..count)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let started = Instant::now();
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                        }
                    }
                    x
                })
            })
            .collect();
        Burners { stop, threads }
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// With three spinning threads per core beside it, the demo's workers get
/// about a third of the cores they could use: part 2 must say the machine
/// is busy, and must not claim a speedup.
#[test]
fn quick_demo_on_a_busy_machine_warns_instead_of_claiming_a_speedup() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let svg_dir: PathBuf =
        std::env::temp_dir().join(format!("weft-demo-busy-{}", std::process::id()));
    let text = {
        let _burners = Burners::start(3 * cores, Duration::from_secs(120));
        run_quick_demo(&svg_dir)
    };
    println!("{text}");
    let rows = check_parallelism_table(&text);
    let flat = flatten(&text);
    assert!(
        flat.contains(BUSY_WARNING),
        "the busy machine is reported:\n{text}"
    );
    assert!(
        flat.contains("this machine is busy (load average"),
        "with the load average:\n{text}"
    );
    assert!(
        !flat.contains("faster than one"),
        "no speedup is claimed on a busy machine:\n{text}"
    );
    if rows.iter().all(|r| r.2.is_some()) {
        assert!(
            flat.contains("The workers kept only"),
            "the warning says what the workers got:\n{text}"
        );
    }
    let svg = std::fs::read_to_string(svg_dir.join("parallelism.svg")).expect("SVG written");
    assert!(svg.contains("machine busy"), "the plot says so too");
    let _ = std::fs::remove_dir_all(&svg_dir);
}

#[test]
fn quick_demo_has_the_four_parts_and_parsable_numbers() {
    let svg_dir: PathBuf = std::env::temp_dir().join(format!("weft-demo-{}", std::process::id()));
    let trace_dir = svg_dir.join("trace");
    let text = run_quick_demo_traced(&svg_dir, Some(&trace_dir));
    println!("{text}");

    for header in [
        "1. Concurrency",
        "2. Parallelism",
        "3. Work stealing",
        "4. Event loop",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(header)),
            "missing section {header:?} in:\n{text}"
        );
    }
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "line wider than 80 columns: {line:?}"
        );
        assert!(
            !line.contains('\x1b'),
            "colour codes off a terminal: {line:?}"
        );
    }

    // Part 1: the measured time of 10,000 overlapping sleeps.
    let measured = text
        .lines()
        .find(|l| l.contains("measured, interleaved"))
        .expect("part 1 reports its measured time");
    let after = measured.split(':').nth(1).expect("a value after the colon");
    let words: Vec<&str> = after.split_whitespace().collect();
    assert!(parse_ms(words[0], words[1]) > 0.0);

    // Part 2: one row per worker count, 1 and 2, each with numbers.
    check_parallelism_table(&text);

    // Part 3: one row per worker with integer counters.
    let rows = table(&text, &["worker", "queued", "polled", "stolen"]);
    assert_eq!(rows.len(), 2, "one row per worker:\n{rows:#?}");
    let mut polled = 0;
    for (i, row) in rows.iter().enumerate() {
        let w: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(w[0].parse::<usize>().expect("worker index"), i);
        for n in &w[1..5] {
            n.replace(',', "").parse::<u64>().expect("a counter");
        }
        polled += w[2].replace(',', "").parse::<u64>().unwrap();
        assert!(parse_ms(w[5], w[6]) >= 0.0);
    }
    assert!(polled > 100, "every spawned task was polled");

    // Part 4: one row per echo round, then the totals.
    let rows = table(&text, &["round", "turns", "timers fired", "I/O events"]);
    assert_eq!(rows.len(), 3 + 1, "3 rounds and a total:\n{rows:#?}");
    for (i, row) in rows[..3].iter().enumerate() {
        let w: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(w[0].parse::<usize>().expect("round"), i + 1);
        for n in &w[1..5] {
            n.parse::<u64>().expect("a count");
        }
        assert!(parse_ms(w[5], w[6]) > 0.0);
    }
    let total: Vec<u64> = rows[3]
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("a total"))
        .collect();
    assert_eq!(total.len(), 4);
    assert!(total[0] > 0, "the event loop turned");
    assert!(total[1] >= 3, "each round's pause fired a timer");

    for name in ["concurrency.svg", "parallelism.svg", "stealing.svg"] {
        let svg = std::fs::read_to_string(svg_dir.join(name)).expect("SVG written");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    // --trace: each part's timeline, as JSON and HTML; part 3 says where.
    let stealing_html = trace_dir.join("stealing.html");
    assert!(
        text.lines()
            .any(|l| l.trim() == stealing_html.display().to_string()),
        "part 3 says where to open its timeline:\n{text}"
    );
    for (name, workers, min_polls) in [
        ("concurrency", 1, 2 * 10_000),
        ("parallelism", 2, 64),
        ("stealing", 2, 100),
        ("event_loop", 1, 3),
    ] {
        let json = std::fs::read_to_string(trace_dir.join(format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name}.json written: {e}"));
        assert!(json.starts_with('{') && json.trim_end().ends_with('}'));
        for w in 0..workers {
            assert!(
                json.contains(&format!(r#""args":{{"name":"worker {w}"}}"#)),
                "{name}.json names worker {w}'s track"
            );
        }
        let polls = json.matches(r#""cat":"poll""#).count();
        assert!(polls >= min_polls, "{name}.json: {polls} polls");
        assert!(
            json.contains(r#""dropped_events":0,"#),
            "{name}.json is complete (its buffer held the whole part)"
        );
        let html = std::fs::read_to_string(trace_dir.join(format!("{name}.html")))
            .unwrap_or_else(|e| panic!("{name}.html written: {e}"));
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        assert!(html.matches("class=\"poll\"").count() >= min_polls);
    }
    let _ = std::fs::remove_dir_all(&svg_dir);
}

#[test]
fn demo_arguments() {
    let a = demo::Args::parse(["--workers", "3"].map(String::from)).unwrap();
    assert_eq!(a.workers, Some(3));
    assert!(!a.quick && a.svg.is_none());
    assert!(demo::Args::parse(["--workers", "0"].map(String::from)).is_err());
    assert!(demo::Args::parse(["--workers"].map(String::from)).is_err());
    assert!(demo::Args::parse(["--bogus"].map(String::from)).is_err());
}

#[test]
fn echo_server_self_test() {
    let report = echo::self_test(8, 20).expect("the echo self-test passes");
    assert_eq!(report.clients, 8);
    assert_eq!(report.bytes, 8 * 20 * echo::SELF_TEST_MESSAGE.len() as u64);
}
