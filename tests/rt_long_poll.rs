//! `Builder::on_long_poll`: blocking code inside async code is reported
//! while it blocks, once per stall, with the worker and the task.
//!
//! Reports travel over channels, and every wait is bounded. The blocking
//! polls last many thresholds (the contract promises a report within about
//! two), so a loaded machine that delays the monitor cannot fail a test.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;
use weft::{LongPoll, Runtime};

const LIMIT: Duration = Duration::from_secs(10);
const THRESHOLD: Duration = Duration::from_millis(40);
/// How long a "stuck" poll blocks: ten thresholds.
const STALL: Duration = Duration::from_millis(400);

fn watched(workers: usize, threshold: Duration) -> (Runtime, Receiver<LongPoll>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let rt = Runtime::builder()
        .worker_threads(workers)
        .on_long_poll(threshold, move |stall: &LongPoll| {
            let _ = tx.lock().unwrap().send(stall.clone());
        })
        .build()
        .unwrap();
    (rt, rx)
}

fn total_long_polls(rt: &Runtime) -> u64 {
    let m = rt.metrics();
    (0..m.num_workers())
        .map(|i| m.worker_long_poll_count(i))
        .sum()
}

fn blocking_poll_is_reported_once(workers: usize) {
    let (rt, rx) = watched(workers, THRESHOLD);
    let task = rt.spawn(async { std::thread::sleep(STALL) });
    let id = task.id();
    let stall = rx
        .recv_timeout(LIMIT)
        .expect("the blocking poll was not reported");
    assert_eq!(stall.task_id, id);
    assert!(stall.worker < workers);
    assert!(stall.elapsed >= THRESHOLD, "{stall:?}");
    assert!(stall.elapsed <= STALL, "{stall:?}");
    rt.block_on(task).unwrap();
    assert!(rx.try_recv().is_err(), "one stall, more than one report");
    let m = rt.metrics();
    for i in 0..workers {
        let expected = u64::from(i == stall.worker);
        assert_eq!(m.worker_long_poll_count(i), expected, "worker {i}");
    }
}

#[test]
fn blocking_poll_is_reported_once_1_worker() {
    blocking_poll_is_reported_once(1);
}

#[test]
fn blocking_poll_is_reported_once_2_workers() {
    blocking_poll_is_reported_once(2);
}

#[test]
fn two_blocking_polls_of_one_task_are_two_reports() {
    let (rt, rx) = watched(1, THRESHOLD);
    let task = rt.spawn(async {
        std::thread::sleep(STALL);
        weft::task::yield_now().await;
        std::thread::sleep(STALL);
    });
    let id = task.id();
    let first = rx.recv_timeout(LIMIT).expect("first stall not reported");
    let second = rx.recv_timeout(LIMIT).expect("second stall not reported");
    rt.block_on(task).unwrap();
    assert_eq!((first.task_id, second.task_id), (id, id));
    assert_eq!((first.worker, second.worker), (0, 0));
    assert!(rx.try_recv().is_err());
    assert_eq!(total_long_polls(&rt), 2);
}

/// Two tasks stuck at the same time on two workers: one report each, naming
/// both workers and both tasks.
#[test]
fn stalls_on_two_workers_name_each_worker() {
    let (rt, rx) = watched(2, THRESHOLD);
    // Each task waits (bounded) until the other one is polled too, so they
    // are stuck on different workers at once.
    let arrived = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let arrived = arrived.clone();
            rt.spawn(async move {
                arrived.fetch_add(1, SeqCst);
                let start = std::time::Instant::now();
                while arrived.load(SeqCst) < 2 && start.elapsed() < LIMIT {
                    std::thread::yield_now();
                }
                std::thread::sleep(STALL);
            })
        })
        .collect();
    let ids: HashSet<_> = tasks.iter().map(|t| t.id()).collect();
    let a = rx.recv_timeout(LIMIT).expect("no report");
    let b = rx.recv_timeout(LIMIT).expect("one report only");
    assert_eq!(arrived.load(SeqCst), 2);
    assert_eq!(HashSet::from([a.task_id, b.task_id]), ids, "{a:?} / {b:?}");
    assert_eq!(HashSet::from([a.worker, b.worker]), HashSet::from([0, 1]));
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    let m = rt.metrics();
    assert_eq!(
        (m.worker_long_poll_count(0), m.worker_long_poll_count(1)),
        (1, 1)
    );
}

/// Many short polls: nothing is reported (the threshold is far above any
/// yield's poll, so scheduling noise cannot fail this).
#[test]
fn short_polls_are_not_reported() {
    let (rt, rx) = watched(2, Duration::from_millis(200));
    rt.block_on(async {
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                weft::spawn(async {
                    for _ in 0..1_000 {
                        weft::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let polls: u64 = (0..2).map(|i| rt.metrics().worker_poll_count(i)).sum();
    assert!(polls >= 10_000, "{polls} polls");
    assert!(rx.try_recv().is_err());
    assert_eq!(total_long_polls(&rt), 0);
}

/// Without the option nothing is watched: a blocking poll counts nothing.
#[test]
fn without_the_option_the_count_stays_zero() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(rt.spawn(async { std::thread::sleep(Duration::from_millis(100)) }))
        .unwrap();
    assert_eq!(total_long_polls(&rt), 0);
}

/// A stall that begins after the runtime has been idle long enough for the
/// monitor to sleep without a timeout is still reported: the worker that
/// leaves its parker to run the task wakes the monitor.
#[test]
fn stall_after_an_idle_spell_is_reported() {
    for workers in [1, 2] {
        let (rt, rx) = watched(workers, THRESHOLD);
        rt.block_on(rt.spawn(async {})).unwrap();
        // Not a synchronisation: gives the monitor time to reach its deep
        // sleep (16 idle looks), the case under test; it passes either way.
        std::thread::sleep(Duration::from_millis(100));
        let task = rt.spawn(async { std::thread::sleep(STALL) });
        let stall = rx
            .recv_timeout(LIMIT)
            .expect("stall after idle not reported");
        assert_eq!(stall.task_id, task.id());
        rt.block_on(task).unwrap();
    }
}

/// A callback that panics does not stop the watching.
#[test]
fn a_panicking_callback_does_not_stop_the_monitor() {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let rt = Runtime::builder()
        .worker_threads(1)
        .on_long_poll(THRESHOLD, move |stall: &LongPoll| {
            let _ = tx.lock().unwrap().send(stall.task_id);
            panic!("callback bomb");
        })
        .build()
        .unwrap();
    for _ in 0..2 {
        // The stall ends when its report has arrived (bounded by LIMIT),
        // not after a fixed time: printing the first panic (and its
        // backtrace) can keep the monitor away for longer than a fixed
        // stall under valgrind, and the second stall then went unseen.
        let (release, stalled) = mpsc::channel::<()>();
        let task = rt.spawn(async move {
            let _ = stalled.recv_timeout(LIMIT);
        });
        assert_eq!(rx.recv_timeout(LIMIT).expect("not reported"), task.id());
        release.send(()).unwrap();
        rt.block_on(task).unwrap();
    }
    assert_eq!(total_long_polls(&rt), 2);
    // Timers still work (the monitor also keeps the driver turning).
    rt.block_on(async { weft::time::sleep(Duration::from_millis(1)).await });
}

#[test]
#[should_panic(expected = "threshold must be more than zero")]
fn zero_threshold_is_refused() {
    Runtime::builder().on_long_poll(Duration::ZERO, |_| {});
}
