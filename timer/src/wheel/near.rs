//! The near queue: entries due within the wheel's current tick, in exact
//! deadline order.
//!
//! Slots are a millisecond wide, but deadlines are exact to the nanosecond and
//! the driver sleeps until the exact next deadline. Entries whose tick has
//! been reached (or whose level-0 slot is the next to expire, see
//! `Wheel::next_deadline`) therefore move into this binary heap keyed by their
//! exact deadline. Each entry is promoted at most once per registration, so
//! the cost is O(log n) per timer, paid only close to its deadline.
//!
//! Removal is lazy: cancelling an entry only marks it unfiled, and a later
//! re-filing bumps its sequence number. An item is *current* only if its entry
//! is still filed here under the item's sequence number; stale items are
//! skipped when they reach the front and hold nothing but a reference count.
//! They live at most until their deadline passes, which is at most a tick or
//! so after they were pushed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::entry::{Entry, Location};
use crate::sync::Arc;

/// One heap item: an entry and the deadline it was pushed with.
#[derive(Debug)]
struct Item {
    deadline: u64,
    seq: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Item) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Item {}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Item) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Item {
    /// Reversed, so that `BinaryHeap` (a max-heap) yields the earliest first.
    fn cmp(&self, other: &Item) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// Exact-order queue of the entries due soonest.
#[derive(Debug, Default)]
pub(crate) struct NearQueue {
    heap: BinaryHeap<Item>,
    next_seq: u64,
}

impl NearQueue {
    /// Files `entry`, ordered by `deadline` (its true deadline in ns).
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock and the entry is not filed.
    pub(crate) unsafe fn push(&mut self, entry: Arc<Entry>, deadline: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        // SAFETY: wheel lock held (caller's contract).
        unsafe {
            entry.with_links(|links| {
                debug_assert_eq!(links.location, Location::Unfiled);
                links.location = Location::Near;
                links.near_seq = seq;
            })
        };
        self.heap.push(Item {
            deadline,
            seq,
            entry,
        });
    }

    /// Unfiles `entry`; its item becomes stale.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock and the entry is filed here.
    pub(crate) unsafe fn remove(&mut self, entry: &Entry) {
        // SAFETY: wheel lock held (caller's contract).
        unsafe {
            entry.with_links(|links| {
                debug_assert_eq!(links.location, Location::Near);
                links.location = Location::Unfiled;
            })
        };
    }

    /// Drops stale items from the front and returns the front item's deadline
    /// and entry.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock.
    pub(crate) unsafe fn front(&mut self) -> Option<(u64, &Arc<Entry>)> {
        while let Some(item) = self.heap.peek() {
            // SAFETY: wheel lock held (caller's contract).
            if unsafe { is_current(item) } {
                break;
            }
            self.heap.pop();
        }
        self.heap.peek().map(|item| (item.deadline, &item.entry))
    }

    /// Unfiles the current front entry and returns it with the deadline it was
    /// queued under.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock.
    pub(crate) unsafe fn pop_front(&mut self) -> Option<(u64, Arc<Entry>)> {
        // SAFETY: forwarded from the caller's contract.
        unsafe { self.front() }?;
        let item = self.heap.pop()?;
        // SAFETY: `front` left a current item on top: filed here, lock held.
        unsafe { self.remove(&item.entry) };
        Some((item.deadline, item.entry))
    }

    /// Number of items, stale ones included (tests only).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn items(&self) -> usize {
        self.heap.len()
    }

    /// Visits the current items (tests only).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn for_each_current(&self, mut f: impl FnMut(u64, &Entry)) {
        for item in self.heap.iter() {
            // SAFETY: tests call this under the wheel lock.
            if unsafe { is_current(item) } {
                f(item.deadline, &item.entry);
            }
        }
    }

    /// Drops every item (shutdown, after every current entry was fired).
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}

/// Whether `item` still stands for its entry.
///
/// # Safety
///
/// The caller holds the wheel lock.
unsafe fn is_current(item: &Item) -> bool {
    // SAFETY: wheel lock held (caller's contract).
    unsafe {
        item.entry
            .with_links(|links| links.location == Location::Near && links.near_seq == item.seq)
    }
}
