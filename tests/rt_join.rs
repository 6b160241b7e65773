//! Join handles, abort, JoinSet.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::task::{JoinError, JoinSet};
use weft::Runtime;

fn rt() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn abort_pending_task_drops_future_and_reports_cancelled() {
    let rt = rt();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let res: Result<(), JoinError> = rt.block_on(async move {
        let h = weft::spawn(async move {
            let _g = guard;
            weft::time::sleep(Duration::from_secs(3600)).await;
        });
        weft::time::sleep(Duration::from_millis(10)).await;
        h.abort();
        h.await
    });
    let err = res.unwrap_err();
    assert!(err.is_cancelled() && !err.is_panic());
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(dropped.load(SeqCst));
}

#[test]
fn abort_handle_outlives_join_handle() {
    let rt = rt();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let abort = rt.block_on(async move {
        let h = weft::spawn(async move {
            let _g = guard;
            std::future::pending::<()>().await;
        });
        let a = h.abort_handle();
        drop(h); // detached
        a
    });
    assert!(!abort.is_finished());
    abort.abort();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dropped.load(SeqCst) {
        assert!(
            Instant::now() < deadline,
            "aborted future was never dropped"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(abort.is_finished());
}

#[test]
fn dropping_join_handle_detaches_and_output_is_dropped() {
    let rt = rt();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    drop(rt.spawn(async move {
        tx.send(()).unwrap();
        guard // the output: dropped by the runtime since nobody joins
    }));
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dropped.load(SeqCst) {
        assert!(Instant::now() < deadline, "unjoined output leaked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn is_finished_and_join_from_another_task() {
    let rt = rt();
    let h = rt.spawn(async { 11 });
    let v = rt.block_on(async move {
        weft::spawn(async move {
            let v = h.await.unwrap();
            v * 2
        })
        .await
        .unwrap()
    });
    assert_eq!(v, 22);
}

#[test]
fn join_set_collects_in_completion_order() {
    let rt = rt();
    // Each member finishes when told to, in an order unlike the spawn
    // order; join_next must hand them back as they finish (events, not
    // timer spacing, decide the order).
    let order = rt.block_on(async {
        let mut set = JoinSet::new();
        let mut release = std::collections::HashMap::new();
        for id in [30u64, 10, 20] {
            let (tx, rx) = futures_channel::oneshot::channel::<()>();
            release.insert(id, tx);
            set.spawn(async move {
                rx.await.unwrap();
                id
            });
        }
        assert_eq!(set.len(), 3);
        let mut order = Vec::new();
        for id in [10u64, 20, 30] {
            release.remove(&id).unwrap().send(()).unwrap();
            order.push(set.join_next().await.unwrap().unwrap());
        }
        assert!(set.join_next().await.is_none());
        assert!(set.is_empty());
        order
    });
    assert_eq!(order, vec![10, 20, 30]);
}

#[test]
fn join_set_many_tasks_and_abort_all() {
    let rt = rt();
    rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..10_000u64 {
            set.spawn(async move { i });
        }
        let mut sum = 0;
        while let Some(r) = set.join_next().await {
            sum += r.unwrap();
        }
        assert_eq!(sum, 10_000 * 9_999 / 2);

        let dropped = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..10 {
            struct D(Arc<AtomicUsize>);
            impl Drop for D {
                fn drop(&mut self) {
                    self.0.fetch_add(1, SeqCst);
                }
            }
            // Built outside the future: a task aborted before its first
            // poll still owns (and must drop) what it captured.
            let d = D(dropped.clone());
            set.spawn(async move {
                let _d = d;
                std::future::pending::<()>().await
            });
        }
        set.abort_all();
        let mut cancelled = 0;
        while let Some(r) = set.join_next().await {
            assert!(r.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        assert_eq!(cancelled, 10);
        assert_eq!(dropped.load(SeqCst), 10);
    });
}

#[test]
fn join_set_drop_aborts_members() {
    let rt = rt();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    rt.block_on(async move {
        let mut set = JoinSet::new();
        set.spawn(async move {
            let _g = guard;
            std::future::pending::<()>().await
        });
        weft::task::yield_now().await;
        drop(set);
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dropped.load(SeqCst) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn spawn_blocking_result_and_pool_threads() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(4)
        .build()
        .unwrap();
    let v = rt.block_on(async {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                weft::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    i
                })
            })
            .collect();
        let mut v = 0;
        for h in hs {
            v += h.await.unwrap();
        }
        v
    });
    assert_eq!(v, 120);
    let n = rt.metrics().num_blocking_threads();
    assert!((1..=4).contains(&n), "blocking threads: {n}");
}

#[test]
fn spawn_blocking_can_use_the_runtime() {
    let rt = rt();
    let v = rt.block_on(async {
        weft::spawn_blocking(|| {
            let h = weft::Handle::current();
            h.block_on(async { weft::spawn(async { 9 }).await.unwrap() })
        })
        .await
        .unwrap()
    });
    assert_eq!(v, 9);
}

#[test]
#[should_panic(expected = "`JoinSet::spawn` was called outside a weft runtime")]
fn join_set_spawn_outside_a_runtime_says_how_to_get_in() {
    let mut set = weft::task::JoinSet::new();
    set.spawn(async {});
}
