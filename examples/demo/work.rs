//! CPU-bound work of a measured length.
//!
//! The job is a chain of xorshift-multiply rounds: each round needs the
//! previous one's result, so the compiler cannot vectorise or skip it, and it
//! touches no memory, so cores do not compete for caches. The demo measures
//! how long a round takes on this machine (and in this build profile: a
//! debug build is many times slower), then asks for work in units of time.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// `rounds` dependent rounds of mixing, starting from `seed`.
pub fn crunch(seed: u64, rounds: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    }
    black_box(x)
}

/// How long one round takes here.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    ns_per_round: f64,
}

impl Calibration {
    /// Runs the work on this thread for about 30 ms and keeps the fastest
    /// rate seen (the slower samples are the ones the OS interrupted).
    pub fn measure() -> Calibration {
        let batch = 1 << 14;
        let mut best = f64::INFINITY;
        let started = Instant::now();
        let mut seed = 0;
        while started.elapsed() < Duration::from_millis(30) {
            let t = Instant::now();
            seed = crunch(seed, batch);
            best = best.min(t.elapsed().as_nanos() as f64 / batch as f64);
        }
        Calibration {
            ns_per_round: best.max(0.01),
        }
    }

    /// Rounds that take about `d` on one core.
    pub fn rounds_for(&self, d: Duration) -> u64 {
        ((d.as_nanos() as f64 / self.ns_per_round) as u64).max(1)
    }
}
