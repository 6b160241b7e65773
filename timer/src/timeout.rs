//! [`Timeout`]: a future with a deadline.
//!
//! The inner future is polled first, and the deadline is only looked at when
//! it is pending, so wrapping a future that is ready at once costs a handle
//! clone and nothing else: the `Sleep` inside is registered lazily.

use std::error::Error;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use weft_executor::coop;

use crate::context;
use crate::sleep::{deadline_after, Sleep};

/// Requires `future` to complete within `duration`.
///
/// The output is `Ok` with the future's output if it completes first, and
/// `Err(Elapsed)` otherwise; the future is dropped with the `Timeout`.
///
/// # Panics
///
/// Panics if called outside a weft runtime: call it inside a task, inside
/// `Runtime::block_on`, or after `Runtime::enter`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # weft::Runtime::new().unwrap().block_on(async {
/// let slow = weft::time::sleep(Duration::from_secs(10));
/// let result = weft::time::timeout(Duration::from_millis(10), slow).await;
/// assert!(result.is_err());
/// # });
/// ```
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    let handle = context::current_for("weft::time::timeout");
    Timeout::new(
        Sleep::new(handle, deadline_after(duration)),
        future.into_future(),
    )
}

/// Requires `future` to complete by `deadline`. See [`timeout`].
///
/// # Panics
///
/// Panics if called outside a weft runtime.
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    let handle = context::current_for("weft::time::timeout_at");
    Timeout::new(Sleep::new(handle, deadline), future.into_future())
}

/// A future that fails with [`Elapsed`] if its inner future does not
/// complete in time; created by [`timeout`] and [`timeout_at`].
///
/// # Panics
///
/// Once the runtime that owns its timer has shut down, polling panics when
/// the inner future is pending (the deadline can no longer be watched).
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    /// Structurally pinned: never moved out while pinned (see `poll`).
    value: F,
    /// Not structurally pinned: `Sleep` is `Unpin`.
    delay: Sleep,
}

impl<F> Timeout<F> {
    fn new(delay: Sleep, value: F) -> Timeout<F> {
        Timeout { value, delay }
    }

    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.value
    }

    /// The inner future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.value
    }

    /// Takes the inner future out, dropping the deadline.
    pub fn into_inner(self) -> F {
        self.value
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.delay.deadline()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `value` is structurally pinned: it is only reached through
        // this pinned projection while `self` is pinned, `Timeout` has no
        // `Drop` impl that could move it, and it is `Unpin` only when `F` is
        // (auto trait). `delay` is `Unpin` and not projected as pinned.
        let (value, delay) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.value), &mut this.delay)
        };
        let had_budget = coop::has_budget_remaining();
        if let Poll::Ready(output) = value.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        // If the inner future spent the last of the budget, still look at
        // the deadline: otherwise a future that always makes a little
        // progress could never time out.
        let poll_delay = || Pin::new(delay).poll(cx);
        let elapsed = if had_budget && !coop::has_budget_remaining() {
            coop::with_unconstrained(poll_delay)
        } else {
            poll_delay()
        };
        elapsed.map(|()| Err(Elapsed(())))
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("value", &self.value)
            .field("delay", &self.delay)
            .finish()
    }
}

/// The error of a [`Timeout`] whose deadline passed first.
///
/// ```
/// use weft::time::Elapsed;
///
/// fn describe(result: Result<u32, Elapsed>) -> String {
///     match result {
///         Ok(n) => n.to_string(),
///         Err(elapsed) => elapsed.to_string(),
///     }
/// }
/// # let _ = describe(Ok(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    /// An `io::Error` of kind `TimedOut`.
    fn from(elapsed: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn elapsed_displays_and_converts() {
        let elapsed = Elapsed(());
        assert_eq!(elapsed.to_string(), "deadline has elapsed");
        let io: std::io::Error = elapsed.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    }
}
