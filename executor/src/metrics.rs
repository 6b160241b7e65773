//! Runtime metrics, readable at any time from any thread.
//!
//! Per-worker counters have a single writer (their worker), which updates
//! them with a relaxed load and store rather than an RMW, so counting costs
//! the hot path a plain store. Readers may see a value a moment old, never a
//! torn or decreasing one. Names follow tokio's `RuntimeMetrics` where the
//! concept exists.

use crate::sync::unmodelled::{AtomicU64, Relaxed};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) poll_count: Counter,
    pub(crate) steal_count: Counter,
    pub(crate) steal_operations: Counter,
    pub(crate) park_count: Counter,
    pub(crate) busy_duration_ns: Counter,
    pub(crate) lifo_hits: Counter,
    pub(crate) overflow_count: Counter,
    pub(crate) local_schedule_count: Counter,
    pub(crate) spawned_count: Counter,
    /// Written by the driver monitor (its single writer), not the worker.
    pub(crate) long_poll_count: Counter,
}

/// A single-writer counter.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Only the owning worker calls this.
    pub(crate) fn add(&self, n: u64) {
        // Relaxed load + store: single writer, so no update is lost; readers
        // need no ordering with other memory.
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// For counters written by many threads.
    pub(crate) fn add_shared(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A snapshot handle on a runtime's metrics.
///
/// Obtained from `weft::Runtime::metrics` / `weft::Handle::metrics`. Each
/// call reads the live counters.
///
/// ```
/// let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async { weft::spawn(async {}).await.unwrap() });
/// let metrics = rt.metrics();
/// assert_eq!(metrics.num_workers(), 2);
/// assert!(metrics.spawned_tasks_count() >= 1);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    pub(crate) shared: crate::sync::Arc<crate::scheduler::Shared>,
    pub(crate) blocking: std::sync::Arc<crate::blocking::BlockingShared>,
}

impl RuntimeMetrics {
    fn worker(&self, i: usize) -> &WorkerMetrics {
        &self.shared.remotes[i].metrics
    }

    /// Number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.shared.remotes.len()
    }

    /// Tasks polled by worker `i`.
    ///
    /// # Panics
    ///
    /// If `i >= num_workers()` (as for every per-worker method).
    pub fn worker_poll_count(&self, i: usize) -> u64 {
        self.worker(i).poll_count.get()
    }

    /// Tasks worker `i` stole from other workers' queues.
    pub fn worker_steal_count(&self, i: usize) -> u64 {
        self.worker(i).steal_count.get()
    }

    /// Successful steal operations (each takes a batch) by worker `i`.
    pub fn worker_steal_operations(&self, i: usize) -> u64 {
        self.worker(i).steal_operations.get()
    }

    /// Times worker `i` parked.
    pub fn worker_park_count(&self, i: usize) -> u64 {
        self.worker(i).park_count.get()
    }

    /// Time worker `i` spent out of park (running tasks or looking for them).
    pub fn worker_total_busy_duration(&self, i: usize) -> Duration {
        Duration::from_nanos(self.worker(i).busy_duration_ns.get())
    }

    /// Tasks in worker `i`'s local run queue right now.
    pub fn worker_local_queue_depth(&self, i: usize) -> usize {
        self.shared.remotes[i].stealer.len()
    }

    /// Tasks worker `i` ran from its LIFO slot.
    pub fn worker_lifo_hits(&self, i: usize) -> u64 {
        self.worker(i).lifo_hits.get()
    }

    /// Tasks spawned on worker `i` that found its local queue full and went
    /// to the global queue instead (woken tasks always stay local).
    pub fn worker_overflow_count(&self, i: usize) -> u64 {
        self.worker(i).overflow_count.get()
    }

    /// Tasks worker `i` scheduled into its own queue or LIFO slot.
    pub fn worker_local_schedule_count(&self, i: usize) -> u64 {
        self.worker(i).local_schedule_count.get()
    }

    /// Polls on worker `i` that the runtime reported as long (see
    /// `Builder::on_long_poll`): each ran for longer than the threshold,
    /// and counts once however long it ran. Always 0 without
    /// `on_long_poll`, as nothing is watched then.
    ///
    /// ```
    /// let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    /// assert_eq!(rt.metrics().worker_long_poll_count(0), 0);
    /// ```
    pub fn worker_long_poll_count(&self, i: usize) -> u64 {
        self.worker(i).long_poll_count.get()
    }

    /// Tasks scheduled from outside the workers (into the global queue).
    pub fn remote_schedule_count(&self) -> u64 {
        self.shared.remote_schedule_count.get()
    }

    /// Tasks in the global (injection) queue right now.
    pub fn global_queue_depth(&self) -> usize {
        self.shared.injector.len()
    }

    /// Tasks spawned since the runtime started (not counting `spawn_blocking`).
    pub fn spawned_tasks_count(&self) -> u64 {
        self.shared.remote_spawned_count.get()
            + self
                .shared
                .remotes
                .iter()
                .map(|r| r.metrics.spawned_count.get())
                .sum::<u64>()
    }

    /// Tasks spawned and not yet completed (not counting `spawn_blocking`).
    pub fn num_alive_tasks(&self) -> usize {
        self.shared.owned.len()
    }

    /// Threads in the blocking pool, busy or idle.
    pub fn num_blocking_threads(&self) -> usize {
        self.blocking.num_threads()
    }

    /// Idle threads in the blocking pool.
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.blocking.num_idle_threads()
    }

    /// `spawn_blocking` closures waiting for a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.blocking.queue_depth()
    }

    /// Panics that escaped a turn of the I/O and timer driver (a waker of
    /// a timer or socket that panicked, or the driver itself) since the
    /// runtime started. Each was printed by the panic hook and contained:
    /// the driver goes on turning (see `docs/scheduler.md`, "Panics").
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert_eq!(rt.metrics().driver_panic_count(), 0);
    /// ```
    pub fn driver_panic_count(&self) -> u64 {
        self.shared
            .driver
            .as_ref()
            .map_or(0, |slot| slot.panic_count())
    }
}

impl std::fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_alive_tasks", &self.num_alive_tasks())
            .field("global_queue_depth", &self.global_queue_depth())
            .finish_non_exhaustive()
    }
}
