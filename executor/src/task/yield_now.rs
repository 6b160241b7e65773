use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the other tasks: the current task goes behind them, and on a
/// worker it resumes only after the next poll of the I/O + timer driver, so
/// a task that yields in a loop cannot starve sockets and timers.
///
/// ```
/// # let rt = weft_executor::Executor::new().unwrap();
/// rt.block_on(async {
///     weft_executor::task::yield_now().await;
/// });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        if !crate::scheduler::context::defer(cx.waker()) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
