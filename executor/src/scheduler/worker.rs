//! The worker loop: the event loop of one core.
//!
//! ```text
//! loop {
//!     tick += 1
//!     every EVENT_INTERVAL ticks: maintenance  (injector first, non-blocking
//!                                               driver poll, wake yielders,
//!                                               check shutdown)
//!     next task: local queue, else a batch from the injector      -> run it
//!     none: become a searcher (at most ~half the workers), steal a batch
//!           from a random victim, then the injector                -> run it
//!     none: park  (on the driver if it is free, else on the condvar)
//! }
//! ```
//!
//! Running a task: poll it with a fresh coop budget; then, while the budget
//! lasts and at most `MAX_LIFO_POLLS_PER_TICK` times, poll the task it woke
//! into the LIFO slot (message-passing locality: the receiver runs while the
//! message is hot in cache). A searcher that finds work stops searching and,
//! if it was the last searcher, wakes another (the work it found may be the
//! first of a burst).
//!
//! Shutdown: the loop sees the flag at its next maintenance tick or park,
//! drops the tasks in its LIFO slot and local queue (references only: the
//! owned-task list cancels the futures), and exits.

use super::context::{self, WorkerContext};
use super::long_poll::run_watched;
use super::{Notified, Shared};
use crate::coop;
use crate::sync::deque::{Steal, Worker};
use crate::sync::{fence, Arc};
use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

/// Polls of LIFO-slot tasks allowed per tick before the slot is bypassed:
/// two tasks that keep waking each other would otherwise starve the queue.
/// tokio uses 3; so do we.
const MAX_LIFO_POLLS_PER_TICK: usize = 3;

/// Local queue length past which fresh spawns go to the injector (see
/// `push_local`). 256 is tokio's fixed local queue size. Under loom it is
/// 1, so a model with three spawns reaches the overflow path.
const LOCAL_QUEUE_CAPACITY: usize = if cfg!(loom) { 1 } else { 256 };

pub(crate) struct Core {
    index: usize,
    tick: u32,
    pub(crate) local: Worker<Notified>,
    pub(crate) lifo_slot: Option<Notified>,
    /// Whether the task in the LIFO slot has never been polled.
    lifo_fresh: bool,
    pub(crate) lifo_enabled: bool,
    /// Tasks that yielded during this worker's polls; see `schedule_task`.
    pub(crate) deferred: Vec<Notified>,
    is_searching: bool,
    rand: FastRand,
    busy_since: Instant,
}

impl Core {
    /// Queues a task on this worker (`fresh`: it was just spawned); returns
    /// true if it went to a queue (where peers can take it, so they may
    /// need a wakeup) rather than the LIFO slot.
    pub(crate) fn schedule_local(
        &mut self,
        shared: &Shared,
        task: Notified,
        fresh: bool,
        use_lifo: bool,
    ) -> bool {
        if use_lifo {
            self.count_local_schedule(shared);
            let prev_fresh = std::mem::replace(&mut self.lifo_fresh, fresh);
            match self.lifo_slot.replace(task) {
                Some(prev) => {
                    self.push_local(shared, prev, prev_fresh);
                    true
                }
                None => false,
            }
        } else {
            if self.push_local(shared, task, fresh) {
                self.count_local_schedule(shared);
            }
            true
        }
    }

    fn count_local_schedule(&self, shared: &Shared) {
        shared.remotes[self.index]
            .metrics
            .local_schedule_count
            .add(1);
    }

    /// Pushes onto the local queue, except that a fresh task finding it full
    /// goes to the injector instead.
    ///
    /// Woken tasks are never pushed out: they stay in the local queue
    /// (crossbeam's grows; peers steal from it) so that a burst of spawns
    /// cannot put work already in progress behind itself. Overflowing the
    /// oldest half to the injector, as tokio does, did exactly that: with
    /// 100,000 sleeps spawned at once, timers that fired went to the
    /// injector behind tens of thousands of never-polled tasks and waited
    /// there, p99 lateness 30-45 ms (docs/benchmarks.md). New work waits;
    /// started work finishes.
    ///
    /// Returns whether the task stayed local.
    fn push_local(&mut self, shared: &Shared, task: Notified, fresh: bool) -> bool {
        if fresh && self.local.len() >= LOCAL_QUEUE_CAPACITY {
            self.overflow(shared, task);
            false
        } else {
            self.local.push(task);
            true
        }
    }

