//! The owned-task list: every live task of a scheduler, so that shutdown can
//! drop every future and leak nothing.
//!
//! Sharded by task id so that spawns and completions on different workers
//! rarely meet on one lock. Each shard is an intrusive doubly linked list
//! threaded through the task headers (`Header::links`), so tracking a task
//! costs no allocation. The links are touched only under the shard's lock.
//!
//! Closing protocol (shutdown racing spawn): `close_and_shutdown_all` sets
//! `closed` on each shard under its lock, then drains it. `bind` reads
//! `closed` under the same lock. A bind that took the lock before the close
//! inserted its task, and the drain (which takes the lock after) finds it; a
//! bind that took it after sees `closed` and cancels its task at once. So no
//! task is ever left in a closed list, and none escapes it.

use super::raw::Header;
use super::{Id, Notified, RawTask, Task};
use crate::sync::{CachePadded, Mutex};
use std::marker::PhantomData;
use std::ptr::NonNull;

pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    mask: usize,
    _s: PhantomData<S>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    closed: bool,
}

// SAFETY: the raw pointers are only dereferenced under the shard's lock, and
// they point to task headers, which are Sync.
unsafe impl Send for Shard {}

impl<S: 'static> OwnedTasks<S> {
    /// `shards` is rounded up to a power of two.
    pub(crate) fn new(shards: usize) -> OwnedTasks<S> {
        let n = shards.max(1).next_power_of_two();
        OwnedTasks {
            shards: (0..n)
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard {
                        head: None,
                        len: 0,
                        closed: false,
                    }))
                })
                .collect(),
            mask: n - 1,
            _s: PhantomData,
        }
    }

    fn shard(&self, id: Id) -> &Mutex<Shard> {
        &self.shards[(id.as_u64() as usize) & self.mask]
    }

    /// Adds a new task. Returns its `Notified` to be queued, or `None` if
    /// the list is closed, in which case the task has been cancelled (its
    /// join handle reports `JoinError::cancelled`).
    pub(crate) fn bind(&self, task: Task<S>, notified: Notified<S>) -> Option<Notified<S>> {
        let mut shard = self.shard(task.id()).lock();
        if shard.closed {
            drop(shard);
            drop(notified);
            task.shutdown();
            return None;
        }
        let raw = task.into_raw();
        let ptr = raw.header_ptr();
        // SAFETY: we hold the shard lock, which guards the links of every
        // task in it; `ptr` is live (we own its list reference).
        unsafe {
            let links = &mut *raw.header().links.get();
            links.prev = None;
            links.next = shard.head;
            if let Some(head) = shard.head {
                (*head.as_ref().links.get()).prev = Some(ptr);
            }
        }
        shard.head = Some(ptr);
        shard.len += 1;
        Some(notified)
    }

    /// Removes a completed task. True if it was in the list (the caller now
    /// owns the list's reference); false if shutdown already took it out.
    pub(crate) fn remove(&self, raw: RawTask) -> bool {
        let mut shard = self.shard(raw.id()).lock();
        // SAFETY: the shard lock guards the links.
        unsafe { unlink(&mut shard, raw.header_ptr()) }
    }

    /// Closes the list for good and cancels every task in it. Tasks that a
    /// worker is polling right now are marked cancelled and dropped when
    /// their poll returns.
    pub(crate) fn close_and_shutdown_all(&self) {
        for shard in self.shards.iter() {
            shard.lock().closed = true;
        }
        for shard in self.shards.iter() {
            loop {
                let task = {
                    let mut guard = shard.lock();
                    let Some(head) = guard.head else { break };
                    // SAFETY: the lock guards the links; `head` is linked.
                    let removed = unsafe { unlink(&mut guard, head) };
                    debug_assert!(removed);
                    // SAFETY: the list's reference moves to us.
                    unsafe { Task::<S>::from_raw(RawTask::from_raw(head)) }
                };
                // Outside the lock: cancelling runs user destructors, and a
                // completing task calls `remove`, which takes the lock.
                task.shutdown();
            }
        }
    }

    /// Number of tasks bound and not yet completed.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shards[0].lock().closed
    }
}

/// # Safety
///
/// The caller holds the lock of `shard`, and `ptr` is a live task header that
/// is either in this shard or in no list.
unsafe fn unlink(shard: &mut Shard, ptr: NonNull<Header>) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let links = &mut *ptr.as_ref().links.get();
        let linked = links.prev.is_some() || shard.head == Some(ptr);
        if !linked {
            return false;
        }
        match links.prev {
            Some(prev) => (*prev.as_ref().links.get()).next = links.next,
            None => shard.head = links.next,
        }
        if let Some(next) = links.next {
            (*next.as_ref().links.get()).prev = links.prev;
        }
        links.prev = None;
        links.next = None;
    }
    shard.len -= 1;
    true
}
