//! Cooperative scheduling budget.
//!
//! A task that always finds its sockets ready or its channels full would never
//! return `Pending`, and so would never let the other tasks on its worker run.
//! Each poll of a task therefore gets a budget of [`BUDGET`] units; every
//! runtime resource (reactor I/O, timers, join handles) spends one unit when it
//! is about to return `Ready`, and once the budget is spent it returns
//! `Pending` instead, after waking the task, so the task goes to the back of
//! the queue. The idea and the figure of 128 come from tokio's `coop` module.
//!
//! Outside a task poll (for example on a thread that is not a worker) the
//! budget is unconstrained.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Units of work a task may do per poll before runtime resources make it
/// yield. 128 is tokio's figure: large enough that the yield costs nothing
/// measurable, small enough to bound latency for the other tasks.
pub const BUDGET: u8 = 128;

std::thread_local! {
    /// `None`: unconstrained. `Some(n)`: `n` units left in this poll.
    static CURRENT: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `f` with a fresh budget of [`BUDGET`] units, restoring the previous
/// budget afterwards. The scheduler wraps every task poll in this.
pub fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    with_value(Some(BUDGET), f)
}

/// Runs `f` with no budget limit, restoring the previous budget afterwards.
pub fn with_unconstrained<R>(f: impl FnOnce() -> R) -> R {
    with_value(None, f)
}

fn with_value<R>(value: Option<u8>, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<u8>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0;
            let _ = CURRENT.try_with(|c| c.set(prev));
        }
    }
    let prev = CURRENT.with(|c| c.replace(value));
    let _reset = Reset(prev);
    f()
}

/// Spends one unit of budget if there is one.
///
/// Returns `Poll::Pending` (after waking the task so it is polled again
/// later) when the budget is spent. On `Ready`, the returned guard gives the
/// unit back if it is dropped without [`RestoreOnPending::made_progress`],
/// i.e. when the resource ended up returning `Pending` after all.
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    let spent = CURRENT.try_with(|c| match c.get() {
        None => Some(None),
        Some(0) => None,
        Some(n) => {
            c.set(Some(n - 1));
            Some(Some(n))
        }
    });
    match spent {
        // Thread-local already destroyed (thread exiting): do not constrain.
        Err(_) => Poll::Ready(RestoreOnPending(None)),
        Ok(Some(prev)) => Poll::Ready(RestoreOnPending(prev)),
        Ok(None) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Whether the current poll still has budget left.
pub fn has_budget_remaining() -> bool {
    CURRENT.try_with(|c| c.get() != Some(0)).unwrap_or(true)
}

/// Gives a spent unit back unless the resource made progress.
#[must_use = "dropping it right away gives the unit back"]
pub struct RestoreOnPending(Option<u8>);

impl RestoreOnPending {
    /// Keeps the unit spent: the resource is returning `Ready`.
    pub fn made_progress(&mut self) {
        self.0 = None;
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        if let Some(prev) = self.0 {
            let _ = CURRENT.try_with(|c| c.set(Some(prev)));
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn budget_runs_out_and_is_restored() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        with_budget(|| {
            for _ in 0..BUDGET {
                let mut r = match poll_proceed(&mut cx) {
                    Poll::Ready(r) => r,
                    Poll::Pending => panic!("budget ran out early"),
                };
                r.made_progress();
            }
            assert!(!has_budget_remaining());
            assert!(poll_proceed(&mut cx).is_pending());
        });
        // Outside a budgeted poll there is no limit.
        assert!(has_budget_remaining());
        assert!(poll_proceed(&mut cx).is_ready());
    }

    #[test]
    fn unit_is_given_back_without_progress() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        with_budget(|| {
            for _ in 0..1000 {
                // Never marked as progress: the budget never shrinks.
                assert!(poll_proceed(&mut cx).is_ready());
            }
            assert!(has_budget_remaining());
        });
    }
}
