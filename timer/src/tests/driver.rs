//! The timer under a real driver thread (see `support::Driver`): sleeps never
//! complete early, an earlier timer interrupts a long wait, and 10,000
//! concurrent sleeps all complete.

use std::task::Poll;
use std::time::{Duration, Instant};

use super::support::{poll_once, Driver, WakeCounter, WakeQueue};
use crate::context;
use crate::sleep::{sleep, sleep_until, Sleep};
use crate::timer::Timer;

/// A generous bound for "did not hang"; never a performance assertion.
const HANG: Duration = Duration::from_secs(20);

/// A deterministic spread of deadlines.
fn spread(index: usize, span: Duration) -> Duration {
    let mixed = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20;
    Duration::from_nanos(mixed % span.as_nanos() as u64)
}

/// Polls every sleep until all completed, checking none completes before its
/// deadline. Returns the worst lateness seen (for the failure message only).
fn run_to_completion(sleeps: &mut [Sleep]) -> Duration {
    let queue = WakeQueue::new();
    let mut pending = sleeps.len();
    let mut done = vec![false; sleeps.len()];
    let mut worst = Duration::ZERO;
    let mut poll = |index: usize, done: &mut Vec<bool>, pending: &mut usize| {
        if done[index] {
            return;
        }
        if poll_once(&mut sleeps[index], &queue.waker(index)).is_ready() {
            let now = Instant::now();
            let deadline = sleeps[index].deadline();
            assert!(
                now >= deadline,
                "sleep {index} completed {:?} early",
                deadline - now
            );
            worst = worst.max(now - deadline);
            done[index] = true;
            *pending -= 1;
        }
    };
    for index in 0..done.len() {
        poll(index, &mut done, &mut pending);
    }
    while pending > 0 {
        for index in queue.wait(HANG) {
            poll(index, &mut done, &mut pending);
        }
    }
    worst
}

/// Waits until the driver has started its `waits`-th blocking wait (its
/// `begin_wait` happened before, so later registrations interrupt it).
fn wait_until_blocked(driver: &Driver, waits: u64) {
    let start = Instant::now();
    while driver.waits() < waits {
        assert!(start.elapsed() < HANG, "driver never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn sleeps_never_complete_early() {
    let timer = Timer::new();
    let _driver = Driver::start(&timer);
    let _guard = context::enter(timer.handle());
    let start = Instant::now();
    let mut sleeps: Vec<Sleep> = (0..500)
        .map(|i| sleep_until(start + spread(i, Duration::from_millis(30))))
        .collect();
    let worst = run_to_completion(&mut sleeps);
    assert!(worst < HANG, "worst lateness {worst:?}");
    assert!(timer.is_empty());
}

#[test]
fn an_earlier_timer_interrupts_a_30s_wait() {
    let timer = Timer::new();
    let driver = Driver::start(&timer);
    let _guard = context::enter(timer.handle());

    // The driver first blocks with no deadline; registering the 30 s sleep
    // interrupts that wait, and it blocks again, now until 30 s from now.
    wait_until_blocked(&driver, 1);
    let mut long = sleep(Duration::from_secs(30));
    let long_counter = WakeCounter::new();
    assert!(poll_once(&mut long, &long_counter.waker()).is_pending());
    wait_until_blocked(&driver, 2);
    assert_eq!(
        timer.next_deadline(),
        Some(long.deadline()),
        "exact for a far timer"
    );
    let unparks_before = driver.unparks();

    let start = Instant::now();
    let mut short = sleep(Duration::from_millis(20));
    let queue = WakeQueue::new();
    assert!(poll_once(&mut short, &queue.waker(0)).is_pending());
    // Exactly one unpark for the earlier timer.
    assert_eq!(driver.unparks(), unparks_before + 1);
    while poll_once(&mut short, &queue.waker(0)) == Poll::Pending {
        queue.wait(HANG);
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(20),
        "completed early: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "slept through: {took:?}");

    // The long sleep is untouched and cancels on drop.
    assert_eq!(long_counter.count(), 0);
    assert_eq!(timer.len(), 1);
    drop(long);
    assert!(timer.is_empty());
}

#[test]
fn a_later_timer_does_not_unpark() {
    let timer = Timer::new();
    let driver = Driver::start(&timer);
    let _guard = context::enter(timer.handle());
    wait_until_blocked(&driver, 1);
    let mut first = sleep(Duration::from_secs(10));
    assert!(poll_once(&mut first, &WakeCounter::new().waker()).is_pending());
    wait_until_blocked(&driver, 2);
    let unparks = driver.unparks();
    let mut later = sleep(Duration::from_secs(20));
    assert!(poll_once(&mut later, &WakeCounter::new().waker()).is_pending());
    // Moving it later is lock-free and does not unpark either.
    std::pin::Pin::new(&mut first).reset(Instant::now() + Duration::from_secs(15));
    assert_eq!(driver.unparks(), unparks);
}

#[test]
fn ten_thousand_concurrent_sleeps() {
    let timer = Timer::new();
    let _driver = Driver::start(&timer);
    let _guard = context::enter(timer.handle());
    let start = Instant::now();
    let mut sleeps: Vec<Sleep> = (0..10_000)
        .map(|i| {
            sleep_until(start + Duration::from_millis(1) + spread(i, Duration::from_millis(50)))
        })
        .collect();
    run_to_completion(&mut sleeps);
    assert!(timer.is_empty());
}

#[test]
fn sleeps_created_here_complete_on_other_threads() {
    let timer = Timer::new();
    let _driver = Driver::start(&timer);
    let sleeps: Vec<Sleep> = {
        let _guard = context::enter(timer.handle());
        (0..4)
            .map(|i| sleep(Duration::from_millis(2 * i)))
            .collect()
    };
    let threads: Vec<_> = sleeps
        .into_iter()
        .map(|sleep| {
            std::thread::spawn(move || {
                assert!(context::try_current().is_none());
                let mut sleeps = [sleep];
                run_to_completion(&mut sleeps);
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(timer.is_empty());
}
