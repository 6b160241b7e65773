//! Models of the task cell's protocols against the scheduler: shutdown
//! while a task runs, and the join waker (`task/state.rs`, `JOIN_WAKER`).

use super::{rt, DropCount};
use crate::sync::Arc;
use crate::task::yield_now;
use loom::sync::atomic::{AtomicBool, AtomicUsize};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Wake, Waker};

/// Shutdown while a task is being polled: `shutdown_background` does not
/// wait for the worker, so its `close_and_shutdown_all` finds the task
/// RUNNING (it only marks it CANCELLED) or idle in a queue (it cancels it
/// itself). Either way the future is dropped exactly once, the join handle
/// sees the output or a cancellation, and nothing leaks (loom checks the
/// scheduler's `Arc`).
///
/// Catches: making the `TransitionToIdle::Cancelled` arm of
/// `Harness::poll` do nothing (instead of cancelling and completing the
/// task) makes loom report a deadlock (the join handle waits forever).
#[test]
fn shutdown_while_task_running() {
    loom::model(|| {
        let rt = rt(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = DropCount(drops.clone());
        let h = rt.spawn(async move {
            let _d = d;
            // Pending with itself woken: a poll that shutdown can race.
            yield_now().await;
            5
        });
        rt.shutdown_background();
        match crate::park_thread::block_on(h, |_| None) {
            Ok(v) => assert_eq!(v, 5),
            Err(e) => assert!(e.is_cancelled(), "{e:?}"),
        }
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A waker that records its wake and unparks the loom thread that made it.
struct ThreadWaker {
    woken: AtomicBool,
    thread: loom::thread::Thread,
}

impl ThreadWaker {
    fn new() -> std::sync::Arc<ThreadWaker> {
        std::sync::Arc::new(ThreadWaker {
            woken: AtomicBool::new(false),
            thread: loom::thread::current(),
        })
    }
}

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, SeqCst);
        self.thread.unpark();
    }
}

/// Join-waker replacement racing completion: the join handle is polled
/// with waker A, then with waker B, while the task completes on the worker.
/// The handle either sees the output or B is woken (A may be woken too, or
/// not); never neither, or the handle's owner waits forever.
///
/// Catches: making `can_read_output` keep the stored waker when a different
/// one is passed (returning `false` instead of `unset_join_waker` and
/// `set_join_waker`) makes loom report a deadlock: completion wakes A only.
#[test]
fn join_waker_replaced_while_completing() {
    loom::model(|| {
        let rt = rt(1);
        let h = rt.spawn(async {
            yield_now().await;
            9
        });
        let mut h = pin!(h);
        let (a, b) = (ThreadWaker::new(), ThreadWaker::new());
        let output = 'polls: {
            for waker in [&a, &b] {
                let waker = Waker::from(waker.clone());
                if let Poll::Ready(out) = h.as_mut().poll(&mut Context::from_waker(&waker)) {
                    break 'polls out;
                }
            }
            while !b.woken.load(SeqCst) {
                loom::thread::park();
            }
            let waker = Waker::from(b.clone());
            match h.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(out) => out,
                Poll::Pending => panic!("B was woken, but the output is not there"),
            }
        };
        assert_eq!(output.unwrap(), 9);
    });
}
