//! loom models of the entry protocol (run with `RUSTFLAGS="--cfg loom"`).
//!
//! Each model has a driver thread firing the timer with `process_at` and the
//! owner thread doing something to the same `Sleep` at the same time. loom
//! explores the interleavings of the state word, the waker cell and the wheel
//! lock, and reports data races on the cell and leaked entries.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use loom::thread;

use crate::sleep::Sleep;
use crate::sync::{AtomicU64, Relaxed};
use crate::timer::Timer;

/// A waker target that counts wakeups, visible to loom.
struct Counter(AtomicU64);

impl Counter {
    fn new() -> std::sync::Arc<Counter> {
        std::sync::Arc::new(Counter(AtomicU64::new(0)))
    }

    /// Relaxed: read after the waking thread was joined.
    fn count(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

impl Wake for Counter {
    fn wake(self: std::sync::Arc<Self>) {
        // Relaxed: see `count`.
        self.0.fetch_add(1, Relaxed);
    }
}

fn poll(sleep: &mut Sleep, counter: &std::sync::Arc<Counter>) -> Poll<()> {
    let waker = Waker::from(counter.clone());
    Pin::new(sleep).poll(&mut Context::from_waker(&waker))
}

/// A registered sleep due in an hour of timer time (far from the real
/// clock, so only `process_at` decides).
fn registered_sleep(timer: &Timer, counter: &std::sync::Arc<Counter>) -> (Sleep, Instant) {
    let deadline = Instant::now() + Duration::from_secs(3_600);
    let mut sleep = Sleep::new(timer.handle(), deadline);
    assert!(poll(&mut sleep, counter).is_pending());
    (sleep, deadline)
}

/// Fire racing cancel: the sleep is dropped while the driver fires it.
/// Either the firing wins (one wakeup) or the cancellation does (none); the
/// wheel ends empty and no entry leaks.
#[test]
fn fire_races_cancel() {
    loom::model(|| {
        let timer = Timer::new();
        let counter = Counter::new();
        let (sleep, deadline) = registered_sleep(&timer, &counter);

        let driver = timer.clone();
        let fire = thread::spawn(move || driver.process_at(deadline));
        drop(sleep);
        let fired = fire.join().unwrap();

        assert!(fired <= 1);
        assert_eq!(counter.count(), fired as u64);
        assert!(timer.is_empty());
    });
}

/// Waker replaced while firing: the owner re-polls with a new waker while the
/// driver fires. No lost wakeup: either that poll sees the firing, or the new
/// waker is the one woken.
#[test]
fn waker_replaced_while_firing() {
    loom::model(|| {
        let timer = Timer::new();
        let first = Counter::new();
        let (mut sleep, deadline) = registered_sleep(&timer, &first);

        let driver = timer.clone();
        let fire = thread::spawn(move || driver.process_at(deadline));
        let second = Counter::new();
        let ready = poll(&mut sleep, &second).is_ready();
        assert_eq!(fire.join().unwrap(), 1);

        if !ready {
            assert_eq!(second.count(), 1, "lost wakeup");
            assert_eq!(first.count(), 0, "woke the replaced waker");
        }
        assert!(first.count() + second.count() <= 1);
        assert!(poll(&mut sleep, &second).is_ready());
        assert!(timer.is_empty());
    });
}

/// Moving the deadline later without the lock while the driver fires the old
/// one: whichever wins, the sleep never completes before its new deadline,
/// and it does complete at it.
#[test]
fn extend_races_fire() {
    loom::model(|| {
        let timer = Timer::new();
        let counter = Counter::new();
        let (mut sleep, deadline) = registered_sleep(&timer, &counter);
        let later = deadline + Duration::from_secs(1);

        let driver = timer.clone();
        let fire = thread::spawn(move || driver.process_at(deadline));
        Pin::new(&mut sleep).reset(later);
        fire.join().unwrap();

        assert!(poll(&mut sleep, &counter).is_pending(), "completed early");
        let before = counter.count();
        assert_eq!(timer.process_at(later), 1);
        assert_eq!(counter.count(), before + 1);
        assert!(poll(&mut sleep, &counter).is_ready());
    });
}

/// The driver handshake: a timer registered while the driver is entering its
/// wait is either part of the deadline `begin_wait` returns, or unparks it.
#[test]
fn an_earlier_timer_is_never_slept_through() {
    loom::model(|| {
        let timer = Timer::new();
        let unparks = Counter::new();
        let unpark = unparks.clone();
        timer.set_unpark(move || Waker::from(unpark.clone()).wake());

        let driver = timer.clone();
        let wait = thread::spawn(move || driver.begin_wait());
        let counter = Counter::new();
        let (sleep, deadline) = registered_sleep(&timer, &counter);
        let waits_until = wait.join().unwrap();

        let sees_it = waits_until.is_some_and(|until| until <= deadline);
        assert!(sees_it || unparks.count() == 1, "wait misses the timer");
        assert!(unparks.count() <= 1);
        drop(sleep);
    });
}

/// Two threads processing the timer while the owner cancels: the entry fires
/// at most once and nothing leaks.
#[test]
fn concurrent_processing_fires_once() {
    loom::model(|| {
        let timer = Timer::new();
        let counter = Counter::new();
        let (sleep, deadline) = registered_sleep(&timer, &counter);

        let processors: Vec<_> = (0..2)
            .map(|_| {
                let timer = timer.clone();
                thread::spawn(move || timer.process_at(deadline))
            })
            .collect();
        drop(sleep);
        let fired: usize = processors.into_iter().map(|p| p.join().unwrap()).sum();

        assert!(fired <= 1);
        assert_eq!(counter.count(), fired as u64);
        assert!(timer.is_empty());
    });
}
