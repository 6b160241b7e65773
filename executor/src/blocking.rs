//! The blocking pool: threads for closures that block (file I/O, CPU-heavy
//! work, foreign libraries), so the workers never do.
//!
//! A `spawn_blocking` closure becomes an ordinary task (same `JoinHandle`,
//! same cancellation) whose scheduler is this pool. The pool grows on demand
//! up to `max_threads` (512 by default, tokio's figure), lets a thread go
//! after `keep_alive` idle (10 s), and keeps working when the OS refuses a
//! new thread: the closure waits in the queue for the next free thread, and
//! the next `spawn_blocking` tries to add a thread again.
//!
//! Shutdown: closures not yet started are cancelled; running ones finish
//! (a blocking call cannot be interrupted); the runtime waits for the
//! threads (up to the `shutdown_timeout`, if one was given).

use crate::sync::{Condvar, Mutex};
use crate::task::list::OwnedTasks;
use crate::task::{self, JoinHandle, RawTask, Schedule};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
/// std's `Arc`: the pool's reference count takes part in no protocol, and
/// loom's `Arc` can neither hold a `dyn` nor be a method receiver.
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(crate) type Hook = Arc<dyn Fn() + Send + Sync>;

crate::sync::thread_local! {
    /// The pool this thread belongs to, if it is a blocking-pool thread.
    static IN_POOL: std::cell::Cell<*const BlockingShared> = std::cell::Cell::new(std::ptr::null());
}

/// Whether this thread is a blocking-pool thread (of any runtime).
pub(crate) fn on_pool_thread() -> bool {
    IN_POOL.try_with(|p| !p.get().is_null()).unwrap_or(false)
}

pub(crate) struct BlockingShared {
    state: Mutex<PoolState>,
    alive: Arc<AliveThreads>,
    condvar: Condvar,
    owned: OwnedTasks<BlockingSchedule>,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
    trace: Arc<crate::trace::Tracer>,
}

struct PoolState {
    queue: VecDeque<task::Notified<BlockingSchedule>>,
    num_threads: usize,
    num_idle: usize,
    /// Wakeups sent to idle threads and not yet consumed.
    num_notify: usize,
    shutdown: bool,
}

/// Pool threads that have not finished exiting. Separate from the pool (which
/// holds the hooks, and through them the reactor): a thread leaves this count
/// only after it dropped the pool and its runtime handle, so `shutdown`
/// returns only once no pool thread keeps the runtime's file descriptors open.
#[derive(Default)]
struct AliveThreads {
    count: Mutex<usize>,
    condvar: Condvar,
}

impl AliveThreads {
    /// Counts one thread out and wakes the waiter in `shutdown`. Every
    /// exit notifies, not only the last: a runtime dropped on one of its
    /// own pool threads waits for the count to fall to one (itself), and a
    /// notification only at zero left it waiting forever once a second,
    /// idle pool thread had exited (the hang of
    /// `rt_shutdown::runtime_dropped_inside_spawn_blocking_does_not_hang`).
    fn exited(&self) {
        let mut count = self.count.lock();
        *count -= 1;
        drop(count);
        self.condvar.notify_all();
    }
}

/// Counts a pool thread out of [`AliveThreads`] when dropped.
struct CountOut(Arc<AliveThreads>);

impl Drop for CountOut {
    fn drop(&mut self) {
        self.0.exited();
    }
}

#[derive(Clone)]
pub(crate) struct BlockingSchedule(Arc<BlockingShared>);

impl Schedule for BlockingSchedule {
    fn release(&self, task: RawTask) -> bool {
        self.0.owned.remove(task)
    }

    fn schedule(&self, task: task::Notified<Self>) {
        // Unreachable: a blocking task is never idle. It is NOTIFIED from
        // spawn until its only poll, RUNNING through it (the closure never
        // sees the waker), then COMPLETE; an abort before the poll only sets
        // CANCELLED on the queued task. So no wake or abort submits it.
        // Pushing it is still right if that changes: an idle thread picks it up.
        self.0.push(task, None);
    }
}

/// Runs the closure on its first poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after completion");
        // A blocking closure is not subject to the coop budget.
        Poll::Ready(crate::coop::with_unconstrained(f))
    }
}

pub(crate) struct PoolConfig {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    pub(crate) trace: Arc<crate::trace::Tracer>,
}

impl BlockingShared {
    pub(crate) fn new(config: PoolConfig) -> Arc<BlockingShared> {
        Arc::new(BlockingShared {
            state: Mutex::new(PoolState {
                queue: VecDeque::new(),
                num_threads: 0,
                num_idle: 0,
                num_notify: 0,
                shutdown: false,
            }),
            condvar: Condvar::new(),
            alive: Arc::new(AliveThreads::default()),
            owned: OwnedTasks::new(4),
            max_threads: config.max_threads.max(1),
            keep_alive: config.keep_alive,
            thread_name: config.thread_name,
            on_thread_start: config.on_thread_start,
            on_thread_stop: config.on_thread_stop,
            trace: config.trace,
        })
    }

