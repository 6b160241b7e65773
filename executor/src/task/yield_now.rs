use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the other tasks: the current task goes behind them, and on a
/// worker it resumes only after the next poll of the I/O + timer driver, so
/// a task that yields in a loop cannot starve sockets and timers.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// rt.block_on(async {
///     weft::task::yield_now().await;
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
        // On a worker, a task that wakes itself during its poll goes to the
        // worker's deferred list and runs after the next driver poll (see
        // `Shared::schedule_task`); elsewhere it is simply woken again.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
