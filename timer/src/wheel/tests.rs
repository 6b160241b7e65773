//! The wheel against a brute-force model, plus targeted cases.
//!
//! The model is a plain list of (deadline, armed) per sleep: at each
//! `process_at(now)` exactly the armed, pending sleeps with `deadline <= now`
//! must fire, and every other poll must stay pending. The wheel is driven
//! through the public futures (`Sleep`, `reset`, drop) so the lazy paths
//! (lock-free `try_extend`, lazy re-arm, near-queue promotion) are covered
//! too. Simulated time runs a day ahead of the clock, so only the wheel
//! decides what is due.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::level::NS_PER_TICK;
use crate::sleep::Sleep;
use crate::tests::support::WakeCounter;
use crate::timer::Timer;

/// A small fixed-seed PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A delay from a mix of scales: sub-tick, a few ticks, every level of
    /// the wheel, and beyond its span.
    fn delay(&mut self) -> Duration {
        let ns = match self.below(12) {
            0 => 0,
            1..=3 => self.below(2 * NS_PER_TICK),
            4..=5 => self.below(100 * NS_PER_TICK),
            6 => self.below(5_000 * NS_PER_TICK),
            7 => self.below(400_000 * NS_PER_TICK),
            8 => self.below(20_000_000 * NS_PER_TICK),
            9 => self.below(2_000_000_000 * NS_PER_TICK),
            // Past the wheel's span (about 2.2 years): clamped, re-filed.
            10 => 70_000_000_000 * NS_PER_TICK + self.below(1 << 50),
            _ => self.below(64 * NS_PER_TICK),
        };
        Duration::from_nanos(ns)
    }
}

struct Tracked {
    sleep: Sleep,
    deadline: Instant,
    counter: StdArc<WakeCounter>,
    /// Wakeups already accounted for.
    seen: u64,
    /// Registered and pending: must fire once `deadline <= now`.
    armed: bool,
    done: bool,
    log: Vec<String>,
}

