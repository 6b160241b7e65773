//! Sleeps: never early, barely late, interrupting long waits, and many
//! of them interleaving on one thread.

use std::time::{Duration, Instant};
use weft::Runtime;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

#[test]
fn sleeps_never_fire_early() {
    let rt = rt(2);
    rt.block_on(async {
        let mut set = weft::task::JoinSet::new();
        for i in 0..200u64 {
            set.spawn(async move {
                // 0.25 ms steps up to 50 ms, to hit slot boundaries.
                let d = Duration::from_micros(250 * (i % 200));
                let start = Instant::now();
                weft::time::sleep(d).await;
                let took = start.elapsed();
                assert!(took >= d, "slept {took:?} for {d:?}");
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
}

#[test]
fn earlier_timer_interrupts_a_thirty_second_wait() {
    let rt = rt(1);
    rt.block_on(async {
        // The worker parks in the driver until this 30 s deadline...
        let long = weft::spawn(weft::time::sleep(Duration::from_secs(30)));
        weft::time::sleep(Duration::from_millis(5)).await;
        // ...and a 20 ms timer registered now must cut that wait short.
        let start = Instant::now();
        weft::spawn(weft::time::sleep(Duration::from_millis(20)))
            .await
            .unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(20));
        assert!(took < Duration::from_secs(5), "took {took:?}");
        long.abort();
    });
}

#[test]
fn ten_thousand_sleeps_interleave_on_one_worker() {
    // Concurrency without parallelism: one worker, 10,000 tasks each
    // waiting 100 ms. Run one after another they would take 1,000 s.
    let rt = rt(1);
    let start = Instant::now();
    rt.block_on(async {
        let mut set = weft::task::JoinSet::new();
        for _ in 0..10_000 {
            set.spawn(weft::time::sleep(Duration::from_millis(100)));
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(100));
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn sleep_until_past_and_reset() {
    let rt = rt(1);
    rt.block_on(async {
        let start = Instant::now();
        weft::time::sleep_until(start - Duration::from_secs(1)).await;
        assert!(start.elapsed() < Duration::from_secs(1));

        let mut s = Box::pin(weft::time::sleep(Duration::from_secs(3600)));
        let target = Instant::now() + Duration::from_millis(15);
        s.as_mut().reset(target);
        s.as_mut().await;
        assert!(Instant::now() >= target);
        assert!(s.is_elapsed());
    });
}

#[test]
fn sleep_created_in_runtime_polled_on_another_thread() {
    let rt = rt(1);
    let sleep = {
        let _g = rt.enter();
        weft::time::sleep(Duration::from_millis(10))
    };
    let start = Instant::now();
    // A plain thread with its own minimal executor: the runtime's driver
    // still fires the timer and wakes it.
    std::thread::spawn(move || {
        let waker =
            std::task::Waker::from(std::sync::Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut sleep = Box::pin(sleep);
        while sleep.as_mut().poll(&mut cx).is_pending() {
            std::thread::park_timeout(Duration::from_secs(5));
        }
    })
    .join()
    .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(10));
}

struct ThreadWaker(std::thread::Thread);
impl std::task::Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

use std::future::Future;

#[test]
#[should_panic(expected = "inside a weft runtime")]
fn sleep_outside_runtime_panics_with_advice() {
    drop(weft::time::sleep(Duration::from_millis(1)));
}
