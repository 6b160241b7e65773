//! Models of parking in the driver, driver wakes, and the monitor's
//! hand-off (`scheduler/park.rs`, `scheduler/monitor.rs`, and `park` in
//! `scheduler/worker.rs`).
//!
//! They run against [`LoomDriver`], a driver built from loom's mutex and
//! condvar: one event source that a model fires from any thread, whose
//! wakers the next driver turn wakes, on the thread that turns it (as a
//! reactor does).

use crate::scheduler::park::DriverSlot;
use crate::scheduler::{Config, Shared};
use crate::sync::deque::Worker;
use crate::sync::{Arc, Condvar, Mutex};
use crate::{Builder, Driver};
use loom::sync::atomic::AtomicUsize;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[derive(Default)]
struct DriverState {
    /// `Driver::unpark` was called and no turn consumed it yet.
    unparked: bool,
    /// The source fired (it stays ready).
    ready: bool,
    /// The source fired and no turn has delivered it yet.
    pending: bool,
    /// Wakers of the tasks waiting for the source.
    wakers: Vec<Waker>,
}

struct Inner {
    state: Mutex<DriverState>,
    condvar: Condvar,
    /// Turns that delivered the event.
    delivered: AtomicUsize,
}

/// A loom-visible driver with one event source; clones share it.
#[derive(Clone)]
pub(super) struct LoomDriver(Arc<Inner>);

impl LoomDriver {
    pub(super) fn new() -> LoomDriver {
        LoomDriver(Arc::new(Inner {
            state: Mutex::new(DriverState::default()),
            condvar: Condvar::new(),
            delivered: AtomicUsize::new(0),
        }))
    }

    /// The event source fires (a timer is due, a socket became readable):
    /// the next driver turn wakes its waiters.
    pub(super) fn fire(&self) {
        let mut state = self.0.state.lock();
        state.ready = true;
        state.pending = true;
        self.0.condvar.notify_one();
    }

    /// Whether some driver turn delivered the event.
    pub(super) fn delivered(&self) -> bool {
        self.0.delivered.load(SeqCst) > 0
    }

    /// A future that completes once the source fired.
    pub(super) fn ready(&self) -> Ready {
        Ready(self.clone())
    }
}

impl Driver for LoomDriver {
    fn park(&self, timeout: Option<Duration>) {
        let inner = &*self.0;
        let mut state = inner.state.lock();
        if timeout != Some(Duration::ZERO) {
            while !state.unparked && !state.pending {
                state = inner.condvar.wait(state);
            }
        }
        state.unparked = false;
        let wakers = if std::mem::take(&mut state.pending) {
            inner.delivered.fetch_add(1, SeqCst);
            std::mem::take(&mut state.wakers)
        } else {
            Vec::new()
        };
        drop(state);
        // On the turning thread, outside the lock: a reactor does the same.
        wakers.into_iter().for_each(Waker::wake);
    }

    fn unpark(&self) {
        let mut state = self.0.state.lock();
        state.unparked = true;
        self.0.condvar.notify_one();
    }