struct Sim {
    timer: Timer,
    start: Instant,
    now: Instant,
    sleeps: Vec<Tracked>,
    rng: Rng,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let timer = Timer::new();
        let now = Instant::now() + Duration::from_secs(86_400);
        timer.process_at(now);
        Sim {
            timer,
            start: now,
            now,
            sleeps: Vec::new(),
            rng: Rng(seed),
        }
    }

    fn poll(tracked: &mut Tracked) -> Poll<()> {
        let waker = tracked.counter.waker();
        let poll = Pin::new(&mut tracked.sleep).poll(&mut Context::from_waker(&waker));
        tracked.seen = tracked.counter.count();
        poll
    }

    /// Polls `tracked` and checks the result against the model.
    fn poll_and_check(&mut self, index: usize) {
        let now = self.now;
        let tracked = &mut self.sleeps[index];
        let poll = Sim::poll(tracked);
        let due = tracked.deadline <= now;
        assert_eq!(poll.is_ready(), due, "sleep {index} due={due} at {now:?}");
        tracked.done = due;
        tracked.armed = !due;
        tracked.log.push(format!(
            "poll at {now:?} deadline {:?} -> {poll:?}",
            tracked.deadline
        ));
    }

    fn insert(&mut self) {
        let deadline = self.now + self.rng.delay();
        let sleep = Sleep::new(self.timer.handle(), deadline);
        self.sleeps.push(Tracked {
            sleep,
            deadline,
            counter: WakeCounter::new(),
            seen: 0,
            armed: false,
            done: false,
            log: vec![],
        });
        self.poll_and_check(self.sleeps.len() - 1);
    }

    fn cancel(&mut self) {
        if self.sleeps.is_empty() {
            return;
        }
        let index = self.rng.below(self.sleeps.len() as u64) as usize;
        drop(self.sleeps.swap_remove(index));
    }

    fn reset(&mut self) {
        if self.sleeps.is_empty() {
            return;
        }
        let index = self.rng.below(self.sleeps.len() as u64) as usize;
        let old = self.sleeps[index].deadline;
        let deadline = match self.rng.below(3) {
            // Later than before: the lock-free path when armed.
            0 => old.max(self.now) + Duration::from_nanos(self.rng.below(3 * NS_PER_TICK)),
            1 => old + self.rng.delay(),
            // Anything from now on, often earlier.
            _ => self.now + self.rng.delay(),
        };
        let now = self.now;
        let poll_now = self.rng.chance(70);
        let tracked = &mut self.sleeps[index];
        let was_armed = tracked.armed;
        Pin::new(&mut tracked.sleep).reset(deadline);
        tracked.log.push(format!(
            "reset at {now:?} from {:?} to {deadline:?} armed {was_armed}",
            tracked.deadline
        ));
        tracked.deadline = deadline;
        tracked.done = false;
        if was_armed {
            // Still registered; a reset to a due deadline fires it at once.
            let woke = tracked.counter.count() > tracked.seen;
            assert_eq!(woke, deadline <= now, "reset of sleep {index} woke={woke}");
            tracked.armed = deadline > now;
        } else {
            // Completed (or fired unobserved): idle until the next poll.
            tracked.armed = false;
        }
        // Usually poll at once; sometimes leave it (armed sleeps stay
        // registered, idle ones stay unregistered until polled).
        if !was_armed || poll_now {
            self.poll_and_check(index);
        } else {
            tracked.seen = tracked.counter.count();
        }
    }

    fn advance(&mut self) {
        // Big jumps only while the simulated clock is young, so the run stays
        // far inside the 36 years a deadline can express.
        let young = self.now - self.start < Duration::from_secs(4 * 365 * 86_400);
        let step = match self.rng.below(10) {
            0..=5 => Duration::from_nanos(self.rng.below(3 * NS_PER_TICK)),
            6..=7 => Duration::from_nanos(self.rng.below(200 * NS_PER_TICK)),
            8 if young => self.rng.delay(),
            8 => Duration::from_nanos(self.rng.below(100_000 * NS_PER_TICK)),
            _ => Duration::ZERO,
        };
        self.now += step;
        let fired = self.timer.process_at(self.now);
        let mut expected = 0;
        for index in 0..self.sleeps.len() {
            let now = self.now;
            let tracked = &mut self.sleeps[index];
            let woke = tracked.counter.count() > tracked.seen;
            let due = tracked.armed && tracked.deadline <= now;
            assert_eq!(
                woke,
                due,
                "sleep {index}: woke={woke}, due={due}, deadline-now={:?} / now-deadline={:?}, sleep={:?}",
                tracked.deadline.saturating_duration_since(now),
                now.saturating_duration_since(tracked.deadline),
                tracked.log
            );
            if due {
                expected += 1;
                assert!(Sim::poll(tracked).is_ready(), "fired sleep {index} pending");
                tracked.armed = false;
                tracked.done = true;
            }
        }
        assert_eq!(fired, expected, "fired count at {:?}", self.now);
    }

    fn check_next_deadline(&mut self) {
        let next = self.timer.next_deadline();
        let earliest = self
            .sleeps
            .iter()
            .filter(|t| t.armed)
            .map(|t| t.deadline)
            .min();
        assert_eq!(next.is_some(), earliest.is_some());
        if let (Some(next), Some(earliest)) = (next, earliest) {
            assert!(
                next <= earliest,
                "next_deadline later than the earliest timer"
            );
            assert!(
                next > self.now,
                "next_deadline not after the processed time"
            );
            let inner = self.timer.inner();
            let (next_ns, earliest_ns) = (inner.ns(next), inner.ns(earliest));
            let now_tick = inner.ns(self.now) / NS_PER_TICK;
            // Within the current 64-tick window it must be exact.
            if (earliest_ns / NS_PER_TICK) >> 6 == now_tick >> 6 {
                assert_eq!(next_ns, earliest_ns, "next_deadline not exact");
            }
        }
    }

    fn check(&self) {
        let armed = self.sleeps.iter().filter(|t| t.armed).count();
        assert_eq!(self.timer.len(), armed);
        self.timer.inner().lock().check_invariants();
    }
}

