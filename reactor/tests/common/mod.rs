//! A tiny harness standing in for the runtime (which lives in the facade
//! crate): a thread that turns the driver until stopped, and a `block_on`
//! that parks the calling thread between polls.

#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use weft_executor::Driver as _;
use weft_reactor::{context, Driver, Handle};

/// The driver, turned by a background thread.
pub struct Rt {
    pub driver: Arc<Driver>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Rt {
    pub fn new() -> Rt {
        let driver = Arc::new(Driver::new(new_timer()).expect("driver"));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (driver, stop) = (driver.clone(), stop.clone());
            thread::Builder::new()
                .name("driver".into())
                .spawn(move || {
                    while !stop.load(SeqCst) {
                        driver.park(None);
                    }
                })
                .unwrap()
        };
        Rt {
            driver,
            stop,
            thread: Some(thread),
        }
    }

    pub fn handle(&self) -> Handle {
        self.driver.handle()
    }

    /// Runs `fut` on a new thread with this reactor as its context.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.handle();
        thread::spawn(move || {
            let _guard = context::enter(handle);
            block_on(fut)
        })
    }

    /// Runs `fut` on this thread with this reactor as its context.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _guard = context::enter(self.handle());
        block_on(fut)
    }

    /// Stops the driver thread (without shutting the driver down).
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, SeqCst);
            self.driver.unpark();
            thread.join().unwrap();
        }
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn new_timer() -> weft_timer::Timer {
    weft_timer::Timer::new()
}

struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
        self.thread.unpark();
    }
}

/// Polls `fut` to completion on this thread, each poll with a fresh coop
/// budget as a worker would give it.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let wake = Arc::new(ThreadWaker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(wake.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = weft_executor::coop::with_budget(|| fut.as_mut().poll(&mut cx)) {
            return out;
        }
        // The watchdog counts from the last poll: a long test that keeps
        // being woken (a 32 MiB transfer under valgrind) is slow, not stuck.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !wake.woken.swap(false, SeqCst) {
            assert!(
                Instant::now() < deadline,
                "block_on: the future returned Pending and nothing woke it for 60 s: \
                 a wakeup was lost"
            );
            thread::park_timeout(Duration::from_millis(100));
        }
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
pub struct CountingWaker(pub std::sync::atomic::AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

impl CountingWaker {
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let c = Arc::new(CountingWaker::default());
        (c.clone(), Waker::from(c))
    }
    pub fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A waker that does nothing (`Waker::noop` is newer than our MSRV).
pub fn noop_waker() -> Waker {
    Waker::from(Arc::new(CountingWaker::default()))
}

/// Waits until `cond` holds, for at most 10 s.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        thread::sleep(Duration::from_millis(1));
    }
}
