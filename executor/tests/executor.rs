//! The executor on its own (no driver): spawn, join, panic, abort,
//! shutdown and the sleep protocol under stress.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_executor::task::{yield_now, JoinSet};
use weft_executor::{Builder, Executor, Handle};

fn rt(workers: usize) -> Executor {
    Builder::new().worker_threads(workers).build().unwrap()
}

#[test]
fn spawn_and_join_from_outside_and_inside() {
    let rt = rt(2);
    let h = rt.spawn(async { 1 + 1 });
    assert_eq!(rt.block_on(h).unwrap(), 2);
    let out = rt.block_on(async {
        let hs: Vec<_> = (0..1000u64)
            .map(|i| Handle::current().spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(out, 999 * 1000 / 2);
}

#[test]
fn remote_spawn_while_workers_park_never_loses_a_task() {
    // Foreign threads spawn one task at a time and wait for it, so the
    // workers keep going to sleep between spawns: the race of the sleep
    // protocol, thousands of times.
    let rt = rt(2);
    let handle = rt.handle().clone();
    let ran = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            let ran = ran.clone();
            std::thread::spawn(move || {
                for _ in 0..2500 {
                    let ran = ran.clone();
                    let h = handle.spawn(async move {
                        ran.fetch_add(1, SeqCst);
                    });
                    // Waiting with a deadline: a lost wakeup fails, not hangs.
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !h.is_finished() {
                        assert!(Instant::now() < deadline, "task never ran: lost wakeup");
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(ran.load(SeqCst), 10_000);
}

#[test]
fn deep_chain_of_spawns() {
    fn chain(n: usize, done: Arc<AtomicUsize>) {
        if n == 0 {
            done.fetch_add(1, SeqCst);
            return;
        }
        Handle::current().spawn(async move { chain(n - 1, done) });
    }
    let rt = rt(2);
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    rt.block_on(async move {
        Handle::current().spawn(async move { chain(10_000, d) });
        let deadline = Instant::now() + Duration::from_secs(20);
        while done.load(SeqCst) == 0 {
            assert!(Instant::now() < deadline);
            yield_now().await;
        }
    });
}

#[test]
fn panic_becomes_join_error_and_worker_survives() {
    let rt = rt(1);
    let err = rt.block_on(rt.spawn(async { panic!("boom") })).unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("boom"), "{err}");
    let payload = err.into_panic();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "boom");
    // The single worker is still there.
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
}

#[test]
fn abort_cancels_pending_task_and_drops_its_future() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let rt = rt(2);
    let dropped = Arc::new(AtomicUsize::new(0));
    let flag = Flag(dropped.clone());
    let h = rt.spawn(async move {
        let _flag = flag;
        std::future::pending::<()>().await;
    });
    h.abort();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(dropped.load(SeqCst), 1);
}

#[test]
fn abort_after_completion_keeps_output() {
    let rt = rt(1);
    let h = rt.spawn(async { 5 });
    while !h.is_finished() {
        std::thread::yield_now();
    }
    h.abort();
    assert_eq!(rt.block_on(h).unwrap(), 5);
}

#[test]
fn dropping_runtime_drops_every_future() {
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = rt(2);
    let mut handles = Vec::new();
    for _ in 0..100 {
        let c = Count(dropped.clone());
        handles.push(rt.spawn(async move {
            let _c = c;
            std::future::pending::<()>().await;
        }));
    }
    // Let them all get polled once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().worker_poll_count(0) + rt.metrics().worker_poll_count(1) < 100 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(rt.metrics().num_alive_tasks(), 100);
    drop(rt);
    assert_eq!(dropped.load(SeqCst), 100);
    for h in handles {
        assert!(h.is_finished());
        let err = futures_lite_block_on(h).unwrap_err();
        assert!(err.is_cancelled());
    }
}

/// Polls a future on this thread with a no-op waker until ready (only for
/// futures that are already complete).
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn spawn_after_shutdown_is_cancelled() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    drop(rt);
    let h = handle.spawn(async { 1 });
    assert!(futures_lite_block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn yield_many_interleaves() {
    let rt = rt(2);
    let total = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut set = JoinSet::new();
        for _ in 0..50 {
            let total = total.clone();
            set.spawn(async move {
                for _ in 0..200 {
                    yield_now().await;
                    total.fetch_add(1, SeqCst);
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
    assert_eq!(total.load(SeqCst), 10_000);
}

#[test]
fn join_set_drop_aborts() {
    let rt = rt(2);
    let h = rt.block_on(async {
        let mut set = JoinSet::new();
        let abort = set.spawn(std::future::pending::<()>());
        drop(set);
        abort
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !h.is_finished() {
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    }
}

#[test]
fn spawn_blocking_runs_on_pool() {
    let rt = rt(1);
    let name = rt
        .block_on(rt.spawn_blocking(|| std::thread::current().name().map(str::to_owned)))
        .unwrap();
    assert_eq!(name.as_deref(), Some("weft-worker"));
    assert!(rt.metrics().num_blocking_threads() >= 1);
    let r = rt.block_on(rt.spawn_blocking(|| panic!("blocking boom")));
    assert!(r.unwrap_err().is_panic());
}

#[test]
fn work_is_stolen_when_spawned_from_one_worker() {
    let rt = rt(2);
    rt.block_on(rt.spawn(async {
        let hs: Vec<_> = (0..2000)
            .map(|_| {
                Handle::current().spawn(async {
                    // A little CPU work so the other worker has time to steal.
                    let mut x = 0u64;
                    for i in 0..20_000u64 {
                        x = x.wrapping_add(std::hint::black_box(i));
                    }
                    x
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    }))
    .unwrap();
    let m = rt.metrics();
    // Work reaches the idle worker by stealing, or through the global
    // queue when the spawner's local queue overflows.
    let moved = m.worker_steal_count(0)
        + m.worker_steal_count(1)
        + m.worker_overflow_count(0)
        + m.worker_overflow_count(1);
    let polls0 = m.worker_poll_count(0);
    let polls1 = m.worker_poll_count(1);
    assert!(moved > 0, "no task moved between workers");
    assert!(polls0 > 100 && polls1 > 100, "polls {polls0} / {polls1}");
}

#[test]
#[should_panic(expected = "inside another `block_on`")]
fn nested_block_on_panics() {
    let rt = rt(1);
    let h = rt.handle().clone();
    rt.block_on(async move { h.block_on(async {}) });
}

#[test]
fn block_on_inside_task_is_a_join_error_with_message() {
    let rt = rt(1);
    let h = rt.handle().clone();
    let err = rt
        .block_on(rt.spawn(async move { h.block_on(async {}) }))
        .unwrap_err();
    assert!(err.to_string().contains("worker thread"), "{err}");
}
