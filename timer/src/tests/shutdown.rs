//! `Timer::shutdown`: every waiter is woken, and timer futures polled
//! afterwards panic with a clear message instead of waiting forever.

use std::future::{pending, ready};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::support::{poll_noop, poll_once, Driver, WakeCounter};
use crate::context;
use crate::interval::interval_at;
use crate::sleep::{sleep, sleep_until, Sleep};
use crate::timeout::timeout;
use crate::timer::{Timer, SHUT_DOWN_MESSAGE};

fn assert_panics_shut_down(f: impl FnOnce()) {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert_eq!(message, SHUT_DOWN_MESSAGE);
}

#[test]
fn message_names_the_runtime() {
    assert_eq!(
        SHUT_DOWN_MESSAGE,
        "the weft runtime that owns this timer has shut down"
    );
}

#[test]
fn shutdown_wakes_every_waiter_then_polls_panic() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let counter = WakeCounter::new();
    let waker = counter.waker();
    let now = Instant::now();

    // More sleeps than one wake batch, spread over every level.
    let mut sleeps: Vec<Sleep> = (0..100u32)
        .map(|i| sleep_until(now + Duration::from_millis(1) * 3u32.pow(i % 16)))
        .collect();
    for sleep in &mut sleeps {
        assert!(poll_once(sleep, &waker).is_pending());
    }
    let mut wrapped = timeout(Duration::from_secs(60), pending::<()>());
    assert!(poll_once(&mut wrapped, &waker).is_pending());
    let mut ticks = interval_at(now + Duration::from_secs(60), Duration::from_secs(1));
    assert!(ticks
        .poll_tick(&mut Context::from_waker(&waker))
        .is_pending());
    assert_eq!(timer.len(), 102);

    timer.shutdown();
    assert!(timer.is_shutdown());
    assert_eq!(counter.count(), 102, "every waiter is woken");
    assert!(timer.is_empty());

    assert_panics_shut_down(|| {
        let _ = poll_noop(&mut sleeps[0]);
    });
    assert_panics_shut_down(|| {
        let _ = poll_noop(&mut wrapped);
    });
    assert_panics_shut_down(|| {
        let _ = ticks.poll_tick(&mut Context::from_waker(&waker));
    });
    // A timer created after shutdown panics at its first poll too.
    let mut late = sleep(Duration::from_millis(1));
    assert_panics_shut_down(|| {
        let _ = poll_noop(&mut late);
    });
    // A timeout whose future is ready still returns its output.
    let mut done = timeout(Duration::from_secs(1), ready(7));
    assert_eq!(poll_noop(&mut done), Poll::Ready(Ok(7)));
    // Dropping everything afterwards is fine.
    drop(sleeps);
    drop(wrapped);
    drop(ticks);
}

#[test]
fn shutdown_with_a_running_driver_wakes_tasks_on_other_threads() {
    let timer = Timer::new();
    let driver = Driver::start(&timer);
    let sleep = {
        let _guard = context::enter(timer.handle());
        sleep(Duration::from_secs(30))
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let counter = WakeCounter::new();
        let mut sleep = sleep;
        assert!(poll_once(&mut sleep, &counter.waker()).is_pending());
        sender.send(()).unwrap();
        while counter.count() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        catch_unwind(AssertUnwindSafe(|| poll_noop(&mut sleep))).is_err()
    });
    receiver.recv().unwrap();
    timer.shutdown();
    assert!(waiter.join().unwrap(), "poll after shutdown did not panic");
    drop(driver);
}
