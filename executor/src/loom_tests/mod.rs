//! Loom models of the executor's protocols, run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p weft-executor --lib`.
//!
//! Each model runs the real scheduler (workers are loom threads, the queues
//! are the loom-visible model in `loom_deque.rs`) with at most three threads,
//! and asserts the property the protocol exists for. Each names, in its doc
//! comment, a mutation of the code that it catches (checked by making the
//! mutation and watching loom fail).
//!
//! Groups: this file (spawning, waking, shutdown, the monitor's deep sleep,
//! long polls, traces); `driver.rs` (parking in the driver, driver wakes,
//! the monitor's hand-off); `sleep.rs` (the idle bookkeeping and the last
//! searcher's re-check); `task.rs` (shutdown while polling, the join waker).

mod driver;
mod sleep;
mod task;

use crate::sync::Arc;
use crate::task::yield_now;
use crate::{Builder, Executor};
use loom::sync::atomic::AtomicUsize;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};

pub(crate) fn rt(workers: usize) -> Executor {
    Builder::new().worker_threads(workers).build().unwrap()
}

/// Counts drops, so a model can assert every future was dropped exactly once.
pub(crate) struct DropCount(pub(crate) Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Sleep protocol: a task spawned from outside while the only worker goes
/// to sleep must run. (Removing fence F1 or F2, or the last searcher's
/// re-check, makes this model deadlock.)
#[test]
fn remote_spawn_vs_last_worker_parking() {
    loom::model(|| {
        let rt = rt(1);
        let h = rt.spawn(async { 7 });
        assert_eq!(rt.block_on(h).unwrap(), 7);
    });
}

/// The same with two workers: the searching limit and the hand-over of the
/// "last searcher" duty between them.
#[test]
fn remote_spawn_two_workers() {
    loom::model(|| {
        let rt = rt(2);
        let h = rt.spawn(async { 1 });
        assert_eq!(rt.block_on(h).unwrap(), 1);
    });
}

/// Wake while running: the task wakes itself from inside its poll (the
/// NOTIFIED-while-RUNNING path) and from another thread.
#[test]
fn wake_while_running_and_from_another_thread() {
    struct WakeFromThread {
        polls: usize,
    }
    impl Future for WakeFromThread {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls += 1;
            match self.polls {
                1 => {
                    let waker = cx.waker().clone();
                    loom::thread::spawn(move || waker.wake());
                    Poll::Pending
                }
                _ => Poll::Ready(self.polls),
            }
        }
    }
    loom::model(|| {
        let rt = rt(1);
        let h = rt.spawn(WakeFromThread { polls: 0 });
        assert_eq!(rt.block_on(h).unwrap(), 2);
    });
}

