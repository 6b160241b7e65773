//! The futures' contracts, driven by hand with `process_at` at chosen
//! instants: exact deadlines, lazy registration and its allocation budget,
//! the coop budget, resets, and the panics outside a runtime.

use std::future::{pending, ready, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use weft_executor::coop;

use super::support::{allocations, poll_noop, poll_once, WakeCounter};
use crate::context;
use crate::interval::{interval, Interval};
use crate::sleep::{sleep, sleep_until, Sleep};
use crate::timeout::{timeout, timeout_at, Elapsed, Timeout};
use crate::timer::{Handle, Timer};

/// A timer and a simulated "now" a day ahead of the clock, so only
/// `process_at` decides what is due.
fn simulated() -> (Timer, Instant) {
    let timer = Timer::new();
    let now = Instant::now() + Duration::from_secs(86_400);
    timer.process_at(now);
    (timer, now)
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|message| message.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_clone<T: Clone>() {}
    assert_send_sync::<Timer>();
    assert_send_sync::<Handle>();
    assert_send_sync::<Sleep>();
    assert_send_sync::<Timeout<std::future::Ready<u8>>>();
    assert_send_sync::<Interval>();
    assert_send_sync::<Elapsed>();
    assert_clone::<Timer>();
    assert_clone::<Handle>();
}

#[test]
fn timeout_of_a_ready_future_allocates_nothing_and_registers_nothing() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let waker = WakeCounter::new().waker();
    let before = allocations();
    let mut wrapped = timeout(Duration::from_secs(1), ready(5));
    let result = poll_once(&mut wrapped, &waker);
    assert_eq!(allocations(), before, "timeout(ready) allocated");
    assert_eq!(result, Poll::Ready(Ok(5)));
    assert!(timer.is_empty());
}

#[test]
fn a_timer_allocates_its_entry_once() {
    let (timer, now) = simulated();
    let _guard = context::enter(timer.handle());
    let waker = WakeCounter::new().waker();
    let deadline = now + Duration::from_secs(1);

    let before = allocations();
    let mut sleep = sleep_until(deadline);
    assert_eq!(allocations(), before, "creating a sleep allocated");
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(allocations(), before + 1, "registration is one allocation");

    // Re-polling, moving the deadline later, firing and re-arming reuse it.
    assert!(poll_once(&mut sleep, &waker).is_pending());
    Pin::new(&mut sleep).reset(deadline + Duration::from_secs(1));
    assert_eq!(timer.process_at(deadline + Duration::from_secs(1)), 1);
    assert!(poll_once(&mut sleep, &waker).is_ready());
    Pin::new(&mut sleep).reset(deadline + Duration::from_secs(5));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(allocations(), before + 1, "re-arming allocated");
}

#[test]
fn sleep_completes_exactly_at_its_deadline() {
    let (timer, now) = simulated();
    let _guard = context::enter(timer.handle());
    let deadline = now + Duration::from_micros(1_234_567);
    let counter = WakeCounter::new();
    let mut sleep = sleep_until(deadline);
    assert!(poll_once(&mut sleep, &counter.waker()).is_pending());
    assert!(!sleep.is_elapsed());
    assert_eq!(timer.next_deadline().map(|d| d <= deadline), Some(true));

    assert_eq!(timer.process_at(deadline - Duration::from_nanos(1)), 0);
    assert_eq!(counter.count(), 0);
    assert!(poll_once(&mut sleep, &counter.waker()).is_pending());
    assert_eq!(timer.process_at(deadline), 1);
    assert_eq!(counter.count(), 1);
    assert!(sleep.is_elapsed());
    assert!(poll_once(&mut sleep, &counter.waker()).is_ready());
    // Completed sleeps stay completed.
    assert!(poll_once(&mut sleep, &counter.waker()).is_ready());
}

#[test]
fn a_past_deadline_completes_at_the_first_poll() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let mut zero = sleep(Duration::ZERO);
    assert!(poll_noop(&mut zero).is_ready());
    let mut past = sleep_until(Instant::now() - Duration::from_millis(5));
    assert!(poll_noop(&mut past).is_ready());
    assert!(timer.is_empty());
}

#[test]
fn huge_durations_do_not_overflow() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let mut forever = sleep(Duration::MAX);
    assert!(poll_noop(&mut forever).is_pending());
    assert!(forever.deadline() > Instant::now() + Duration::from_secs(20 * 365 * 86_400));
    assert_eq!(timer.len(), 1);
    drop(forever);
    assert!(timer.is_empty());
}

#[test]
fn reset_moves_the_deadline_both_ways() {
    let (timer, now) = simulated();
    let _guard = context::enter(timer.handle());
    let counter = WakeCounter::new();
    let mut sleep = sleep_until(now + Duration::from_millis(50));
    assert!(poll_once(&mut sleep, &counter.waker()).is_pending());

    // Later (lock-free): the old deadline no longer fires it.
    Pin::new(&mut sleep).reset(now + Duration::from_millis(80));
    assert_eq!(timer.process_at(now + Duration::from_millis(50)), 0);
    assert_eq!(counter.count(), 0);
    // Earlier: re-filed, fires at the new deadline.
    Pin::new(&mut sleep).reset(now + Duration::from_millis(60));
    assert_eq!(timer.next_deadline(), Some(now + Duration::from_millis(60)));
    assert_eq!(timer.process_at(now + Duration::from_millis(60)), 1);
    assert!(poll_once(&mut sleep, &counter.waker()).is_ready());

    // Resetting a completed sleep makes it pending again.
    Pin::new(&mut sleep).reset(now + Duration::from_millis(70));
    assert!(!sleep.is_elapsed());
    assert!(poll_once(&mut sleep, &counter.waker()).is_pending());
    // Resetting to a deadline already processed fires it at once.
    Pin::new(&mut sleep).reset(now + Duration::from_millis(10));
    assert_eq!(counter.count(), 2);
    assert!(poll_once(&mut sleep, &counter.waker()).is_ready());
    assert!(timer.is_empty());
}

