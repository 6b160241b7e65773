//! timeout and interval through the runtime.

use std::time::{Duration, Instant};
use weft::time::{interval, timeout, MissedTickBehavior};
use weft::Runtime;

fn rt() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

#[test]
fn timeout_elapses_and_reports_elapsed() {
    let rt = rt();
    rt.block_on(async {
        let start = Instant::now();
        let r = timeout(Duration::from_millis(20), std::future::pending::<()>()).await;
        let err = r.unwrap_err();
        assert_eq!(err.to_string(), "deadline has elapsed");
        assert!(start.elapsed() >= Duration::from_millis(20));
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    });
}

#[test]
fn timeout_passes_through_when_the_future_wins() {
    let rt = rt();
    rt.block_on(async {
        assert_eq!(
            timeout(Duration::from_secs(10), async { 5 }).await.unwrap(),
            5
        );
        let slow_ok = timeout(
            Duration::from_secs(10),
            weft::time::sleep(Duration::from_millis(5)),
        )
        .await;
        assert!(slow_ok.is_ok());
    });
}

#[test]
fn interval_ticks_are_spaced_by_the_period() {
    let rt = rt();
    rt.block_on(async {
        let mut iv = interval(Duration::from_millis(10));
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Skip);
        let first = iv.tick().await; // immediate
        let mut last = first;
        for _ in 0..5 {
            let t = iv.tick().await;
            assert!(t - last >= Duration::from_millis(10));
            last = t;
        }
        assert!(Instant::now() >= first + Duration::from_millis(50));
    });
}

#[test]
fn interval_burst_catches_up_after_a_stall() {
    let rt = rt();
    rt.block_on(async {
        let mut iv = interval(Duration::from_millis(10));
        iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
        iv.tick().await;
        std::thread::sleep(Duration::from_millis(55)); // stall this task
                                                       // Five missed ticks come back to back.
        let start = Instant::now();
        for _ in 0..5 {
            iv.tick().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "{:?}",
            start.elapsed()
        );
    });
}