fn run_model(seed: u64, steps: usize) {
    let mut sim = Sim::new(seed);
    for step in 0..steps {
        let crowded = sim.sleeps.len() > 300;
        match sim.rng.below(100) {
            0..=34 if !crowded => sim.insert(),
            0..=49 => sim.cancel(),
            50..=64 => sim.reset(),
            65..=94 => sim.advance(),
            _ => sim.check_next_deadline(),
        }
        if step % 64 == 0 {
            sim.check();
        }
    }
    // Drain: everything armed fires by the far future, never early.
    sim.check_next_deadline();
    while sim.sleeps.iter().any(|t| t.armed) {
        let next = sim
            .timer
            .next_deadline()
            .expect("armed sleeps are registered");
        assert!(next > sim.now);
        sim.now = next;
        sim.advance_exactly();
    }
    sim.check();
    sim.sleeps.clear();
    assert!(sim.timer.is_empty());
}

impl Sim {
    /// Processes `self.now` without moving it.
    fn advance_exactly(&mut self) {
        let fired = self.timer.process_at(self.now);
        let mut expected = 0;
        for tracked in &mut self.sleeps {
            let due = tracked.armed && tracked.deadline <= self.now;
            assert_eq!(tracked.counter.count() > tracked.seen, due);
            if due {
                expected += 1;
                assert!(Sim::poll(tracked).is_ready());
                tracked.armed = false;
            }
        }
        assert_eq!(fired, expected);
    }
}

#[test]
fn wheel_matches_brute_force_model() {
    // Under Miri the point is every list and queue operation on every
    // path, not the depth of the search: one short run.
    let (seeds, steps) = if cfg!(miri) { (1, 300) } else { (4, 20_000) };
    for seed in [1, 0x5eed, 0xdead_beef, 0x1234_5678_9abc_def0]
        .into_iter()
        .take(seeds)
    {
        run_model(seed, steps);
    }
}

#[test]
fn sleeps_within_one_tick_fire_in_exact_order() {
    let mut sim = Sim::new(7);
    let base = sim.now + Duration::from_millis(3);
    // Five deadlines inside the same millisecond, inserted out of order.
    for offset_us in [700, 100, 900, 300, 500] {
        let deadline = base + Duration::from_micros(offset_us);
        sim.sleeps.push(Tracked {
            sleep: Sleep::new(sim.timer.handle(), deadline),
            deadline,
            counter: WakeCounter::new(),
            seen: 0,
            armed: false,
            done: false,
            log: vec![],
        });
        let last = sim.sleeps.len() - 1;
        sim.poll_and_check(last);
    }
    for offset_us in [100, 300, 500, 700, 900] {
        let deadline = base + Duration::from_micros(offset_us);
        assert_eq!(sim.timer.next_deadline(), Some(deadline));
        sim.now = deadline - Duration::from_nanos(1);
        sim.advance_exactly();
        sim.now = deadline;
        sim.advance_exactly();
    }
    assert!(sim.timer.is_empty());
    sim.check();
}

#[test]
fn a_deadline_beyond_the_wheel_span_fires_exactly() {
    let mut sim = Sim::new(9);
    let deadline = sim.now + Duration::from_secs(3 * 365 * 86_400) + Duration::from_nanos(123);
    sim.sleeps.push(Tracked {
        sleep: Sleep::new(sim.timer.handle(), deadline),
        deadline,
        counter: WakeCounter::new(),
        seen: 0,
        armed: false,
        done: false,
        log: vec![],
    });
    sim.poll_and_check(0);
    let mut wakeups = 0;
    while sim.sleeps[0].armed {
        let next = sim.timer.next_deadline().unwrap();
        assert!(next <= deadline);
        sim.now = next;
        sim.advance_exactly();
        wakeups += 1;
        assert!(
            wakeups < 64,
            "too many driver wakeups to reach a far deadline"
        );
    }
    assert_eq!(sim.now, deadline);
}

#[test]
fn cancelled_near_items_do_not_pile_up() {
    let mut sim = Sim::new(11);
    let rounds = if cfg!(miri) { 40 } else { 1_000u64 };
    for round in 0..rounds {
        let deadline = sim.now + Duration::from_nanos(1 + round % 900_000);
        let mut tracked = Tracked {
            sleep: Sleep::new(sim.timer.handle(), deadline),
            deadline,
            counter: WakeCounter::new(),
            seen: 0,
            armed: false,
            done: false,
            log: vec![],
        };
        assert!(Sim::poll(&mut tracked).is_pending());
        // Earlier resets leave stale items behind as well.
        Pin::new(&mut tracked.sleep).reset(deadline - Duration::from_nanos(1));
        drop(tracked);
    }
    assert!(sim.timer.is_empty());
    sim.now += Duration::from_millis(2);
    assert_eq!(sim.timer.process_at(sim.now), 0);
    assert_eq!(sim.timer.inner().lock().near_items(), 0);
}

