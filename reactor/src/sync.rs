//! The one door through which the reactor reaches concurrency primitives.
//!
//! Normally these are std's atomics and parking_lot's mutex. Under `cfg(loom)`
//! the atomics and the mutex are swapped for loom's, so that the models in
//! `crate::loom_tests` explore the readiness/waker handoff of
//! [`Source`](crate::source::Source). No other file imports
//! `std::sync::atomic` or `parking_lot` directly.
//!
//! `Arc` and `Weak` stay std's under loom: reference counts are not part of
//! any model here, and loom's `Arc` has no `Weak` (the driver's timer hook
//! holds the reactor weakly so that a leaked timer cannot keep the poller's
//! file descriptors open).

pub(crate) use std::sync::Arc;
/// Std's under loom too: it only publishes the process-wide signal state
/// once (`crate::signal::globals`), which no model touches.
pub(crate) use std::sync::OnceLock;

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicUsize};

    /// A mutex with parking_lot's API (no poisoning).
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicUsize};

    /// loom's mutex behind parking_lot's API.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // Poisoning cannot happen in a model that does not panic; if it
            // does panic, the model has already failed.
            self.0.lock().unwrap()
        }
    }
}

pub(crate) use imp::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Mutex};

/// Memory orderings, imported by short name (STYLE.md §3). `SeqCst` is for
/// the signal handler's fences and counters (`crate::signal::globals`) and
/// for tests' and models' own bookkeeping.
pub(crate) use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