/// Abort racing completion: the outcome is either the output or a
/// cancellation, and the future is dropped exactly once.
#[test]
fn abort_vs_complete() {
    loom::model(|| {
        let rt = rt(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = DropCount(drops.clone());
        let h = rt.spawn(async move {
            let _d = d;
            yield_now().await;
            3
        });
        let abort = h.abort_handle();
        let t = loom::thread::spawn(move || abort.abort());
        match rt.block_on(h) {
            Ok(v) => assert_eq!(v, 3),
            Err(e) => assert!(e.is_cancelled()),
        }
        t.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// The join handle is dropped on another thread while the task completes:
/// the output is dropped exactly once, by whichever side is last.
#[test]
fn join_handle_dropped_while_completing() {
    loom::model(|| {
        let rt = rt(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = DropCount(drops.clone());
        let h = rt.spawn(async move { d });
        let t = loom::thread::spawn(move || drop(h));
        t.join().unwrap();
        drop(rt);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A waker cloned by the task is dropped on another thread after the task
/// completed: the last reference frees the task (loom's leak check).
#[test]
fn waker_dropped_on_another_thread() {
    loom::model(|| {
        let rt = rt(1);
        let (tx, rx) = loom::sync::mpsc::channel::<Waker>();
        let h = rt.spawn(std::future::poll_fn(move |cx| {
            tx.send(cx.waker().clone()).unwrap();
            Poll::Ready(())
        }));
        let t = loom::thread::spawn(move || drop(rx.recv().unwrap()));
        rt.block_on(h).unwrap();
        t.join().unwrap();
    });
}

/// Shutdown racing a spawn from another thread: the task either runs or is
/// cancelled, its future is dropped exactly once, and nothing leaks (a
/// stranded `Notified` would keep the scheduler's `Arc` alive, which loom
/// reports).
#[test]
fn shutdown_vs_concurrent_spawn() {
    loom::model(|| {
        let rt = rt(1);
        let handle = rt.handle().clone();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = DropCount(drops.clone());
        let t = loom::thread::spawn(move || {
            let h = handle.spawn(async move {
                let _d = d;
            });
            drop(h);
        });
        drop(rt);
        t.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// Spawns past a full local queue: the third child of a task goes to the
/// injector (the loom queue capacity is 1: the first child waits in the LIFO
/// slot, the second in the local queue). Every child must run; none may be
/// stranded in the injector while the worker parks.
#[test]
fn local_spawns_overflow_to_injector() {
    loom::model(|| {
        let rt = rt(1);
        let handle = rt.handle().clone();
        let h = rt.spawn(async move {
            let children: Vec<_> = (0..3).map(|i| handle.spawn(async move { i })).collect();
            let mut sum = 0;
            for child in children {
                sum += child.await.unwrap();
            }
            sum
        });
        assert_eq!(rt.block_on(h).unwrap(), 3);
    });
}

/// The driver monitor's deep sleep against a worker leaving the driver
/// (fences M1/M2 in `scheduler/monitor.rs`): the monitor decides to sleep
/// while the driver is held, and the worker unlocks it (`unlock` checks
/// whether the monitor sleeps). The monitor must not sleep through the
/// unlock: loom reports a deadlock if it does. (Removing either fence makes
/// it fail.)
#[test]
fn monitor_deep_sleep_vs_driver_left() {
    use crate::scheduler::monitor::{deep_sleep, NoDriver};
    use crate::scheduler::park::DriverSlot;
    loom::model(|| {
        let slot = Arc::new(DriverSlot::new(Box::new(NoDriver)));
        // A worker's blocking wait holds the driver: the runtime looks idle.
        assert!(slot.try_lock());
        let last = slot.turns();
        let worker = {
            let slot = slot.clone();
            loom::thread::spawn(move || slot.unlock())
        };
        let monitor = slot.monitor();
        drop(deep_sleep(
            monitor,
            &slot,
            last,
            || true,
            || false,
            monitor.lock(),
        ));
        worker.join().unwrap();
    });
}

/// The monitor's deep sleep against a worker leaving its parker while long
/// polls are watched (fences M2/M3, `scheduler/long_poll.rs`): the monitor
/// sees every worker parked and the driver held, and decides to sleep; the
/// worker is unparked and may now poll a task that blocks. The monitor must
/// not sleep through it: loom reports a deadlock if it does.
#[test]
fn monitor_deep_sleep_vs_worker_unpark() {
    use crate::scheduler::monitor::{deep_sleep, NoDriver};
    use crate::scheduler::park::{DriverSlot, Parker};
    loom::model(|| {
        let slot = Arc::new(DriverSlot::new(Box::new(NoDriver)));
        // Another worker's blocking wait holds the driver and never leaves.
        assert!(slot.try_lock());
        let last = slot.turns();
        let parker = Arc::new(Parker::new());
        let worker = {
            let (slot, parker) = (slot.clone(), parker.clone());
            loom::thread::spawn(move || {
                parker.park(None);
                // What `Shared::after_unpark` does with watching on.
                slot.monitor().worker_unparked();
            })
        };
        let unparker = {
            let parker = parker.clone();
            loom::thread::spawn(move || parker.unpark(None))
        };
        let monitor = slot.monitor();
        let guard = deep_sleep(
            monitor,
            &slot,
            last,
            || parker.is_parked(),
            || false,
            monitor.lock(),
        );
        drop(guard);
        worker.join().unwrap();
        unparker.join().unwrap();
    });
}

/// A worker publishing two polls (the same task twice, then another task)
/// against the monitor's reads of its slot: a read that claims a poll
/// names that poll's task, and the watcher reports each poll at most once.
#[test]
fn long_poll_slot_reads_are_consistent() {
    use crate::scheduler::long_poll::{LongPollConfig, LongPollWatch, Watcher};
    use crate::task::Id;
    use std::num::NonZeroU64;
    use std::time::{Duration, Instant};
    loom::model(|| {
        let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = reports.clone();
        let config = LongPollConfig {
            threshold: Duration::from_millis(1),
            hook: std::sync::Arc::new(move |s: &crate::LongPoll| {
                sink.lock().unwrap().push(s.task_id.as_u64())
            }),
        };
        let watch = Arc::new(LongPollWatch::new(config, 1));
        // The monitor's side on its own thread, the worker's on this one:
        // a torn read (the monitor's three loads around two polls) is then
        // within two preemptions.
        let metrics = std::sync::Arc::new([crate::metrics::WorkerMetrics::default()]);
        let monitor = {
            let (watch, metrics) = (watch.clone(), metrics.clone());
            loom::thread::spawn(move || {
                let polls = [(1, 1), (3, 1), (5, 2)];
                if let Some((seq, task)) = watch.slot(0).read() {
                    assert!(polls.contains(&(seq, task)), "torn read: {seq} {task}");
                }
                let mut watcher = Watcher::new(&watch);
                let t0 = Instant::now();
                for i in 0..3 {
                    watcher.look(t0 + Duration::from_millis(2 * i), |_| &metrics[0]);
                }
            })
        };
        let slot = watch.slot(0);
        for task in [1, 1, 2] {
            slot.enter(Id(NonZeroU64::new(task).unwrap()));
            slot.leave();
        }
        monitor.join().unwrap();
        let reports = reports.lock().unwrap();
        assert!(reports.len() <= 1, "two looks at one poll: {reports:?}");
        assert!(reports.iter().all(|&t| t == 1 || t == 2));
        assert_eq!(metrics[0].long_poll_count.get(), reports.len() as u64);
    });
}

/// Trace buffers: a reader taking a snapshot while the owner appends sees
/// a prefix of fully written events (never a torn or unpublished slot), and
/// a full buffer counts what it refused. Loom's `UnsafeCell` flags any
/// access to a slot that the publication protocol does not order.
#[test]
fn trace_buffer_snapshot_vs_push() {
    use crate::trace::buffer::WorkerBuf;
    use crate::trace::event::{Event, Kind};
    // Not vacuous: some execution must see events in the racing snapshot.
    static SAW_EVENTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    loom::model(|| {
        let buf = Arc::new(WorkerBuf::new(2));
        let writer = {
            let buf = buf.clone();
            loom::thread::spawn(move || {
                for i in 0..3u64 {
                    // SAFETY: this thread is the buffer's only writer.
                    unsafe { buf.push(Event::new(i, Kind::PollStart, 100 + i)) };
                }
            })
        };
        // Without a yield here loom never lets the writer run first (the
        // race would go unexplored: SAW_EVENTS below checks it is not).
        loom::thread::yield_now();
        let (events, _) = buf.snapshot();
        if !events.is_empty() {
            SAW_EVENTS.store(true, SeqCst);
        }
        for (i, e) in events.iter().enumerate() {
            assert_eq!((e.ts, e.task), (i as u64, 100 + i as u64));
        }
        writer.join().unwrap();
        let (events, dropped) = buf.snapshot();
        assert_eq!((events.len(), dropped), (2, 1));
    });
    assert!(
        SAW_EVENTS.load(SeqCst),
        "loom never ran the snapshot after a push"
    );
}

/// Trace start/stop against a recording worker (the protocol in
/// `trace/mod.rs`): everything that causally follows `start_trace` is
/// recorded, and `stop` racing the worker's last event neither tears nor
/// loses what happened before it. The task's second poll completes the
/// join before its end is stamped, so that end may be cut; both starts and
/// the first end may not.
#[test]
fn trace_stop_vs_recording_worker() {
    loom::model(|| {
        let rt = Builder::new()
            .worker_threads(1)
            .trace_buffer(64)
            .build()
            .unwrap();
        let recording = rt.start_trace().unwrap();
        let h = rt.spawn(async {
            yield_now().await;
            1
        });
        assert_eq!(rt.block_on(h).unwrap(), 1);
        let trace = recording.stop();
        assert_eq!(trace.dropped_events(), 0);
        let polls = trace.polls();
        assert_eq!(polls.len(), 2, "{polls:?}");
        assert!(polls.iter().all(|p| p.start <= p.end && p.lane == 0));
    });
}

/// Spawns past a full local queue racing a shutdown that does not wait for
/// the workers (`shutdown_background`, or a `shutdown_timeout` that
/// expired): the overflowing child may reach the injector after the
/// shutdown drained it. The spawner must then drain it itself, as
/// `push_remote` does; a `Notified` left in the injector keeps the
/// scheduler's `Arc` alive, which loom reports as a leak. (Removing the
/// re-check after the push in `Core::overflow` makes this model fail with
/// "Arc leaked"; it was missing until the model found it.)
#[test]
fn overflow_vs_shutdown_background() {
    loom::model(|| {
        // A maintenance tick (which checks the shutdown flag) after every
        // task: the worker exits right after the poll that overflowed,
        // without looking at the injector again.
        let rt = Builder::new()
            .worker_threads(1)
            .event_interval(1)
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        drop(rt.spawn(async move {
            // The third spawn pushes the second child out of the LIFO
            // slot past the full local queue (the loom capacity is 1).
            for _ in 0..3 {
                drop(handle.spawn(async {}));
            }
        }));
        // Loom runs the worker to its end before it checks for leaks.
        rt.shutdown_background();
    });
}
