//! The reactor's own guarantees: per-direction wakeups, readiness
//! semantics, coop budget, the driver turn, shutdown.

#![cfg(not(loom))]

mod common;

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use common::{CountingWaker, Rt};
use futures_io::{AsyncRead, AsyncWrite};
use weft_executor::Driver as _;
use weft_reactor::net::TcpStream;
use weft_reactor::{context, Async, Driver};

/// Fills `a`'s send path until a write would block.
fn fill(a: &Async<StdUnixStream>) {
    let chunk = [0u8; 65536];
    let waker = common::noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        match AsyncWrite::poll_write(std::pin::Pin::new(&mut &*a), &mut cx, &chunk) {
            Poll::Ready(Ok(_)) => {}
            Poll::Pending => return,
            Poll::Ready(Err(e)) => panic!("{e}"),
        }
    }
}

#[test]
fn readable_event_does_not_wake_writer() {
    let rt = Rt::new();
    let _guard = context::enter(rt.handle());
    let (a, b) = StdUnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    let mut b = b;
    // Wait for the registration's first (writable) event, then fill.
    common::block_on(a.writable()).unwrap();
    fill(&a);

    let (writes, writer) = CountingWaker::new();
    let (reads, reader) = CountingWaker::new();
    let mut buf = [0u8; 16];
    assert!(AsyncWrite::poll_write(
        std::pin::Pin::new(&mut &a),
        &mut Context::from_waker(&writer),
        b"x"
    )
    .is_pending());
    assert!(AsyncRead::poll_read(
        std::pin::Pin::new(&mut &a),
        &mut Context::from_waker(&reader),
        &mut buf
    )
    .is_pending());

    // The peer writes (a readable event for `a`) but does not read.
    b.write_all(b"hello").unwrap();
    common::wait_until(|| reads.count() == 1);
    // A few more turns of the driver, in case a stray wakeup is on its way.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(writes.count(), 0, "a readable event woke the writer");

    // Now the peer reads: space frees up, the writer (only) is woken.
    let mut sink = vec![0u8; 1 << 20];
    let _ = b.set_nonblocking(true);
    while let Ok(n) = b.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    common::wait_until(|| writes.count() >= 1);
    assert_eq!(reads.count(), 1, "a writable event woke the reader");
}

#[test]
fn readable_twice_waits_only_when_drained() {
    let rt = Rt::new();
    let _guard = context::enter(rt.handle());
    let (a, mut b) = StdUnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    b.write_all(&[7u8; 10]).unwrap();
    common::block_on(a.readable()).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(a.get_ref().read(&mut buf).unwrap(), 4);
    // Data remains and no new event will say so: readable() must look.
    common::block_on(a.readable()).unwrap();
    let mut rest = [0u8; 64];
    assert_eq!(a.get_ref().read(&mut rest).unwrap(), 6);
    // Drained: readable() must now wait (not spin) until new data.
    {
        let mut fut = pin!(a.readable());
        let (count, waker) = CountingWaker::new();
        let mut cx = Context::from_waker(&waker);
        assert!(
            fut.as_mut().poll(&mut cx).is_pending(),
            "readable() after draining"
        );
        b.write_all(b"!").unwrap();
        common::wait_until(|| count.count() > 0);
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    }
    assert_eq!(a.get_ref().read(&mut rest).unwrap(), 1);
}

#[test]
fn read_with_on_a_pipe_and_into_inner() {
    let rt = Rt::new();
    let _guard = context::enter(rt.handle());
    let (r, w) = rustix::pipe::pipe().unwrap();
    let (r, w) = (std::fs::File::from(r), std::fs::File::from(w));
    let r = Async::new(r).unwrap();
    let writer = thread::spawn(move || {
        let mut w = w;
        thread::sleep(Duration::from_millis(20));
        w.write_all(b"through the pipe").unwrap();
    });
    let mut buf = [0u8; 64];
    let n = common::block_on(r.read_with(|mut p| p.read(&mut buf))).unwrap();
    assert_eq!(&buf[..n], b"through the pipe");
    writer.join().unwrap();
    let before = rt.handle().source_count();
    let inner = r.into_inner();
    assert_eq!(rt.handle().source_count(), before - 1);
    drop(inner);
}