#[test]
fn dropping_a_pending_sleep_cancels_it() {
    let (timer, now) = simulated();
    let _guard = context::enter(timer.handle());
    let counter = WakeCounter::new();
    let mut sleeps: Vec<Sleep> = (1..=3)
        .map(|ms| sleep_until(now + Duration::from_millis(ms)))
        .collect();
    for sleep in &mut sleeps {
        assert!(poll_once(sleep, &counter.waker()).is_pending());
    }
    assert_eq!(timer.len(), 3);
    drop(sleeps.remove(1));
    assert_eq!(timer.len(), 2);
    assert_eq!(timer.process_at(now + Duration::from_millis(3)), 2);
    assert_eq!(counter.count(), 2);
}

#[test]
fn timeout_elapses_exactly_at_its_deadline() {
    let (timer, now) = simulated();
    let _guard = context::enter(timer.handle());
    let deadline = now + Duration::from_millis(10);
    let mut wrapped = timeout_at(deadline, pending::<()>());
    assert_eq!(wrapped.deadline(), deadline);
    assert!(poll_noop(&mut wrapped).is_pending());
    timer.process_at(deadline - Duration::from_nanos(1));
    assert!(poll_noop(&mut wrapped).is_pending());
    timer.process_at(deadline);
    match poll_noop(&mut wrapped) {
        Poll::Ready(Err(elapsed)) => assert_eq!(elapsed.to_string(), "deadline has elapsed"),
        other => panic!("expected Elapsed, got {other:?}"),
    }
}

#[test]
fn timeout_returns_the_output_when_the_future_wins() {
    let (timer, now) = simulated();
    let _guard = context::enter(timer.handle());
    let inner = sleep_until(now + Duration::from_millis(5));
    let mut wrapped = timeout_at(now + Duration::from_millis(10), inner);
    assert!(poll_noop(&mut wrapped).is_pending());
    assert_eq!(timer.len(), 2);
    timer.process_at(now + Duration::from_millis(5));
    assert_eq!(poll_noop(&mut wrapped), Poll::Ready(Ok(())));
    drop(wrapped);
    assert!(timer.is_empty());

    // Accessors reach the inner future.
    let inner_deadline = now + Duration::from_secs(3);
    let mut wrapped = timeout(Duration::from_secs(1), sleep_until(inner_deadline));
    assert_eq!(wrapped.get_ref().deadline(), inner_deadline);
    Pin::new(wrapped.get_mut()).reset(inner_deadline + Duration::from_secs(1));
    assert_eq!(
        wrapped.into_inner().deadline(),
        inner_deadline + Duration::from_secs(1)
    );
}

#[test]
fn sleep_spends_the_coop_budget() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let counter = WakeCounter::new();
    let mut done: Vec<Sleep> = (0..=coop::BUDGET as usize)
        .map(|_| sleep(Duration::ZERO))
        .collect();
    coop::with_budget(|| {
        for (i, sleep) in done.iter_mut().enumerate() {
            let poll = poll_once(sleep, &counter.waker());
            if i < coop::BUDGET as usize {
                assert!(poll.is_ready(), "ready sleep {i} was held back");
            } else {
                assert!(poll.is_pending(), "budget not enforced");
            }
        }
    });
    // Held back means woken, so the task runs again later.
    assert_eq!(counter.count(), 1);
}

/// A future that spends the whole budget and stays pending.
struct Greedy;

impl Future for Greedy {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        while let Poll::Ready(mut unit) = coop::poll_proceed(cx) {
            unit.made_progress();
        }
        Poll::Pending
    }
}

#[test]
fn timeout_fires_even_when_the_future_spent_the_budget() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let mut wrapped = timeout(Duration::ZERO, Greedy);
    let poll = coop::with_budget(|| poll_noop(&mut wrapped));
    assert!(matches!(poll, Poll::Ready(Err(_))), "{poll:?}");
}

#[test]
fn creating_timers_outside_a_runtime_panics_clearly() {
    assert!(context::try_current().is_none());
    let message = panic_message(|| drop(sleep(Duration::from_secs(1))));
    assert_eq!(
        message,
        "weft::time::sleep must be called from inside a weft runtime \
         (a task, block_on, or Handle::enter)"
    );
    let message = panic_message(|| drop(timeout(Duration::from_secs(1), ready(()))));
    assert!(message.starts_with("weft::time::timeout must be called from inside"));
    let message = panic_message(|| drop(interval(Duration::from_secs(1))));
    assert!(message.starts_with("weft::time::interval must be called from inside"));
}

#[test]
fn enter_nests_and_restores() {
    let (a, b) = (Timer::new(), Timer::new());
    assert!(context::try_current().is_none());
    {
        let _outer = context::enter(a.handle());
        {
            let _inner = context::enter(b.handle());
            assert!(context::try_current().unwrap().ptr_eq(&b.handle()));
        }
        assert!(context::try_current().unwrap().ptr_eq(&a.handle()));
        let previous = context::set_current(None);
        assert!(previous.unwrap().ptr_eq(&a.handle()));
        context::set_current(Some(a.handle()));
    }
    assert!(context::try_current().is_none());
}
