//! How much CPU the demo's worker threads really got, and how busy the
//! machine was, read from Linux's `/proc` (no dependency, no `unsafe`).
//!
//! - A thread's CPU time: the first field of `/proc/self/task/TID/schedstat`,
//!   the nanoseconds the scheduler has run that thread (`sum_exec_runtime`).
//!   The kernel updates it when the thread is switched out and on each
//!   scheduler tick, so a thread that is running while it is read may be up
//!   to one tick (1 to 10 ms) behind; the demo reads it when the workers
//!   are idle or about to be.
//! - A thread's id: `/proc/thread-self` is a link to `PID/task/TID`; the
//!   runtime's `on_thread_start` hook reads it on each worker.
//! - The load average: the first field of `/proc/loadavg`, the number of
//!   runnable (and uninterruptible) threads averaged over the last minute.
//!
//! Everything returns `None` where `/proc` does not have it (another OS, a
//! kernel without `CONFIG_SCHED_INFO`); the demo then says it could not
//! measure, rather than guessing.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The calling thread's id (Linux TID), from `/proc/thread-self`.
pub fn current_thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The CPU time thread `tid` of this process has used so far.
pub fn thread_cpu_time(tid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The one-minute load average.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The thread ids of a runtime's workers, filled in by its
/// `on_thread_start` hook.
#[derive(Clone, Default)]
pub struct WorkerIds {
    ids: Arc<(Mutex<Vec<Option<u32>>>, Condvar)>,
}

impl WorkerIds {
    /// The hook: records the calling thread.
    pub fn register_current(&self) {
        let (ids, changed) = &*self.ids;
        ids.lock().unwrap().push(current_thread_id());
        changed.notify_all();
    }

    /// Waits (at most `limit`) until `workers` threads have registered and
    /// returns their ids; `None` if one could not be read or they did not
    /// all start in time.
    pub fn wait_for(&self, workers: usize, limit: Duration) -> Option<Vec<u32>> {
        let deadline = Instant::now() + limit;
        let (ids, changed) = &*self.ids;
        let mut ids = ids.lock().unwrap();
        while ids.len() < workers {
            let left = deadline.checked_duration_since(Instant::now())?;
            ids = changed.wait_timeout(ids, left).unwrap().0;
        }
        ids.iter().take(workers).copied().collect()
    }
}

/// The summed CPU time of a set of threads.
pub fn total_cpu_time(tids: &[u32]) -> Option<Duration> {
    tids.iter().map(|&tid| thread_cpu_time(tid)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_thread_is_measured_when_proc_has_it() {
        let Some(tid) = current_thread_id() else {
            return; // not Linux: nothing to measure
        };
        let Some(before) = thread_cpu_time(tid) else {
            return; // no schedstat in this kernel
        };
        // Spin until the thread's own clock has moved: bounded, and it
        // fails only if the clock never moves (2 s of spinning).
        let started = Instant::now();
        let mut x = 1u64;
        let mut after = before;
        while after <= before && started.elapsed() < Duration::from_secs(2) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            after = thread_cpu_time(tid).expect("read it once, reads it again");
        }
        assert!(after > before, "the thread's CPU clock moved while it spun");
        assert!(load_average().is_some_and(|l| l >= 0.0));
    }
}
