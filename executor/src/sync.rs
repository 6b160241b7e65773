//! The one door through which the executor reaches concurrency primitives.
//!
//! Normally these are std's atomics, parking_lot's locks and crossbeam-deque's
//! queues. Under `cfg(loom)` every one of them is swapped for a type loom can
//! see (loom's atomics, mutexes, threads and thread-locals, and a small
//! lock-based model of the deques with the same API), so that the model checks
//! in `crate::loom_tests` explore our own protocols. No other file imports
//! `std::sync::atomic`, `parking_lot` or `crossbeam_deque` directly.

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread_local;

    pub(crate) mod deque {
        pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};
    }

    pub(crate) mod thread {
        pub(crate) use std::thread::{Builder, JoinHandle};
    }

    /// A mutex with parking_lot's API (no poisoning).
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    /// A condvar whose `wait` takes and returns the guard, so that the same
    /// call sites compile against loom's std-shaped condvar.
    #[derive(Default, Debug)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(parking_lot::Condvar::new())
        }
        pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }
        /// Waits at most `timeout`; returns the guard and whether it timed out.
        pub(crate) fn wait_timeout<'a, T>(
            &self,
            mut guard: MutexGuard<'a, T>,
            timeout: std::time::Duration,
        ) -> (MutexGuard<'a, T>, bool) {
            let timed_out = self.0.wait_for(&mut guard, timeout).timed_out();
            (guard, timed_out)
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread_local;

    pub(crate) mod deque {
        pub(crate) use crate::loom_deque::{Injector, Steal, Stealer, Worker};
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::{Builder, JoinHandle};
    }

    /// loom's mutex behind parking_lot's API.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap()
        }
        /// loom does not model time: a timed wait is an untimed one.
        pub(crate) fn wait_timeout<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _timeout: std::time::Duration,
        ) -> (MutexGuard<'a, T>, bool) {
            (self.0.wait(guard).unwrap(), false)
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

pub(crate) use imp::*;

/// Atomics for plain counters that take part in no protocol (task ids,
/// thread-name counters, metrics). They stay std's even under loom, because loom's
/// atomics cannot live in a `static` and nothing here needs checking.
pub(crate) mod unmodelled {
    pub(crate) use std::sync::atomic::{
        AtomicU64, AtomicU64 as StaticAtomicU64, Ordering::Relaxed,
    };
}

pub(crate) use crossbeam_utils::CachePadded;

/// An `UnsafeCell` with loom's closure API (`with` / `with_mut`), so that
/// loom can check the accesses of the trace buffers (`crate::trace`).
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// `repr(transparent)`: same layout as `T` (the trace buffers rely on
    /// it to allocate their slots uninitialised).
    #[cfg(not(loom))]
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        #[allow(dead_code)] // the trace buffers construct cells only under loom
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
