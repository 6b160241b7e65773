//! RuntimeMetrics reflect what the runtime did.

use std::time::{Duration, Instant};
use weft::Runtime;

#[test]
fn counts_spawns_polls_parks_and_alive_tasks() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let m = rt.metrics();
    assert_eq!(m.num_workers(), 2);
    let before = m.spawned_tasks_count();
    rt.block_on(async {
        let hs: Vec<_> = (0..500).map(|_| weft::spawn(async {})).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(m.spawned_tasks_count() - before, 500);
    let polls: u64 = (0..2).map(|i| m.worker_poll_count(i)).sum();
    assert!(polls >= 500, "polls {polls}");
    // Completed tasks leave the owned list. A task wakes its join handle
    // before it leaves the list, so the last one may still be on its way
    // out when `block_on` returns: wait (bounded) rather than race it.
    wait_until("the finished tasks leave the owned list", || {
        m.num_alive_tasks() == 0
    });
    let pending = rt.spawn(std::future::pending::<()>());
    wait_until("the pending task is counted", || m.num_alive_tasks() == 1);
    pending.abort();
    // The aborted task is cancelled by a worker, and then nothing is
    // queued; idle workers park; busy time accumulates.
    wait_until("the aborted task is gone and the queues are empty", || {
        m.num_alive_tasks() == 0
            && m.global_queue_depth() == 0
            && m.worker_local_queue_depth(0) + m.worker_local_queue_depth(1) == 0
    });
    wait_until("a worker parks", || {
        (0..2).map(|i| m.worker_park_count(i)).sum::<u64>() > 0
    });
    let busy: Duration = (0..2).map(|i| m.worker_total_busy_duration(i)).sum();
    assert!(busy > Duration::ZERO);
}

/// Polls `cond` every millisecond; fails the test if it is still false
/// after 10 s (only a broken runtime, not a slow machine, gets there).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn stealing_shows_up_per_worker() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(rt.spawn(async {
        // All spawned from one task on one worker.
        let hs: Vec<_> = (0..2000)
            .map(|_| {
                weft::spawn(async {
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
    let (p0, p1) = (m.worker_poll_count(0), m.worker_poll_count(1));
    let moved: u64 = (0..2)
        .map(|i| m.worker_steal_count(i) + m.worker_overflow_count(i))
        .sum();
    assert!(moved > 0);
    // Both workers polled (the thief polls what it stole). Not "many
    // each": how the polls split depends on how the OS runs the two
    // threads, and under valgrind, which runs one thread at a time, the
    // spawning worker did 2742 of 2813.
    assert!(p0 > 0 && p1 > 0, "polls per worker: {p0} / {p1}");
    assert!(p0 + p1 > 2000, "polls per worker: {p0} / {p1}");
    let ops: u64 = (0..2).map(|i| m.worker_steal_operations(i)).sum();
    let stolen: u64 = (0..2).map(|i| m.worker_steal_count(i)).sum();
    assert!(
        stolen >= ops,
        "each steal operation takes at least one task"
    );
}

#[test]
fn blocking_pool_metrics() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let m = rt.metrics();
    assert_eq!(m.num_blocking_threads(), 0);
    rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    assert_eq!(m.num_blocking_threads(), 1);
    // The idle thread leaves after its keep-alive.
    let deadline = Instant::now() + Duration::from_secs(5);
    while m.num_blocking_threads() != 0 {
        assert!(
            Instant::now() < deadline,
            "idle blocking thread never exited"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(m.blocking_queue_depth(), 0);
}
