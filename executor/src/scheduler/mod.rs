//! The multi-threaded work-stealing scheduler.
//!
//! Ownership, in tokio's vocabulary: each worker thread owns a `Core` (its
//! local queue's push/pop end, LIFO slot, tick, RNG); every thread may touch
//! the `Shared` state (the stealing ends of all local queues, the injector,
//! the idle set, the owned-task list, the driver slot). A task finds its
//! way back to `Shared` through the `Arc<Shared>` it carries as scheduler.
//!
//! Where a woken task goes:
//! - woken on one of our workers while it polls a task: the LIFO slot (its
//!   previous occupant goes to the back of the local queue);
//! - woken by itself during its own poll (yielding): a per-worker deferred
//!   list, moved to the back of the local queue after the next driver poll;
//! - woken on one of our workers otherwise: the local queue;
//! - woken anywhere else: the injector (global queue), then a parked worker
//!   is notified.
//!
//! The sleep protocol that makes the last step safe is split between
//! `notify_parked` / `notify_if_work_pending` here, `idle.rs` and
//! `worker.rs`; its proof sketch is in `docs/scheduler.md`.

pub(crate) mod context;
pub(crate) mod idle;
pub(crate) mod long_poll;
pub(crate) mod monitor;
pub(crate) mod park;
pub(crate) mod worker;

use crate::metrics::{Counter, WorkerMetrics};
use crate::sync::deque::{Injector, Stealer};
use crate::sync::{fence, Arc, AtomicBool, CachePadded};
use crate::task::list::OwnedTasks;
use crate::task::{self, JoinHandle, RawTask, Schedule};
use idle::Idle;
use park::{DriverSlot, Parker};
use std::future::Future;
use std::sync::atomic::Ordering::SeqCst;

pub(crate) type Notified = task::Notified<Arc<Shared>>;

/// Tuning knobs, with where each default came from.
pub(crate) struct Config {
    /// Every this many ticks a worker takes from the injector before its own
    /// queue and polls the driver without blocking. 61 is the figure tokio
    /// copied from Go's scheduler: prime, so it does not beat with periodic
    /// workloads, and small enough that the global queue waits at most ~61
    /// polls. Re-tune by measuring injector latency under a local flood.
    pub(crate) event_interval: u32,
    /// Whether wakes on a worker may use the LIFO slot.
    pub(crate) lifo_enabled: bool,
    /// What a task's panic does to the runtime (unhandled_panic.rs).
    pub(crate) unhandled_panic: crate::UnhandledPanic,
    /// Long-poll watching, if `on_long_poll` was set (long_poll.rs).
    pub(crate) long_poll: Option<long_poll::LongPollConfig>,
    /// Events per worker a trace recording may hold (`Builder::trace_buffer`).
    pub(crate) trace_buffer: usize,
}

/// What other threads may know about one worker.
pub(crate) struct Remote {
    pub(crate) stealer: Stealer<Notified>,
    pub(crate) parker: Parker,
    pub(crate) metrics: WorkerMetrics,
}

pub(crate) struct Shared {
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    pub(crate) injector: Injector<Notified>,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks<Arc<Shared>>,
    pub(crate) driver: Option<DriverSlot>,
    shutdown: AtomicBool,
    pub(crate) config: Config,
    pub(crate) remote_schedule_count: Counter,
    pub(crate) remote_spawned_count: Counter,
    /// The `UnhandledPanic` policy and the `block_on`s it must stop.
    pub(crate) panic_policy: crate::unhandled_panic::BlockOnWatch,
    /// The workers' poll slots, if long polls are watched.
    pub(crate) long_poll: Option<long_poll::LongPollWatch>,
    /// The execution trace (`crate::trace`); std's `Arc`: a `Recording`
    /// keeps it after the runtime is gone.
    pub(crate) trace: std::sync::Arc<crate::trace::Tracer>,
}

