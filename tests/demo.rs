//! The examples, run as tests: the demo in `--quick` mode (its output's
//! shape: four parts, a speedup row per worker count, numbers that parse,
//! 80 columns, no colour when not on a terminal, SVG files), and the echo
//! server's self-test.
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

fn run_quick_demo(svg_dir: &std::path::Path) -> String {
    let args = demo::Args::parse(
        [
            "--quick",
            "--workers",
            "2",
            "--svg",
            svg_dir.to_str().expect("utf-8 temp dir"),
        ]
        .map(String::from),
    )
    .expect("valid arguments");
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

#[test]
fn quick_demo_has_the_four_parts_and_parsable_numbers() {
    let svg_dir: PathBuf = std::env::temp_dir().join(format!("weft-demo-{}", std::process::id()));
    let text = run_quick_demo(&svg_dir);
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
    let rows = table(&text, &["workers", "CPU-bound", "speedup", "I/O-bound"]);
    assert_eq!(rows.len(), 2, "one row per worker count:\n{rows:#?}");
    for (i, row) in rows.iter().enumerate() {
        let w: Vec<&str> = row.split_whitespace().collect();
        // workers, CPU time + unit, speedup, ideal, I/O time + unit, bar
        assert_eq!(w[0].parse::<usize>().expect("worker count"), i + 1);
        assert!(parse_ms(w[1], w[2]) > 0.0);
        let speedup: f64 = w[3].trim_end_matches('x').parse().expect("speedup");
        assert!(speedup > 0.0);
        assert_eq!(w[4], format!("{}x", i + 1), "ideal speedup");
        assert!(parse_ms(w[5], w[6]) > 0.0);
    }
    assert!(rows[0].contains("1.00x"), "speedup is relative to 1 worker");

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
