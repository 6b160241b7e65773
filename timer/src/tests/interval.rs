//! `Interval` driven by hand: the timer is processed at chosen instants a day
//! ahead of the clock, and `Interval` sees the processed time as "now".

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::support::{allocations, WakeCounter};
use crate::context;
use crate::interval::{interval, interval_at, Interval, MissedTickBehavior};
use crate::timer::Timer;

const PERIOD: Duration = Duration::from_millis(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Rig {
    timer: Timer,
    start: Instant,
    interval: Interval,
    counter: std::sync::Arc<WakeCounter>,
    _guard: context::EnterGuard,
}

impl Rig {
    fn new(behavior: MissedTickBehavior) -> Rig {
        let timer = Timer::new();
        let start = Instant::now() + Duration::from_secs(86_400);
        timer.process_at(start - ms(1));
        let guard = context::enter(timer.handle());
        let mut interval = interval_at(start, PERIOD);
        interval.set_missed_tick_behavior(behavior);
        Rig {
            timer,
            start,
            interval,
            counter: WakeCounter::new(),
            _guard: guard,
        }
    }

    fn poll(&mut self) -> Poll<Duration> {
        let waker = self.counter.waker();
        let start = self.start;
        self.interval
            .poll_tick(&mut Context::from_waker(&waker))
            .map(|tick| tick - start)
    }

    fn process(&self, at: Duration) -> usize {
        self.timer.process_at(self.start + at)
    }

    /// Runs the first tick (at `start`) and the on-time second one.
    fn two_ticks_on_time(&mut self) {
        assert_eq!(self.poll(), Poll::Pending);
        assert_eq!(self.process(ms(0)), 1);
        assert_eq!(self.poll(), Poll::Ready(ms(0)));
        assert_eq!(self.poll(), Poll::Pending);
        assert_eq!(self.process(ms(10) - Duration::from_nanos(1)), 0);
        assert_eq!(self.process(ms(10)), 1);
        assert_eq!(self.poll(), Poll::Ready(ms(10)));
        assert_eq!(self.poll(), Poll::Pending);
    }
}

#[test]
fn default_is_skip() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let interval = interval(PERIOD);
    assert_eq!(interval.missed_tick_behavior(), MissedTickBehavior::Skip);
    assert_eq!(interval.period(), PERIOD);
}

#[test]
fn first_tick_of_interval_is_immediate() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let mut interval = interval(Duration::from_secs(60));
    let waker = WakeCounter::new().waker();
    let before = Instant::now();
    match interval.poll_tick(&mut Context::from_waker(&waker)) {
        Poll::Ready(tick) => assert!(tick <= Instant::now() && tick >= before - ms(1)),
        Poll::Pending => panic!("first tick was not immediate"),
    }
    assert!(interval
        .poll_tick(&mut Context::from_waker(&waker))
        .is_pending());
}

#[test]
fn ticks_on_time_follow_the_period() {
    let mut rig = Rig::new(MissedTickBehavior::Skip);
    rig.two_ticks_on_time();
    // A tick a little late (within the 5 ms slack) keeps the grid.
    assert_eq!(rig.process(ms(24)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(20)));
    assert_eq!(rig.poll(), Poll::Pending);
    assert_eq!(rig.process(ms(30)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(30)));
}

#[test]
fn burst_catches_up_on_every_missed_tick() {
    let mut rig = Rig::new(MissedTickBehavior::Burst);
    rig.two_ticks_on_time();
    assert_eq!(rig.process(ms(55)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(20)));
    assert_eq!(rig.poll(), Poll::Ready(ms(30)));
    assert_eq!(rig.poll(), Poll::Ready(ms(40)));
    assert_eq!(rig.poll(), Poll::Ready(ms(50)));
    assert_eq!(rig.poll(), Poll::Pending);
    assert_eq!(rig.process(ms(60)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(60)));
}

#[test]
fn delay_restarts_the_period_from_the_late_tick() {
    let mut rig = Rig::new(MissedTickBehavior::Delay);
    rig.two_ticks_on_time();
    assert_eq!(rig.process(ms(35)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(20)));
    assert_eq!(rig.poll(), Poll::Pending);
    assert_eq!(rig.process(ms(45) - Duration::from_nanos(1)), 0);
    assert_eq!(rig.process(ms(45)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(45)));
    assert_eq!(rig.poll(), Poll::Pending);
    assert_eq!(rig.process(ms(55)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(55)));
}

#[test]
fn skip_drops_missed_ticks_and_keeps_the_grid() {
    let mut rig = Rig::new(MissedTickBehavior::Skip);
    rig.two_ticks_on_time();
    assert_eq!(rig.process(ms(35)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(20)));
    assert_eq!(rig.poll(), Poll::Pending);
    assert_eq!(rig.process(ms(40) - Duration::from_nanos(1)), 0);
    assert_eq!(rig.process(ms(40)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(40)));
}

#[test]
fn reset_at_moves_the_schedule() {
    let mut rig = Rig::new(MissedTickBehavior::Skip);
    rig.two_ticks_on_time();
    // Next tick was due at 20 ms; move it to 33 ms.
    rig.interval.reset_at(rig.start + ms(33));
    assert_eq!(rig.process(ms(20)), 0);
    assert_eq!(rig.poll(), Poll::Pending);
    assert_eq!(rig.process(ms(33)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(33)));
    assert_eq!(rig.poll(), Poll::Pending);
    assert_eq!(rig.process(ms(43)), 1);
    assert_eq!(rig.poll(), Poll::Ready(ms(43)));
}

#[test]
fn ticking_reuses_the_entry() {
    let mut rig = Rig::new(MissedTickBehavior::Skip);
    assert_eq!(rig.poll(), Poll::Pending);
    let before = allocations();
    for tick in 0..100 {
        assert_eq!(rig.process(PERIOD * tick), 1);
        assert_eq!(rig.poll(), Poll::Ready(PERIOD * tick));
        assert_eq!(rig.poll(), Poll::Pending);
    }
    assert_eq!(allocations(), before, "ticks allocated");
}

#[test]
#[should_panic(expected = "`period` must be non-zero")]
fn zero_period_panics() {
    let timer = Timer::new();
    let _guard = context::enter(timer.handle());
    let _ = interval(Duration::ZERO);
}