    /// A fresh task past a full local queue: to the injector, where every
    /// worker finds it (the caller wakes one).
    ///
    /// Shutdown may be racing us: a worker still polling after an expired
    /// `shutdown_timeout` (or a `shutdown_background`) can push here after
    /// the shutdown drained the injector, and then exit at its next tick
    /// without looking at the injector again. So, as in `push_remote`: push,
    /// fence, read the flag, and drain ourselves if it is set (loom:
    /// `overflow_vs_shutdown_background`).
    #[cold]
    fn overflow(&mut self, shared: &Shared, task: Notified) {
        shared.remotes[self.index].metrics.overflow_count.add(1);
        shared.injector.push(task);
        // SeqCst: orders the push before the flag load, against the
        // shutdown's flag store (SeqCst) before its drain; the pair of
        // `push_remote` (where F1 in `notify_parked` is this fence).
        fence(SeqCst);
        if shared.is_shutdown() {
            shared.drain_injector();
        }
    }

    fn next_task(&mut self, shared: &Shared) -> Option<Notified> {
        if self.tick % shared.config.event_interval == 0 {
            if let Some(task) = steal_retry(|| shared.injector.steal()) {
                return Some(task);
            }
        }
        if let Some(task) = self.local.pop() {
            return Some(task);
        }
        steal_retry(|| shared.injector.steal_batch_and_pop(&self.local))
    }

