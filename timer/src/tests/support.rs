//! Helpers shared by the tests: counting wakers, a hand-rolled driver thread,
//! a wake queue for polling many futures, and an allocation counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sync::{AtomicU64, Condvar, Mutex, Relaxed};
use crate::timer::Timer;

/// A waker target that counts its wakeups.
#[derive(Debug, Default)]
pub(crate) struct WakeCounter {
    wakes: AtomicU64,
}

impl WakeCounter {
    pub(crate) fn new() -> std::sync::Arc<WakeCounter> {
        std::sync::Arc::new(WakeCounter::default())
    }

    /// How many times a waker of this counter was woken. Relaxed: tests read
    /// it after the waking thread was joined, on the waking thread, or after
    /// a lock handoff.
    pub(crate) fn count(&self) -> u64 {
        self.wakes.load(Relaxed)
    }

    pub(crate) fn waker(self: &std::sync::Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }
}

impl Wake for WakeCounter {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // Relaxed: a counter (see `count`).
        self.wakes.fetch_add(1, Relaxed);
    }
}

/// Polls `future` once with `waker`.
pub(crate) fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Polls `future` once with a waker that does nothing.
pub(crate) fn poll_noop<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    poll_once(future, &WakeCounter::new().waker())
}

/// What the driver thread and the test share.
#[derive(Debug, Default)]
struct DriverState {
    notified: bool,
    stop: bool,
    /// Blocking waits started (with a deadline or without).
    waits: u64,
    /// Unpark callbacks received.
    unparks: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<DriverState>,
    condvar: Condvar,
}

/// A tiny driver: a thread running the protocol documented on `Timer`,
/// blocking on a parking_lot condvar instead of a poller.
pub(crate) struct Driver {
    shared: std::sync::Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Driver {
    pub(crate) fn start(timer: &Timer) -> Driver {
        let shared = std::sync::Arc::new(Shared::default());
        let unpark = shared.clone();
        timer.set_unpark(move || {
            let mut state = unpark.state.lock();
            state.notified = true;
            state.unparks += 1;
            unpark.condvar.notify_one();
        });
        let timer = timer.clone();
        let driver = shared.clone();
        let thread = std::thread::spawn(move || loop {
            let deadline = timer.begin_wait();
            {
                let mut state = driver.state.lock();
                if state.stop {
                    return;
                }
                if !state.notified {
                    state.waits += 1;
                    match deadline {
                        Some(deadline) => {
                            driver.condvar.wait_until(&mut state, deadline);
                        }
                        None => driver.condvar.wait(&mut state),
                    }
                }
                state.notified = false;
            }
            timer.end_wait();
            timer.process_at(Instant::now());
        });
        Driver {
            shared,
            thread: Some(thread),
        }
    }

    pub(crate) fn waits(&self) -> u64 {
        self.shared.state.lock().waits
    }

    pub(crate) fn unparks(&self) -> u64 {
        self.shared.state.lock().unparks
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        {
            let mut state = self.shared.state.lock();
            state.stop = true;
            state.notified = true;
            self.shared.condvar.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("driver thread panicked");
        }
    }
}

/// A queue of woken task indices, for polling many futures from one thread.
#[derive(Debug, Default)]
pub(crate) struct WakeQueue {
    ready: Mutex<Vec<usize>>,
    condvar: Condvar,
}

struct TaskWaker {
    index: usize,
    queue: std::sync::Arc<WakeQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.queue.ready.lock().push(self.index);
        self.queue.condvar.notify_one();
    }
}

impl WakeQueue {
    pub(crate) fn new() -> std::sync::Arc<WakeQueue> {
        std::sync::Arc::new(WakeQueue::default())
    }

    /// The waker of task `index`.
    pub(crate) fn waker(self: &std::sync::Arc<Self>, index: usize) -> Waker {
        Waker::from(std::sync::Arc::new(TaskWaker {
            index,
            queue: self.clone(),
        }))
    }

    /// Waits for woken tasks; panics after `limit` without any (a lost
    /// wakeup).
    pub(crate) fn wait(&self, limit: Duration) -> Vec<usize> {
        let deadline = Instant::now() + limit;
        let mut ready = self.ready.lock();
        while ready.is_empty() {
            let timed_out = self.condvar.wait_until(&mut ready, deadline).timed_out();
            assert!(
                !timed_out || !ready.is_empty(),
                "no wakeup within {limit:?}"
            );
        }
        std::mem::take(&mut *ready)
    }
}

/// Counts heap allocations per thread, so tests can assert that a path
/// allocates nothing (or exactly one entry).
struct CountingAllocator;

std::thread_local! {
    // `const` and `Cell<u64>`: no destructor, so no allocation to register
    // one, and safe to use from inside the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees hold; the counter touches no allocated memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded from the caller of `alloc`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller of `dealloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded from the caller of `realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made by this thread so far.
pub(crate) fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}
