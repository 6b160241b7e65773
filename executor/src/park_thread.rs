//! `block_on`'s thread parker: the calling thread sleeps on a condvar until
//! the future's waker unparks it.

use crate::scheduler::park::Parker;
use crate::unhandled_panic::Registration;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct ThreadUnparker(Parker);

impl Wake for ThreadUnparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark(None);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark(None);
    }
}

crate::sync::thread_local! {
    /// One parker per thread, reused by every `block_on` on it.
    static PARKER: (Arc<ThreadUnparker>, Waker) = {
        let unparker = Arc::new(ThreadUnparker(Parker::new()));
        let waker = Waker::from(unparker.clone());
        (unparker, waker)
    };
}

/// `watch` registers the thread's waker with the runtime's `UnhandledPanic`
/// policy (`None` with the default policy); the registration panics if the
/// runtime was shut down by a task's panic, before every poll and after the
/// last one.
#[track_caller]
pub(crate) fn block_on<'w, F: Future>(
    future: F,
    watch: impl FnOnce(&Waker) -> Option<Registration<'w>>,
) -> F::Output {
    let mut future = pin!(future);
    let (unparker, waker) = PARKER.with(|p| (p.0.clone(), p.1.clone()));
    let registration = watch(&waker);
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Some(registration) = &registration {
            registration.check();
        }
        if let Poll::Ready(out) = crate::runtime::budgeted(|| future.as_mut().poll(&mut cx)) {
            // Once more after the poll: the policy may have fired while it
            // ran. A future that awaited the panicking task itself sees its
            // output only after the policy fired (the harness applies the
            // policy before it publishes the output), so this check always
            // catches that case, instead of returning the `JoinError`.
            if let Some(registration) = &registration {
                registration.check();
            }
            return out;
        }
        unparker.0.park(None);
    }
}