#[test]
fn next_deadline_is_exact_far_out_and_recovers_after_a_cancel() {
    let mut sim = Sim::new(13);
    let first = sim.now + Duration::from_secs(30) + Duration::from_nanos(7);
    let second = sim.now + Duration::from_secs(31) + Duration::from_nanos(9);
    for deadline in [first, second] {
        sim.sleeps.push(Tracked {
            sleep: Sleep::new(sim.timer.handle(), deadline),
            deadline,
            counter: WakeCounter::new(),
            seen: 0,
            armed: false,
            done: false,
            log: vec![],
        });
        let last = sim.sleeps.len() - 1;
        sim.poll_and_check(last);
    }
    assert_eq!(sim.timer.next_deadline(), Some(first));
    // Cancelling the first leaves its slot's minimum behind: early, never
    // late, and one wakeup there makes the answer exact again.
    drop(sim.sleeps.remove(0));
    let stale = sim.timer.next_deadline().unwrap();
    assert!(stale <= second);
    if stale < second {
        sim.now = stale;
        sim.advance_exactly();
    }
    assert_eq!(sim.timer.next_deadline(), Some(second));
    sim.now = second;
    sim.advance_exactly();
    assert!(sim.timer.is_empty());
}

/// Issue 13 finding 2: an entry leaves a slot list every way there is (fired,
/// cancelled by drop, moved earlier, fired at shutdown, released by the
/// wheel's drop), and the list's strong reference is rebuilt with
/// `Arc::from_raw` each time. Under Miri (Stacked Borrows) this checks that
/// the pointer the list keeps is the one `Arc::into_raw` returned: one made
/// from `&Entry` has no provenance over the `Arc`'s counts.
#[test]
fn slot_entries_leave_every_way_with_their_arc_intact() {
    let mut sim = Sim::new(17);
    // Three sleeps in the same level-1 slot, so each leaves from the head,
    // the middle and the tail of a list.
    let base = sim.now + Duration::from_millis(200);
    for offset_ms in [0, 1, 2, 3, 4] {
        let deadline = base + Duration::from_millis(offset_ms);
        sim.sleeps.push(Tracked {
            sleep: Sleep::new(sim.timer.handle(), deadline),
            deadline,
            counter: WakeCounter::new(),
            seen: 0,
            armed: false,
            done: false,
            log: vec![],
        });
        let last = sim.sleeps.len() - 1;
        sim.poll_and_check(last);
    }
    assert_eq!(sim.timer.len(), 5);
    sim.check();
    // Cancelled from the middle of its list (dropping the sleep).
    drop(sim.sleeps.remove(2));
    assert_eq!(sim.timer.len(), 4);
    // Moved earlier: unfiled from its slot, filed again.
    let earlier = sim.now + Duration::from_millis(5);
    Pin::new(&mut sim.sleeps[0].sleep).reset(earlier);
    sim.sleeps[0].deadline = earlier;
    sim.check();
    // Fired: popped from its slot by `process`.
    sim.now = earlier;
    sim.advance_exactly();
    assert_eq!(sim.timer.len(), 3);
    sim.now = base + Duration::from_millis(1);
    sim.advance_exactly();
    assert_eq!(sim.timer.len(), 2);
    sim.check();
    // Fired at shutdown: the two left in their slot and one more.
    let leftover = Sleep::new(sim.timer.handle(), base + Duration::from_secs(100));
    let mut leftover = std::pin::pin!(leftover);
    let counter = WakeCounter::new();
    let waker = counter.waker();
    assert!(leftover
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    sim.timer.shutdown();
    assert!(sim.timer.is_empty());
    assert_eq!(counter.count(), 1, "shutdown wakes every waiter");
    drop(sim);
}