    fn shutdown(&self) {
        let wakers = std::mem::take(&mut self.0.state.lock().wakers);
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// Completes once the driver's source fired.
pub(super) struct Ready(LoomDriver);

impl Future for Ready {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Checked and registered under the driver's lock, so a fire cannot
        // fall between the two.
        let mut state = (self.0).0.state.lock();
        if state.ready {
            return Poll::Ready(());
        }
        state.wakers.push(cx.waker().clone());
        Poll::Pending
    }
}

fn rt_with_driver(workers: usize, driver: &LoomDriver) -> crate::Executor {
    Builder::new()
        .worker_threads(workers)
        .driver(Box::new(driver.clone()))
        .build()
        .unwrap()
}

/// The parked-in-driver state: the only worker parks inside the driver
/// (the slot is free), and a spawn from outside must wake it there, with
/// `Driver::unpark`: the worker is not on its condvar.
///
/// Catches: making `Parker::unpark` notify the condvar instead of calling
/// `Driver::unpark` in its `PARKED_DRIVER` arm makes loom report a
/// deadlock (the worker sleeps in the driver with the task queued).
#[test]
fn spawn_wakes_worker_parked_in_driver() {
    loom::model(|| {
        let driver = LoomDriver::new();
        let rt = rt_with_driver(1, &driver);
        let h = rt.spawn(async { 7 });
        assert_eq!(rt.block_on(h).unwrap(), 7);
    });
}

/// A driver turn wakes a task while its worker is parked in the driver:
/// the wake lands in that worker's own local queue (the worker is "parked",
/// so nobody is notified), and the worker must run it when `park` returns,
/// leaving the sleeper list by itself.
///
/// Catches: removing the `core.has_work()` branch after `Parker::park` in
/// `park` (worker.rs) makes loom report a deadlock: the worker, still in
/// the sleeper list, parks again with the task in its queue.
#[test]
fn driver_wake_lands_in_parked_workers_queue() {
    loom::model(|| {
        let driver = LoomDriver::new();
        let rt = rt_with_driver(1, &driver);
        let ready = driver.ready();
        let h = rt.spawn(async move {
            ready.await;
            5
        });
        let source = {
            let driver = driver.clone();
            loom::thread::spawn(move || driver.fire())
        };
        assert_eq!(rt.block_on(h).unwrap(), 5);
        source.join().unwrap();
    });
}

fn two_worker_shared(driver: &LoomDriver) -> Arc<Shared> {
    let locals: Vec<Worker<_>> = (0..2).map(|_| Worker::new_fifo()).collect();
    Arc::new(Shared::new(
        locals.iter().map(Worker::stealer).collect(),
        Some(Box::new(driver.clone())),
        Config {
            event_interval: 61,
            lifo_enabled: true,
            unhandled_panic: crate::UnhandledPanic::Ignore,
            long_poll: None,
            trace_buffer: 0,
        },
    ))
}

/// The monitor's hand-off: worker 0 leaves the driver with an event due
/// (a timer fired) and goes on to run a task that hogs it; worker 1 parked
/// on its condvar because worker 0 held the driver. The monitor (its looks
/// are `hand_off_driver` calls here; the real one looks every millisecond)
/// must wake worker 1, which must re-park in the driver and turn it, so the
/// event is delivered.
///
/// Catches: removing the `parker.unpark(..)` in `Shared::hand_off_driver`
/// makes the model fail (loom: "Model exceeded maximum number of
/// branches", the monitor looking forever at a driver nobody turns).
#[test]
fn monitor_hands_driver_to_condvar_parked_peer() {
    loom::model(|| {
        let driver = LoomDriver::new();
        driver.fire();
        let shared = two_worker_shared(&driver);
        let slot: &DriverSlot = shared.driver.as_ref().unwrap();
        // Worker 0 is in the driver.
        assert!(slot.try_lock());
        let worker1 = {
            let (shared, driver) = (shared.clone(), driver.clone());
            loom::thread::spawn(move || {
                // What `park` in worker.rs does, with no work ever queued.
                assert!(!shared.idle.transition_worker_to_parked(1, false));
                loop {
                    shared.remotes[1].parker.park(shared.driver.as_ref());
                    if driver.delivered() {
                        break;
                    }
                    // A nudge, not a notification: still a sleeper.
                    assert!(shared.idle.is_parked(1));
                }
            })
        };
        let worker0 = {
            let shared = shared.clone();
            // Leaves the driver without turning it, never to come back.
            loom::thread::spawn(move || shared.driver.as_ref().unwrap().unlock())
        };
        worker0.join().unwrap();
        // The monitor: looks until the event is delivered.
        while !driver.delivered() {
            shared.hand_off_driver();
            loom::thread::yield_now();
        }
        worker1.join().unwrap();
    });
}
