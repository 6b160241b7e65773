//! `JoinSet`: a collection of spawned tasks, awaited in completion order.
//!
//! Each member has its own waker, which pushes the member's slot index onto
//! a shared ready list and wakes the task awaiting the set. `join_next` only
//! polls members on that list, so awaiting n tasks costs O(n) polls in
//! total, not O(n) per completion.

use super::{AbortHandle, JoinError, JoinHandle};
use crate::runtime::Handle;
use crate::sync::{AtomicBool, Mutex};
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::sync::atomic::Ordering::{AcqRel, Release};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A set of tasks spawned on a runtime, joined as they finish. Dropping the
/// set aborts every task still in it.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = weft::task::JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut sum = 0;
///     while let Some(res) = set.join_next().await {
///         sum += res.unwrap();
///     }
///     assert_eq!(sum, 285);
/// });
/// ```
pub struct JoinSet<T> {
    entries: Vec<Option<Entry<T>>>,
    free: Vec<usize>,
    len: usize,
    ready: Arc<ReadyList>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    waker: Arc<EntryWaker>,
}

#[derive(Default)]
struct ReadyList {
    inner: Mutex<ReadyInner>,
}

#[derive(Default)]
struct ReadyInner {
    indices: VecDeque<usize>,
    waiter: Option<Waker>,
}

struct EntryWaker {
    index: usize,
    /// True while the index is on the ready list (or about to be polled):
    /// repeated wakes push it once.
    queued: AtomicBool,
    ready: Arc<ReadyList>,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel: pairs with the Release store in `poll_join_next` that
        // re-arms the flag before the member is polled.
        if self.queued.swap(true, AcqRel) {
            return;
        }
        let waiter = {
            let mut inner = self.ready.inner.lock();
            inner.indices.push_back(self.index);
            inner.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: Arc::new(ReadyList::default()),
        }
    }

    /// Number of tasks in the set (finished ones count until joined).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Aborts every task in the set; they stay in it until joined (with a
    /// cancelled error, unless they finished first).
    pub fn abort_all(&self) {
        for entry in self.entries.iter().flatten() {
            entry.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it.
    pub fn detach_all(&mut self) {
        self.entries.clear();
        self.free.clear();
        self.len = 0;
        self.ready.inner.lock().indices.clear();
    }

    /// Adds an already spawned task to the set.
    pub fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let index = self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        });
        let waker = Arc::new(EntryWaker {
            index,
            queued: AtomicBool::new(false),
            ready: self.ready.clone(),
        });
        // Queue it once so the first `join_next` registers its waker.
        waker.wake_by_ref();
        self.entries[index] = Some(Entry { handle, waker });
        self.len += 1;
        abort
    }

    /// Waits for the next task to finish and returns its result, or `None`
    /// if the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Returns a finished task's result if one is ready, without waiting.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let waker = Waker::noop();
        match self.poll_join_next(&mut Context::from_waker(waker)) {
            Poll::Ready(res) => res,
            Poll::Pending => None,
        }
    }

    /// Aborts every task and waits for all of them to finish.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    ///
    /// Re-raises the panic of a task that panicked.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("{e}"),
            }
        }
        out
    }

    /// The poll behind [`join_next`](Self::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        self.ready.inner.lock().waiter = Some(cx.waker().clone());
        // Bounded so a set whose members keep waking cannot hold the thread.
        for _ in 0..self.entries.len().max(1) {
            let Some(index) = self.ready.inner.lock().indices.pop_front() else {
                return Poll::Pending;
            };
            let Some(entry) = self.entries.get_mut(index).and_then(|e| e.as_mut()) else {
                continue;
            };
            // Release: pairs with the AcqRel swap in `wake_by_ref`; a wake
            // from here on queues the index again.
            entry.waker.queued.store(false, Release);
            let waker = Waker::from(entry.waker.clone());
            let polled =
                std::pin::Pin::new(&mut entry.handle).poll(&mut Context::from_waker(&waker));
            match polled {
                Poll::Ready(res) => {
                    self.entries[index] = None;
                    self.free.push(index);
                    self.len -= 1;
                    return Poll::Ready(Some(res));
                }
                Poll::Pending => {
                    if !crate::coop::has_budget_remaining() {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns a task on the current runtime into the set.
    ///
    /// # Panics
    ///
    /// Outside a runtime (see `Handle::current`).
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        match Handle::with_current(|h| h.spawn(future)) {
            Ok(task) => self.insert(task),
            Err(_) => no_runtime(),
        }
    }

    /// Spawns a task on the given runtime into the set.
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs a blocking closure on the current runtime's pool, into the set.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        match Handle::with_current(|h| h.spawn_blocking(f)) {
            Ok(task) => self.insert(task),
            Err(_) => no_runtime(),
        }
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}

#[cold]
#[track_caller]
fn no_runtime() -> ! {
    panic!(
        "`JoinSet::spawn` was called outside a weft runtime: call it from inside a task, \
         from inside `Runtime::block_on`, or after `Runtime::enter()`; or use `spawn_on`"
    )
}
