//! Shutdown: every future dropped, every waiter woken, nothing hangs.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::Runtime;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

struct Count(Arc<AtomicUsize>);
impl Drop for Count {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn drop_cancels_tasks_waiting_on_timers_sockets_and_nothing() {
    let rt = rt(2);
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..300 {
        let c = Count(dropped.clone());
        handles.push(rt.spawn(async move {
            let _c = c;
            match i % 3 {
                0 => weft::time::sleep(Duration::from_secs(3600)).await,
                1 => {
                    let l = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let _ = l.accept().await;
                }
                _ => std::future::pending::<()>().await,
            }
        }));
    }
    // Let every task reach its await point.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = rt.metrics();
        let polls: u64 = (0..m.num_workers()).map(|i| m.worker_poll_count(i)).sum();
        if polls >= 300 {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(rt);
    assert_eq!(dropped.load(SeqCst), 300);
    for h in handles {
        assert!(h.is_finished());
    }
}

#[test]
fn join_handle_of_a_task_cancelled_by_shutdown_says_cancelled() {
    let rt = rt(1);
    let h = rt.spawn(std::future::pending::<()>());
    let other = rt_other();
    drop(rt);
    let err = other.block_on(h).unwrap_err();
    assert!(err.is_cancelled());
}

fn rt_other() -> Runtime {
    rt(1)
}

#[test]
fn shutdown_timeout_returns_as_soon_as_drained() {
    let rt = rt(2);
    rt.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    std::thread::sleep(Duration::from_millis(20));
    let t = Instant::now();
    rt.shutdown_timeout(Duration::from_secs(30));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "waited {:?}",
        t.elapsed()
    );
}

#[test]
fn shutdown_timeout_gives_up_on_a_stuck_task() {
    let rt = rt(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    rt.spawn(async move {
        tx.send(()).unwrap();
        // Blocks its worker without yielding until the test lets it go,
        // which it does only once shutdown_timeout returned: waiting for
        // this task would hang (bounded below).
        let _ = released.recv_timeout(Duration::from_secs(60));
    });
    rx.recv().unwrap();
    let (done, returned) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        rt.shutdown_timeout(Duration::from_millis(100));
        done.send(()).unwrap();
    });
    let res = returned.recv_timeout(Duration::from_secs(30));
    release.send(()).unwrap();
    res.expect("shutdown_timeout waited for a task stuck in its poll");
}

#[test]
fn block_on_waiting_on_a_timer_is_released_by_shutdown() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        handle.block_on(async move {
            tx.send(()).unwrap();
            weft::time::sleep(Duration::from_secs(3600)).await;
        })
    });
    rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    // The sleep's owner is gone: it must not wait an hour. It panics with
    // a message saying so.
    let err = waiter.join().unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("shut down"), "{msg}");
}

#[test]
fn socket_read_in_block_on_gets_an_error_at_shutdown() {
    use futures_util::AsyncReadExt;
    let rt = rt(1);
    let handle = rt.handle().clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        handle.block_on(async move {
            let l = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let mut c = weft::net::TcpStream::connect(addr).await.unwrap();
            let (_s, _) = l.accept().await.unwrap();
            tx.send(()).unwrap();
            let mut buf = [0u8; 8];
            c.read(&mut buf).await
        })
    });
    rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    let res = waiter.join().unwrap();
    assert!(res.is_err(), "read after shutdown returned {res:?}");
}

#[test]
fn spawns_racing_shutdown_never_leak_or_hang() {
    for _ in 0..50 {
        let rt = rt(2);
        let handle = rt.handle().clone();
        let dropped = Arc::new(AtomicUsize::new(0));
        let d = dropped.clone();
        let spawner = std::thread::spawn(move || {
            let mut n = 0;
            for _ in 0..200 {
                let c = Count(d.clone());
                drop(handle.spawn(async move {
                    let _c = c;
                    weft::task::yield_now().await;
                }));
                n += 1;
            }
            n
        });
        std::thread::sleep(Duration::from_micros(200));
        drop(rt);
        let n = spawner.join().unwrap();
        // Every future was dropped once: run, cancelled, or refused.
        let deadline = Instant::now() + Duration::from_secs(5);
        while dropped.load(SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} dropped",
                dropped.load(SeqCst)
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(dropped.load(SeqCst), n);
    }
}

#[test]
fn blocking_tasks_not_started_are_cancelled_at_shutdown() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (started, is_started) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let first = rt.spawn_blocking(move || {
        started.send(()).unwrap();
        // Holds the only pool thread until the drop below has begun.
        let _ = released.recv_timeout(Duration::from_secs(60));
    });
    let queued = rt.spawn_blocking(|| 5);
    is_started.recv().unwrap();
    // The drop cancels `queued` (the only pool thread is busy with
    // `first`, so nothing else can finish it), then waits for `first`:
    // release `first` once `queued` is finished.
    let releaser = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !queued.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = release.send(());
        queued
    });
    drop(rt);
    let queued = releaser.join().unwrap();
    let other = rt_other();
    assert!(other.block_on(first).is_ok());
    assert!(other.block_on(queued).unwrap_err().is_cancelled());
}

#[test]
fn runtime_dropped_inside_spawn_blocking_does_not_hang() {
    // Repeated: one round in a few used to hang (an earlier blocking job
    // leaves an idle pool thread behind; see the blocking pool's docs).
    let outer = rt(1);
    for round in 0..20 {
        let inner = rt(1 + round % 2);
        let h = inner.spawn_blocking(|| 1);
        assert_eq!(outer.block_on(h).unwrap(), 1);
        // Moving the runtime into one of its own blocking threads and
        // dropping it there must neither deadlock nor panic.
        let handle = inner.handle().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        handle.spawn_blocking(move || {
            drop(inner);
            tx.send(()).unwrap();
        });
        drop(handle);
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                panic!("round {round}: dropping the runtime from its own blocking thread hung")
            });
    }
}
