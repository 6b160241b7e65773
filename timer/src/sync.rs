//! The one door through which the timer reaches concurrency primitives.
//!
//! Normally these are std's atomics and `Arc`, parking_lot's mutex and a thin
//! wrapper over `std::cell::UnsafeCell`. Under `cfg(loom)` each is swapped for
//! the type loom can see, so that the models in `crate::loom_tests` explore the
//! entry protocol and the wheel lock. No other file imports
//! `std::sync::atomic` or `parking_lot` directly.
//!
//! Memory orderings are re-exported by their short names (`Acquire`,
//! `Release`, ...) so call sites read like the protocol comments next to them.

pub(crate) use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// The callback a driver installs with `Timer::set_unpark`. It is not part of
/// any modelled protocol (loom never sees it), so it is a plain std `Arc` in
/// both configurations.
pub(crate) type Callback = std::sync::Arc<dyn Fn() + Send + Sync + 'static>;

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64};
    pub(crate) use std::sync::Arc;

    /// A mutex with parking_lot's API: no poisoning, `lock` returns the guard.
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    /// parking_lot's condvar, for the hand-rolled drivers of the tests.
    #[cfg(test)]
    pub(crate) type Condvar = parking_lot::Condvar;

    /// `std::cell::UnsafeCell` behind loom's closure-based API, so the same
    /// call sites compile in both configurations and loom can track every
    /// access.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with an exclusive pointer to the contents.
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64};
    pub(crate) use loom::sync::Arc;

    /// loom's mutex behind parking_lot's API (`lock` returns the guard).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // Poisoning only follows a panic, which already fails the model.
            self.0.lock().expect("a loom model thread panicked")
        }
    }
}

pub(crate) use imp::*;
