//! weft: a multi-threaded, work-stealing async runtime.
//!
//! A tour, mirroring the README:
//!
//! - [`Runtime`] / [`Builder`]: worker threads (one per core by default),
//!   each with its own run queue, stealing from each other when idle; one
//!   reactor on `polling` (epoll) that wakes them when sockets are ready and
//!   timers fire; a blocking pool.
//! - [`spawn`], [`spawn_blocking`], [`task`]: tasks, join handles, abort,
//!   [`task::JoinSet`], [`task::yield_now`].
//! - [`time`]: `sleep`, `timeout`, `interval` on a hierarchical timer wheel
//!   with exact deadlines.
//! - [`net`]: TCP, UDP and Unix sockets implementing `futures_io`'s
//!   `AsyncRead` / `AsyncWrite`; [`io::Async`] for any other file descriptor.
//! - [`RuntimeMetrics`]: per-worker polls, steals, parks, busy time.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = weft::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let mut set = weft::task::JoinSet::new();
//!     for i in 0..10u64 {
//!         set.spawn(async move {
//!             weft::time::sleep(Duration::from_millis(10)).await;
//!             i
//!         });
//!     }
//!     let mut sum = 0;
//!     while let Some(res) = set.join_next().await {
//!         sum += res.unwrap();
//!     }
//!     assert_eq!(sum, 45);
//! });
//! ```
//!
//! The crates behind it: `weft-executor` (tasks, scheduler, blocking pool,
//! metrics), `weft-reactor` (the event loop, sockets, the driver),
//! `weft-timer` (the timer wheel). `docs/` explains the design.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod handle;
mod runtime;

pub use handle::{EnterGuard, Handle, TryCurrentError};
pub use runtime::{Builder, DriverStats, Runtime};
pub use weft_executor::RuntimeMetrics;

use std::future::Future;

/// Tasks: handles, errors, sets, yielding.
pub mod task {
    pub use crate::{spawn, spawn_blocking};
    pub use weft_executor::task::{yield_now, AbortHandle, Id, JoinError, JoinHandle, JoinSet};
}

/// Timers: sleeping, deadlines, intervals.
///
/// Created inside a runtime (a task, `block_on`, or after `enter`), polled
/// on any thread. A timer never fires early; on an idle machine it fires a
/// fraction of a millisecond late.
pub mod time {
    pub use weft_timer::{
        interval, interval_at, sleep, sleep_until, timeout, timeout_at, Elapsed, Interval,
        MissedTickBehavior, Sleep, Timeout,
    };
}

/// Non-blocking sockets: TCP, UDP, Unix.
pub mod net {
    pub use weft_reactor::net::*;
}

/// Readiness-based I/O on any file descriptor.
pub mod io {
    pub use weft_reactor::{Async, IoSafe};
}

/// Spawns a future onto the current runtime.
///
/// # Panics
///
/// Outside a runtime, with a message saying how to get into one.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let v = rt.block_on(async { weft::spawn(async { 5 }).await.unwrap() });
/// assert_eq!(v, 5);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match weft_executor::Handle::try_current() {
        Ok(h) => h.spawn(future),
        Err(_) => panic!(
            "`weft::spawn` was called outside a weft runtime: call it from inside a task, \
             from inside `Runtime::block_on`, or after `Runtime::enter()`; \
             or spawn through a `weft::Handle` with `handle.spawn(..)`"
        ),
    }
}

/// Runs a blocking closure on the current runtime's blocking pool.
///
/// # Panics
///
/// Outside a runtime.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match weft_executor::Handle::try_current() {
        Ok(h) => h.spawn_blocking(f),
        Err(_) => panic!(
            "`weft::spawn_blocking` was called outside a weft runtime: call it from inside \
             a task, from inside `Runtime::block_on`, or after `Runtime::enter()`"
        ),
    }
}

/// The README's Rust example is compiled and run as a doctest, so it
/// cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