#[test]
fn coop_budget_makes_a_busy_reader_yield() {
    let rt = Rt::new();
    let _guard = context::enter(rt.handle());
    let (a, mut b) = StdUnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    b.write_all(&[1u8; 4096]).unwrap();
    common::block_on(a.readable()).unwrap();
    let (count, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut ready = 0;
    weft_executor::coop::with_budget(|| loop {
        let mut byte = [0u8; 1];
        match AsyncRead::poll_read(std::pin::Pin::new(&mut &a), &mut cx, &mut byte) {
            Poll::Ready(Ok(1)) => ready += 1,
            Poll::Pending => break,
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(
        ready,
        weft_executor::coop::BUDGET as usize,
        "one unit per ready read"
    );
    assert_eq!(
        count.count(),
        1,
        "the budget wakes the task to run again later"
    );
}

#[test]
fn unpark_interrupts_an_idle_park_and_stats_count_turns() {
    let driver = Driver::new(weft_timer::Timer::new()).unwrap();
    let driver = std::sync::Arc::new(driver);
    let start = Instant::now();
    let parker = {
        let driver = driver.clone();
        thread::spawn(move || driver.park(None))
    };
    thread::sleep(Duration::from_millis(20));
    driver.unpark();
    parker.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    // An unpark before park makes the next park return at once.
    driver.unpark();
    driver.park(None);
    driver.park(Some(Duration::ZERO));
    let stats = driver.stats();
    assert_eq!(stats.turns, 3, "{stats:?}");
}

#[test]
fn earlier_timer_interrupts_a_long_wait() {
    let timer = weft_timer::Timer::new();
    let driver = std::sync::Arc::new(Driver::new(timer.clone()).unwrap());
    let parker = {
        let driver = driver.clone();
        thread::spawn(move || {
            let start = Instant::now();
            driver.park(Some(Duration::from_secs(30)));
            start.elapsed()
        })
    };
    thread::sleep(Duration::from_millis(20));
    // A sleep registered while the driver waits must cut the wait short.
    let _timer_guard = weft_timer::context::enter(timer.handle());
    let mut sleep = pin!(weft_timer::sleep(Duration::from_millis(10)));
    let (fired, waker) = CountingWaker::new();
    assert!(sleep
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    let waited = parker.join().unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "slept through an earlier timer: {waited:?}"
    );
    // Turn until the sleep fires (the first turn may have ended at the
    // notify, before the deadline).
    let deadline = Instant::now() + Duration::from_secs(5);
    while fired.count() == 0 {
        assert!(Instant::now() < deadline);
        driver.park(Some(Duration::from_secs(1)));
    }
    assert!(sleep
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
    assert!(driver.stats().timers_fired >= 1);
}

#[test]
fn shutdown_wakes_a_pending_read_with_an_error() {
    let rt = Rt::new();
    let listener = rt
        .block_on(weft_reactor::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = rt.spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 8];
        futures_util::AsyncReadExt::read(&mut stream, &mut buf).await
    });
    let client = rt.block_on(TcpStream::connect(addr)).unwrap();
    // Let the reader reach its pending read.
    thread::sleep(Duration::from_millis(50));
    rt.driver.shutdown();
    let err = reader.join().unwrap().unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
    // No new registrations after shutdown.
    let err = rt
        .block_on(async { Async::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()) })
        .unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
    // And existing ones fail fast.
    let mut buf = [0u8; 1];
    let err = rt
        .block_on(futures_util::AsyncReadExt::read(&mut &client, &mut buf))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
}

#[test]
fn outside_a_runtime_async_new_panics_with_advice() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let panic = std::panic::catch_unwind(move || Async::new(socket)).unwrap_err();
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(message.contains("no weft reactor"), "{message}");
    assert!(message.contains("block_on"), "{message}");
}

#[test]
fn regular_files_are_refused_not_hung() {
    let rt = Rt::new();
    let _guard = context::enter(rt.handle());
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    let err = Async::new(file).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::PermissionDenied,
        "epoll refuses regular files: {err}"
    );
    assert_eq!(
        rt.handle().source_count(),
        0,
        "the failed registration left nothing behind"
    );
}

#[test]
fn types_and_futures_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<weft_reactor::Handle>();
    send_sync::<Driver>();
    send_sync::<Async<std::net::TcpStream>>();
    send_sync::<weft_reactor::net::TcpStream>();
    send_sync::<weft_reactor::net::TcpListener>();
    send_sync::<weft_reactor::net::UdpSocket>();
    send_sync::<weft_reactor::net::UnixStream>();
    send_sync::<weft_reactor::net::UnixListener>();
    send_sync::<weft_reactor::net::tcp::OwnedReadHalf>();
    send_sync::<weft_reactor::net::tcp::OwnedWriteHalf>();

    let rt = Rt::new();
    let _guard = context::enter(rt.handle());
    let socket = Async::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    send(&socket.readable());
    send(&socket.read_with(|s| s.recv(&mut [])));
    send(&TcpStream::connect("127.0.0.1:1"));
    send(&weft_reactor::net::TcpListener::bind("127.0.0.1:0"));
    send(&weft_reactor::net::UdpSocket::bind("127.0.0.1:0"));
    send(&weft_reactor::net::UnixStream::connect("/nonexistent"));
}
