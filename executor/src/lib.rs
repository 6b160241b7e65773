//! weft-executor: the task system and the work-stealing scheduler of weft.
//!
//! A short tour:
//! - [`task`]: one allocation per task, a state machine in one atomic word,
//!   [`JoinHandle`](task::JoinHandle), [`JoinSet`](task::JoinSet),
//!   [`AbortHandle`](task::AbortHandle), [`yield_now`](task::yield_now).
//! - `scheduler`: per-worker crossbeam-deque queues with a LIFO slot, a
//!   global injector, stealing, a bounded number of searching workers, and
//!   the sleep protocol that never loses a wakeup (`docs/scheduler.md`).
//! - [`Driver`]: the seam through which an I/O + timer driver plugs in
//!   (the `weft-reactor` crate provides one).
//! - [`coop`]: the per-poll budget that keeps one busy task from starving
//!   the others.
//! - The blocking pool behind [`Handle::spawn_blocking`].
//! - [`RuntimeMetrics`].
//!
//! ```
//! let rt = weft_executor::Executor::new().unwrap();
//! let sum = rt.block_on(async {
//!     let handles: Vec<_> = (0..100u64)
//!         .map(|i| weft_executor::Handle::current().spawn(async move { i }))
//!         .collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(sum, 4950);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// Thread-locals go through `sync::thread_local!`, which is loom's under
// `cfg(loom)`, and loom's macro does not accept `const { .. }` initialisers.
#![allow(clippy::missing_const_for_thread_local)]

mod blocking;
pub mod coop;
pub mod driver;
#[cfg(loom)]
mod loom_deque;
#[cfg(all(test, loom))]
mod loom_tests;
mod metrics;
mod park_thread;
mod runtime;
mod scheduler;
mod sync;
pub mod task;
pub mod trace;
mod unhandled_panic;

pub use driver::{Driver, DriverCounts};
pub use metrics::RuntimeMetrics;
pub use runtime::{Builder, EnterGuard, Executor, Handle, TryCurrentError, WORKER_THREADS_ENV};
pub use scheduler::long_poll::LongPoll;
pub use unhandled_panic::UnhandledPanic;

/// Whether the current thread is a worker thread of some weft runtime.
pub fn is_worker_thread() -> bool {
    scheduler::context::is_worker_thread()
}