    fn steal_work(&mut self, shared: &Shared) -> Option<Notified> {
        if !self.is_searching {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.is_searching = true;
        }
        let n = shared.remotes.len();
        let start = self.rand.below(n);
        loop {
            let mut retry = false;
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                match shared.remotes[victim]
                    .stealer
                    .steal_batch_and_pop(&self.local)
                {
                    Steal::Success(task) => {
                        let metrics = &shared.remotes[self.index].metrics;
                        metrics.steal_operations.add(1);
                        metrics.steal_count.add(1 + self.local.len() as u64);
                        if shared.trace.is_active() {
                            crate::trace::on_steal(victim, 1 + self.local.len() as u64);
                        }
                        return Some(task);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            match shared.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(task) => return Some(task),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            if !retry {
                return None;
            }
        }
    }

    fn has_work(&self) -> bool {
        self.lifo_slot.is_some() || !self.local.is_empty()
    }
}

fn steal_retry(mut f: impl FnMut() -> Steal<Notified>) -> Option<Notified> {
    loop {
        match f() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

/// The body of worker thread `index`.
pub(crate) fn run(shared: Arc<Shared>, index: usize, local: Worker<Notified>) {
    let cx = WorkerContext {
        shared: shared.clone(),
        index,
        core: RefCell::new(None),
        polling: Cell::new(false),
        parked: Cell::new(false),
        trace: crate::trace::WorkerTrace::new(index),
    };
    let core = Box::new(Core {
        index,
        tick: 0,
        local,
        lifo_slot: None,
        lifo_fresh: false,
        lifo_enabled: shared.config.lifo_enabled,
        deferred: Vec::new(),
        is_searching: false,
        rand: FastRand::new(index as u64),
        busy_since: Instant::now(),
    });
    context::set(&cx, || {
        let core = run_loop(&cx, core);
        shutdown_core(core);
    });
}

fn run_loop(cx: &WorkerContext, mut core: Box<Core>) -> Box<Core> {
    let shared = &*cx.shared;
    loop {
        core.tick = core.tick.wrapping_add(1);
        if core.tick % shared.config.event_interval == 0 {
            core = maintenance(cx, core);
            if shared.is_shutdown() {
                return core;
            }
        }
        if let Some(task) = core.next_task(shared) {
            core = run_task(cx, core, task);
            continue;
        }
        if let Some(task) = core.steal_work(shared) {
            core = run_task(cx, core, task);
            continue;
        }
        core = park(cx, core);
        if shared.is_shutdown() {
            return core;
        }
    }
}

fn run_task(cx: &WorkerContext, mut core: Box<Core>, task: Notified) -> Box<Core> {
    let shared = &cx.shared;
    if core.is_searching {
        core.is_searching = false;
        if shared.idle.transition_worker_from_searching() {
            shared.notify_parked();
        }
    }
    core.lifo_enabled = shared.config.lifo_enabled;
    let metrics = &shared.remotes[cx.index].metrics;
    metrics.poll_count.add(1);

    *cx.core.borrow_mut() = Some(core);
    cx.polling.set(true);
    coop::with_budget(|| {
        let traced = cx.trace.poll_start(&shared.trace, || task.id());
        run_watched(shared, cx.index, task);
        cx.trace.poll_end(&shared.trace, traced);
        let mut lifo_polls = 0;
        loop {
            let next = {
                let mut slot = cx.core.borrow_mut();
                let core = slot.as_mut().expect("worker core taken during a poll");
                let Some(next) = core.lifo_slot.take() else {
                    break;
                };
                let fresh = std::mem::take(&mut core.lifo_fresh);
                if lifo_polls >= MAX_LIFO_POLLS_PER_TICK || !coop::has_budget_remaining() {
                    // Behind the other tasks; the LIFO slot stays off until
                    // the next tick so a ping-pong pair cannot hog it.
                    core.lifo_enabled = false;
                    core.push_local(shared, next, fresh);
                    // If it is the only queued task, this worker pops it
                    // next: waking a peer to steal it would cost a futex
                    // wake and a cache-cold run elsewhere for nothing.
                    let others_needed = core.local.len() > 1;
                    drop(slot);
                    if others_needed {
                        shared.notify_parked();
                    }
                    break;
                }
                next
            };
            lifo_polls += 1;
            metrics.poll_count.add(1);
            metrics.lifo_hits.add(1);
            let traced = cx.trace.poll_start(&shared.trace, || next.id());
            run_watched(shared, cx.index, next);
            cx.trace.poll_end(&shared.trace, traced);
        }
    });
    cx.polling.set(false);
    let core = cx.core.borrow_mut().take();
    core.expect("worker core lost during a poll")
}

/// Every `event_interval` ticks: let the driver and the yielders in.
fn maintenance(cx: &WorkerContext, core: Box<Core>) -> Box<Core> {
    poll_driver_and_wake_deferred(cx, core)
}

/// Non-blocking driver turn (if the driver is free), then queue the tasks
/// that yielded: `yield_now` resumes after the next driver poll.
fn poll_driver_and_wake_deferred(cx: &WorkerContext, core: Box<Core>) -> Box<Core> {
    let shared = &cx.shared;
    *cx.core.borrow_mut() = Some(core);
    cx.parked.set(true);
    shared.remotes[cx.index]
        .parker
        .poll_driver(shared.driver.as_ref());
    cx.parked.set(false);
    let mut core = cx.core.borrow_mut().take().expect("worker core lost");
    // Behind whatever the driver just woke. `mem::take` and back keeps the
    // list's capacity: yielders come in waves, and regrowing the buffer
    // every wave showed up in profiles.
    let mut deferred = std::mem::take(&mut core.deferred);
    for task in deferred.drain(..) {
        core.push_local(shared, task, false);
    }
    core.deferred = deferred;
    if core.local.len() > 1 {
        shared.notify_parked();
    }
    core
}

fn park(cx: &WorkerContext, mut core: Box<Core>) -> Box<Core> {
    let shared = &*cx.shared;
    let index = cx.index;
    if !core.deferred.is_empty() {
        return poll_driver_and_wake_deferred(cx, core);
    }
    if core.has_work() {
        return core;
    }
    let metrics = &shared.remotes[index].metrics;
    metrics
        .busy_duration_ns
        .add(core.busy_since.elapsed().as_nanos() as u64);
    metrics.park_count.add(1);

    let was_searching = core.is_searching;
    let is_last_searcher = shared
        .idle
        .transition_worker_to_parked(index, was_searching);
    core.is_searching = false;
    // The last searcher re-checks (I2), and so does a worker that was
    // refused the search (I1): the searcher that refused it may have
    // stopped by finding work before we counted ourselves parked, its
    // wake-one-more then saw nobody asleep, and a task its worker queues
    // next (while it blocks or hogs) would wait with us asleep. loom:
    // `last_searcher_sees_work_in_peer_local_queue`; docs/scheduler.md,
    // case 3 of the sketch.
    if is_last_searcher || !was_searching {
        shared.notify_if_work_pending();
    }

    loop {
        *cx.core.borrow_mut() = Some(core);
        cx.parked.set(true);
        // Leaving the driver (if this park was spent in it) already told
        // the monitor, which hands the driver on if we stay away.
        shared.remotes[index].parker.park(shared.driver.as_ref());
        shared.after_unpark();
        cx.parked.set(false);
        core = cx
            .core
            .borrow_mut()
            .take()
            .expect("worker core lost in park");

        if shared.is_shutdown() {
            return core;
        }
        if core.has_work() {
            // The driver woke tasks straight into our queue: leave the
            // parked set ourselves, unless a notifier already took us out
            // (it then counted us as searching).
            core.is_searching = !shared.idle.unpark_worker_by_id(index);
            if core.local.len() > 1 {
                shared.notify_parked();
            }
            break;
        }
        if !shared.idle.is_parked(index) {
            // A notifier popped us: we are an unparked searcher now.
            core.is_searching = true;
            break;
        }
        // Spurious, or a driver hand-off nudge: park again (trying the
        // driver first).
    }
    core.busy_since = Instant::now();
    core
}

fn shutdown_core(mut core: Box<Core>) {
    drop(core.lifo_slot.take());
    core.deferred.clear();
    while let Some(task) = core.local.pop() {
        drop(task);
    }
    drop(core);
}

/// xorshift64*: victim selection needs speed, not quality.
struct FastRand(u64);

impl FastRand {
    fn new(seed: u64) -> FastRand {
        FastRand(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize) % n.max(1)
    }
}