    /// `handle` is entered on the pool thread that runs `f` (so `Handle::current`
    /// works there); the pool itself keeps no handle, which would be a cycle.
    pub(crate) fn spawn_blocking<F, R>(
        self: &Arc<Self>,
        f: F,
        handle: &crate::Handle,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let id = task::Id::next();
        let (task, notified, join) =
            task::new_task(BlockingTask(Some(f)), BlockingSchedule(self.clone()), id);
        if let Some(notified) = self.owned.bind(task, notified) {
            self.push(notified, Some(handle));
        }
        join
    }

    fn push(
        self: &Arc<Self>,
        task: task::Notified<BlockingSchedule>,
        handle: Option<&crate::Handle>,
    ) {
        let mut state = self.state.lock();
        if state.shutdown {
            // The owned list is closed too; this reference is stale.
            drop(state);
            drop(task);
            return;
        }
        state.queue.push_back(task);
        if state.num_idle > state.num_notify {
            state.num_notify += 1;
            drop(state);
            self.condvar.notify_one();
        } else if let (true, Some(handle)) = (state.num_threads < self.max_threads, handle) {
            state.num_threads += 1;
            *self.alive.count.lock() += 1;
            drop(state);
            if let Err(e) = self.spawn_thread(handle.clone()) {
                // The OS refused: the closure waits for the next free thread,
                // and the next spawn_blocking tries again.
                let mut state = self.state.lock();
                state.num_threads -= 1;
                self.alive.exited();
                if state.num_threads == 0 {
                    eprintln!("weft: cannot start a blocking-pool thread ({e}); will retry on the next spawn_blocking");
                }
            }
        }
    }

    fn spawn_thread(self: &Arc<Self>, handle: crate::Handle) -> std::io::Result<()> {
        let shared = self.clone();
        crate::sync::thread::Builder::new()
            .name((self.thread_name)())
            .spawn(move || {
                // Declared first, so dropped last (also when unwinding): we
                // let go of everything that keeps the runtime alive (the
                // handle, the pool and its hooks, which hold the reactor)
                // before saying we are gone, and a panic cannot skip it.
                let _count_out = CountOut(shared.alive.clone());
                let (handle, shared) = (handle, shared);
                let _enter = handle.enter();
                shared.run();
            })
            .map(drop)
    }

    fn run(self: Arc<Self>) {
        IN_POOL.with(|p| p.set(Arc::as_ptr(&self)));
        // The same runner as the workers': a panicking hook is reported and
        // the thread goes on (it used to die here, with `num_threads`
        // still counting it: the closures queued for it never ran and the
        // runtime's drop waited for it forever).
        crate::runtime::run_hook(self.on_thread_start.as_ref(), "on_thread_start");
        let mut state = self.state.lock();
        loop {
            if let Some(task) = state.queue.pop_front() {
                drop(state);
                let job = self.trace.blocking_job(task.id());
                task.run();
                drop(job);
                state = self.state.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.num_idle += 1;
            let deadline = Instant::now() + self.keep_alive;
            let mut timed_out = false;
            while state.num_notify == 0 && !state.shutdown {
                let now = Instant::now();
                if now >= deadline {
                    timed_out = true;
                    break;
                }
                (state, _) = self.condvar.wait_timeout(state, deadline - now);
            }
            state.num_idle -= 1;
            if state.num_notify > 0 {
                state.num_notify -= 1;
            } else if timed_out && state.queue.is_empty() {
                break;
            }
        }
        state.num_threads -= 1;
        drop(state);
        crate::runtime::run_hook(self.on_thread_stop.as_ref(), "on_thread_stop");
    }

    /// Cancels queued closures and waits for running ones, up to `timeout`.
    /// Returns true if every thread exited.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let queued = {
            let mut state = self.state.lock();
            state.shutdown = true;
            std::mem::take(&mut state.queue)
        };
        self.condvar.notify_all();
        drop(queued);
        self.owned.close_and_shutdown_all();
        let deadline = timeout.map(|t| Instant::now() + t);
        // Shut down from one of our own threads (a `spawn_blocking` closure
        // that drops the runtime): do not wait for ourselves.
        let me = IN_POOL
            .try_with(|p| std::ptr::eq(p.get(), self))
            .unwrap_or(false);
        let others = usize::from(me);
        let mut alive = self.alive.count.lock();
        while *alive > others {
            match deadline {
                None => alive = self.alive.condvar.wait(alive),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    (alive, _) = self.alive.condvar.wait_timeout(alive, deadline - now);
                }
            }
        }
        true
    }

    pub(crate) fn num_threads(&self) -> usize {
        self.state.lock().num_threads
    }

    pub(crate) fn num_idle_threads(&self) -> usize {
        self.state.lock().num_idle
    }

    pub(crate) fn queue_depth(&self) -> usize {
        self.state.lock().queue.len()
    }
}
