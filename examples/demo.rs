//! The weft demo: concurrency and parallelism, measured on your machine.
//!
//! ```text
//! cargo run --release --example demo [-- --workers N] [--quick] [--svg DIR] [--trace DIR]
//! ```
//!
//! 1. Concurrency: 10,000 tasks each wait 100 ms on a timer, on one worker.
//! 2. Parallelism: a CPU-bound and an I/O-bound job at 1..=N workers, with
//!    the cores the workers really got (and a warning if others took them).
//! 3. Work stealing: per-worker polls and steals from `RuntimeMetrics`.
//! 4. Event loop: `driver_stats()` around an echo exchange on 127.0.0.1.
//!
//! The logic lives in `examples/demo/` so that `tests/demo.rs` can run it.

#[path = "demo/mod.rs"]
mod demo;

fn main() {
    std::process::exit(demo::main());
}
