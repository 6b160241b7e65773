//! No panic can stall the runtime: a panicking waker fired by the driver, a
//! panicking thread hook, a runtime dropped or shut down inside a task.
//! Each test runs the part that used to hang on a helper thread and waits
//! for it with a bound, so a regression fails instead of hanging the suite.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;
use weft::Runtime;

/// Long enough for any healthy run on a loaded machine; only a hang reaches it.
const HANG: Duration = Duration::from_secs(20);

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

/// Runs `f` on its own thread; fails the test if it does not finish within
/// [`HANG`] (the thread is then leaked, the test process still exits).
fn finishes<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what} hung (or panicked)"))
}

/// A waker that records that it was woken, then panics.
struct PanickingWaker(AtomicBool);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, SeqCst);
        panic!("waker exploded");
    }
}

/// A waker that counts and sends one message per wake.
struct CountingWaker(AtomicUsize, std::sync::Mutex<mpsc::Sender<()>>);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
        let _ = self.1.lock().unwrap().send(());
    }
}

/// Registers `sleep` with the runtime's timer under `waker` (one poll,
/// outside any task).
fn register(rt: &Runtime, sleep: &mut Pin<Box<weft::time::Sleep>>, waker: &Waker) {
    let _enter = rt.enter();
    let mut cx = Context::from_waker(waker);
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
}

fn panicking_timer_waker_stalls_nothing(workers: usize) {
    // Not dropped if the test fails: that drop is what used to hang.
    let rt = std::mem::ManuallyDrop::new(rt(workers));
    let deadline = std::time::Instant::now() + Duration::from_millis(20);
    let bomb = Arc::new(PanickingWaker(AtomicBool::new(false)));
    let (tx, woken) = mpsc::channel();
    let counter = Arc::new(CountingWaker(
        AtomicUsize::new(0),
        std::sync::Mutex::new(tx),
    ));
    // One panicking waker among ordinary ones, all due at the same instant,
    // so they fire in one batch.
    let mut sleeps = Vec::new();
    for i in 0..9 {
        let mut sleep = {
            let _enter = rt.enter();
            Box::pin(weft::time::sleep_until(deadline))
        };
        let waker = if i == 4 {
            Waker::from(bomb.clone())
        } else {
            Waker::from(counter.clone())
        };
        register(&rt, &mut sleep, &waker);
        sleeps.push(sleep);
    }
    // Every ordinary waker of the batch is woken, panic or not.
    let until = std::time::Instant::now() + HANG;
    for i in 0..8 {
        woken
            .recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_else(|_| panic!("only {i} of 8 wakers in the panicking batch were woken"));
    }
    assert!(bomb.0.load(SeqCst), "the panicking waker never fired");
    // The driver keeps turning: a fresh sleep completes.
    let handle = rt.handle().clone();
    finishes("a sleep after a waker panicked", move || {
        handle.block_on(async { weft::time::sleep(Duration::from_millis(10)).await })
    });
    assert!(
        rt.metrics().driver_panic_count() >= 1,
        "the waker's panic was not counted"
    );
    // And the runtime still shuts down.
    finishes("dropping the runtime after a waker panicked", move || {
        drop(sleeps);
        drop(std::mem::ManuallyDrop::into_inner(rt))
    });
    assert_eq!(counter.0.load(SeqCst), 8);
}

#[test]
fn panicking_timer_waker_stalls_nothing_one_worker() {
    panicking_timer_waker_stalls_nothing(1);
}

#[test]
fn panicking_timer_waker_stalls_nothing_two_workers() {
    panicking_timer_waker_stalls_nothing(2);
}

#[test]
fn panicking_hooks_do_not_kill_blocking_threads() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .on_thread_start(|| panic!("start hook"))
        .on_thread_stop(|| panic!("stop hook"))
        .build()
        .unwrap();
    let rt = finishes("spawn_blocking with panicking hooks", move || {
        for i in 0..3 {
            assert_eq!(rt.block_on(rt.spawn_blocking(move || i)).unwrap(), i);
        }
        rt
    });
    finishes("dropping a runtime whose hooks panic", move || drop(rt));
}

#[test]
fn shutdown_background_inside_a_task_is_allowed() {
    let outer = rt(1);
    let inner = rt(1);
    let res = finishes("shutdown_background inside a task", move || {
        outer.block_on(outer.spawn(async move { inner.shutdown_background() }))
    });
    assert!(res.is_ok(), "shutdown_background panicked: {res:?}");
}

#[test]
fn runtime_dropped_inside_a_task_stops_its_threads() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let inner = Runtime::builder()
        .worker_threads(2)
        .on_thread_stop(move || {
            s.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    // Make sure both workers started (they run the stop hook on exit).
    inner.block_on(async {});
    let outer = rt(1);
    let err = outer
        .block_on(outer.spawn(async move { drop(inner) }))
        .unwrap_err();
    assert!(
        err.to_string().contains("inside an asynchronous task"),
        "{err}"
    );
    // The panic still explains the misuse, but the workers were told to
    // stop first: both exit (bounded wait, no sleep-based guess).
    let deadline = std::time::Instant::now() + HANG;
    while stopped.load(SeqCst) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of 2 workers of the dropped runtime stopped",
            stopped.load(SeqCst)
        );
        std::thread::yield_now();
    }
}

#[test]
fn panicking_socket_waker_stalls_nothing() {
    use weft::io::Async;
    // Not dropped if the test fails: that drop is what used to hang.
    let rt = std::mem::ManuallyDrop::new(rt(1));
    let (bomb_socket, witness_socket, sender) = {
        let _enter = rt.enter();
        let bind = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        (
            Async::new(bind()).unwrap(),
            Async::new(bind()).unwrap(),
            bind(),
        )
    };
    let bomb = Arc::new(PanickingWaker(AtomicBool::new(false)));
    let (tx, woken) = mpsc::channel();
    let counter = Arc::new(CountingWaker(
        AtomicUsize::new(0),
        std::sync::Mutex::new(tx),
    ));
    let bomb_waker = Waker::from(bomb.clone());
    let counter_waker = Waker::from(counter.clone());
    assert!(bomb_socket
        .poll_readable(&mut Context::from_waker(&bomb_waker))
        .is_pending());
    assert!(witness_socket
        .poll_readable(&mut Context::from_waker(&counter_waker))
        .is_pending());
    // Both become readable; whichever waker the driver calls first, the
    // other is still woken.
    for socket in [&bomb_socket, &witness_socket] {
        let addr = socket.get_ref().local_addr().unwrap();
        sender.send_to(b"x", addr).unwrap();
    }
    woken
        .recv_timeout(HANG)
        .expect("a socket waker beside a panicking one was never woken");
    assert!(bomb.0.load(SeqCst), "the panicking waker never fired");
    // Timers and sockets still work.
    let handle = rt.handle().clone();
    finishes("a sleep and a socket after a waker panicked", move || {
        handle.block_on(async move {
            weft::time::sleep(Duration::from_millis(10)).await;
            let mut buf = [0u8; 4];
            let addr = witness_socket.get_ref().local_addr().unwrap();
            sender.send_to(b"y", addr).unwrap();
            // The first datagram, then the second.
            for _ in 0..2 {
                witness_socket
                    .read_with(|s| s.recv(&mut buf))
                    .await
                    .unwrap();
            }
        })
    });
    assert!(rt.metrics().driver_panic_count() >= 1);
    finishes(
        "dropping the runtime after a socket waker panicked",
        move || {
            drop(bomb_socket);
            drop(std::mem::ManuallyDrop::into_inner(rt))
        },
    );
}