impl Shared {
    pub(crate) fn new(
        stealers: Vec<Stealer<Notified>>,
        driver: Option<Box<dyn crate::Driver>>,
        mut config: Config,
    ) -> Shared {
        let n = stealers.len();
        let panic_policy = crate::unhandled_panic::BlockOnWatch::new(config.unhandled_panic);
        let long_poll = config
            .long_poll
            .take()
            .map(|c| long_poll::LongPollWatch::new(c, n));
        Shared {
            remotes: stealers
                .into_iter()
                .map(|stealer| {
                    CachePadded::new(Remote {
                        stealer,
                        parker: Parker::new(),
                        metrics: WorkerMetrics::default(),
                    })
                })
                .collect(),
            injector: Injector::new(),
            idle: Idle::new(n),
            // Under loom: one shard, because the shard is picked by task id, which
            // comes from a process-wide counter and so differs between the
            // executions loom replays (it must be deterministic).
            owned: OwnedTasks::new(if cfg!(loom) { 1 } else { n * 4 }),
            driver: driver.map(DriverSlot::new),
            shutdown: AtomicBool::new(false),
            trace: std::sync::Arc::new(crate::trace::Tracer::new(n, config.trace_buffer)),
            config,
            remote_schedule_count: Counter::default(),
            remote_spawned_count: Counter::default(),
            panic_policy,
            long_poll,
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        // SeqCst: part of the Dekker pair with `push_remote` (see there).
        self.shutdown.load(SeqCst)
    }

    /// Spawns a task onto this scheduler.
    pub(crate) fn spawn<F>(this: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = task::Id::next();
        let (task, notified, join) = task::new_task(future, this.clone(), id);
        context::with(|cx| match cx {
            Some(cx) if std::ptr::eq(&*cx.shared, &**this) => {
                this.remotes[cx.index].metrics.spawned_count.add(1)
            }
            _ => this.remote_spawned_count.add_shared(1),
        });
        if let Some(notified) = this.owned.bind(task, notified) {
            Shared::schedule_task(this, notified, Origin::Spawn);
        }
        join
    }

    /// Queues a task: locally if we are one of this scheduler's workers and
    /// the core is at hand, else through the injector.
    pub(crate) fn schedule_task(this: &Arc<Self>, task: Notified, origin: Origin) {
        if this.trace.is_active() {
            crate::trace::on_schedule(this, task.id(), origin);
        }
        let task = context::with(|cx| {
            let cx = match cx {
                Some(cx) if std::ptr::eq(&*cx.shared, &**this) => cx,
                _ => return Some(task),
            };
            let Ok(mut core) = cx.core.try_borrow_mut() else {
                return Some(task);
            };
            let Some(core) = core.as_mut() else {
                return Some(task);
            };
            if origin == Origin::Yield && cx.polling.get() {
                // A task that woke itself during its poll (`yield_now`, the
                // coop budget, a message to itself) waits until after the
                // next driver poll: a yield loop cannot starve I/O. Thread-
                // local until then, so no peer needs telling.
                core.deferred.push(task);
                return None;
            }
            let use_lifo = origin != Origin::Yield && cx.polling.get() && core.lifo_enabled;
            let fresh = origin == Origin::Spawn;
            let pushed_to_queue = core.schedule_local(this, task, fresh, use_lifo);
            if pushed_to_queue && !cx.parked.get() {
                this.notify_parked();
            }
            None
        });
        if let Some(task) = task {
            this.push_remote(task);
        }
    }

    /// Queues a task on the injector and wakes a worker for it.
    pub(crate) fn push_remote(&self, task: Notified) {
        self.remote_schedule_count.add_shared(1);
        self.injector.push(task);
        self.notify_parked();
        // Shutdown racing this push (loom: `shutdown_vs_remote_spawn`): the
        // shutdown sequence sets the flag, then drains the injector; we
        // pushed, then (after the SeqCst fence in `notify_parked`) read the
        // flag. Either the drain sees our task or we see the flag and drain
        // it ourselves, so no `Notified` is stranded (it would keep the
        // scheduler alive through its `Arc`, a leak).
        if self.is_shutdown() {
            self.drain_injector();
        }
    }

    pub(crate) fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                crate::sync::deque::Steal::Success(task) => drop(task),
                crate::sync::deque::Steal::Empty => break,
                crate::sync::deque::Steal::Retry => {}
            }
        }
    }

    /// Wakes a parked worker if nobody is searching for work.
    ///
    /// Fence F1 of the sleep protocol (docs/scheduler.md): orders the queue
    /// push before (in the SeqCst order) our read of the idle state. It
    /// pairs with F2 in `notify_if_work_pending`: either we see the last
    /// searcher still searching (and it will see our task), or it sees our
    /// task.
    pub(crate) fn notify_parked(&self) {
        fence(SeqCst);
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].parker.unpark(self.driver.as_ref());
        }
    }

    /// Called by the last searcher after it parked (invariant I2): if work
    /// appeared in any queue while it was giving up, wake somebody.
    pub(crate) fn notify_if_work_pending(&self) {
        // F2: pairs with F1 (see `notify_parked`).
        fence(SeqCst);
        let work = self.remotes.iter().any(|r| !r.stealer.is_empty()) || !self.injector.is_empty();
        if work {
            self.notify_parked();
        }
    }

    /// The monitor saw the driver abandoned for a whole interval (its last
    /// owner is busy running tasks). If a worker sleeps on its condvar, wake
    /// it without giving it work: it re-parks and takes the driver, so
    /// timers and I/O keep being served (unlike tokio issue 4730, where one
    /// busy task stops the timers of everybody).
    pub(crate) fn hand_off_driver(&self) {
        let Some(slot) = &self.driver else { return };
        if slot.is_locked() {
            return;
        }
        self.idle.find_sleeper(|i| {
            let parker = &self.remotes[i].parker;
            if parker.is_parked_on_condvar() {
                parker.unpark(self.driver.as_ref());
                true
            } else {
                false
            }
        });
    }

    /// Step 1 of shutdown: set the flag and wake every worker so it exits.
    pub(crate) fn begin_shutdown(&self) {
        // SeqCst: see `push_remote`.
        self.shutdown.store(true, SeqCst);
        for remote in self.remotes.iter() {
            remote.parker.unpark(self.driver.as_ref());
        }
        if let Some(slot) = &self.driver {
            slot.driver().unpark();
            slot.monitor().wake();
        }
    }
}

/// Why a task is being queued; it decides where the task waits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Origin {
    /// Just spawned, never polled. On a worker whose local queue is full it
    /// goes to the injector, behind the other new work (see `push_local`).
    Spawn,
    /// Woken by a waker: a timer, a socket, a message, a join.
    Wake,
    /// Woke itself during its own poll (`yield_now`, the coop budget).
    Yield,
}

impl Schedule for Arc<Shared> {
    fn release(&self, task: RawTask) -> bool {
        self.owned.remove(task)
    }

    fn schedule(&self, task: task::Notified<Self>) {
        Shared::schedule_task(self, task, Origin::Wake);
    }

    fn yield_now(&self, task: task::Notified<Self>) {
        Shared::schedule_task(self, task, Origin::Yield);
    }

    fn unhandled_panic(&self) {
        self.on_task_panic();
    }

    fn tracer(&self) -> Option<&crate::trace::Tracer> {
        Some(&self.trace)
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Shared>();
}
