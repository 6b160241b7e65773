//! A loom-visible stand-in for crossbeam-deque, used only under `cfg(loom)`.
//!
//! crossbeam-deque's lock-free deque is not built on loom's atomics, so loom
//! cannot see (or interleave) its operations. This model keeps the same API
//! and the same observable contract (FIFO owner queue, stealers take from the
//! front, `Steal::Retry` may appear) but protects a `VecDeque` with a loom
//! mutex, so every queue operation becomes a point where loom can switch
//! threads. What the model checks is then our own protocols around the
//! queues, which is the point (see DESIGN.md §5).

use loom::sync::{Arc, Mutex};
use std::collections::VecDeque;

/// Result of a steal attempt, as in crossbeam-deque.
#[derive(Debug)]
pub(crate) enum Steal<T> {
    Empty,
    Success(T),
    #[allow(dead_code)]
    Retry,
}

impl<T> Steal<T> {
    pub(crate) fn is_retry(&self) -> bool {
        matches!(self, Steal::Retry)
    }
    pub(crate) fn success(self) -> Option<T> {
        match self {
            Steal::Success(t) => Some(t),
            _ => None,
        }
    }
}

type Shared<T> = Arc<Mutex<VecDeque<T>>>;

pub(crate) struct Worker<T>(Shared<T>);
pub(crate) struct Stealer<T>(Shared<T>);
pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

impl<T> Worker<T> {
    pub(crate) fn new_fifo() -> Worker<T> {
        Worker(Arc::new(Mutex::new(VecDeque::new())))
    }
    pub(crate) fn push(&self, t: T) {
        self.0.lock().unwrap().push_back(t);
    }
    pub(crate) fn pop(&self) -> Option<T> {
        self.0.lock().unwrap().pop_front()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer(self.0.clone())
    }
}

fn move_half<T>(src: &mut VecDeque<T>, dest: &Worker<T>) -> Option<T> {
    let first = src.pop_front()?;
    let extra = src.len() / 2;
    let mut dest = dest.0.lock().unwrap();
    for _ in 0..extra {
        dest.push_back(src.pop_front().unwrap());
    }
    Some(first)
}

impl<T> Stealer<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        let mut src = self.0.lock().unwrap();
        match move_half(&mut src, dest) {
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
        Injector(Mutex::new(VecDeque::new()))
    }
    pub(crate) fn push(&self, t: T) {
        self.0.lock().unwrap().push_back(t);
    }
    pub(crate) fn steal(&self) -> Steal<T> {
        match self.0.lock().unwrap().pop_front() {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        let mut src = self.0.lock().unwrap();
        match move_half(&mut src, dest) {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}
