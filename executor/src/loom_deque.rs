//! A loom-visible stand-in for crossbeam-deque, used only under `cfg(loom)`.
//!
//! crossbeam-deque's lock-free deque is not built on loom's atomics, so loom
//! cannot see (or interleave) its operations. This model keeps the same API
//! and the same observable contract (FIFO owner queue, stealers take from the
//! front, `Steal::Retry` may appear) but protects a `VecDeque` with a loom
//! mutex, so every queue operation becomes a point where loom can switch
//! threads. What the model checks is then our own protocols around the
//! queues, which is the point (see DESIGN.md §5).

use loom::sync::atomic::AtomicUsize;
use loom::sync::{Arc, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::Ordering::{Acquire, Release};

/// Result of a steal attempt, as in crossbeam-deque.
#[derive(Debug)]
pub(crate) enum Steal<T> {
    Empty,
    Success(T),
    #[allow(dead_code)]
    Retry,
}

/// The items behind a mutex, plus their count in an atomic that the
/// emptiness checks read *without* the lock. crossbeam's `is_empty` is a
/// pair of atomic loads, not a lock: reading a plain atomic here (push
/// stores it with Release, `is_empty` loads it with Acquire, the weakest
/// orderings crossbeam's `Worker` uses) keeps loom free to show a stale
/// "empty", which is exactly what the sleep protocol's fences must rule out.
struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Queue<T> {
    fn new() -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }
    fn push(&self, t: T) {
        let mut items = self.items.lock().unwrap();
        items.push_back(t);
        self.len.store(items.len(), Release);
    }
    fn pop(&self) -> Option<T> {
        let mut items = self.items.lock().unwrap();
        let t = items.pop_front();
        self.len.store(items.len(), Release);
        t
    }
    fn is_empty(&self) -> bool {
        self.len.load(Acquire) == 0
    }
    fn len(&self) -> usize {
        self.len.load(Acquire)
    }
    /// Moves the first item and half of the rest to `dest`.
    fn steal_half(&self, dest: &Queue<T>) -> Option<T> {
        let mut src = self.items.lock().unwrap();
        let first = src.pop_front()?;
        let extra = src.len() / 2;
        for _ in 0..extra {
            dest.push(src.pop_front().unwrap());
        }
        self.len.store(src.len(), Release);
        Some(first)
    }
}

pub(crate) struct Worker<T>(Arc<Queue<T>>);
pub(crate) struct Stealer<T>(Arc<Queue<T>>);
pub(crate) struct Injector<T>(Queue<T>);

impl<T> Worker<T> {
    pub(crate) fn new_fifo() -> Worker<T> {
        Worker(Arc::new(Queue::new()))
    }
    pub(crate) fn push(&self, t: T) {
        self.0.push(t);
    }
    pub(crate) fn pop(&self) -> Option<T> {
        self.0.pop()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer(self.0.clone())
    }
}

impl<T> Stealer<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        match self.0.steal_half(&dest.0) {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
}

impl<T> Clone for Stealer<T> {
    fn clone(&self) -> Self {
        Stealer(self.0.clone())
    }
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Injector<T> {
        Injector(Queue::new())
    }
    pub(crate) fn push(&self, t: T) {
        self.0.push(t);
    }
    pub(crate) fn steal(&self) -> Steal<T> {
        match self.0.pop() {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        match self.0.steal_half(&dest.0) {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
