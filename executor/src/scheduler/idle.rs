//! Which workers are parked, and how many are searching for work.
//!
//! This is half of the sleep protocol; the other half is in `mod.rs`
//! (`notify_parked`, `notify_if_work_pending`) and in `worker.rs` (`park`).
//! The whole argument is written out in `docs/scheduler.md`, section "The
//! sleep protocol"; the fences are named there F1 (notifier) and F2 (last
//! searcher).
//!
//! State: one atomic word packs `num_searching` (low 16 bits) and
//! `num_unparked` (the rest). A mutex-protected list holds the indices of the
//! parked workers ("sleepers"). `num_unparked` and the sleeper list change
//! together, under the mutex, so `num_unparked < num_workers` implies the
//! list is not empty.
//!
//! Invariants the protocol rests on:
//! - A worker may only park after being a searcher, or after being refused
//!   search because another worker is searching (I1).
//! - The last searcher to stop searching re-checks every queue after F2,
//!   and so does a worker that parks after being refused search (I2).
//! - A thread that queued work from outside the searchers runs F1 and then
//!   wakes a sleeper unless someone is searching or nobody sleeps (I3).

use crate::sync::{AtomicUsize, Mutex};
use std::sync::atomic::Ordering::SeqCst;

const SEARCH_BITS: usize = 16;
const SEARCH_MASK: usize = (1 << SEARCH_BITS) - 1;
const UNPARK_ONE: usize = 1 << SEARCH_BITS;

pub(crate) struct Idle {
    /// `num_unparked << 16 | num_searching`. Every access is SeqCst: these
    /// RMWs and loads take part in the store-load (Dekker) pattern of the
    /// sleep protocol together with the fences F1 and F2, and only a single
    /// total order makes "either the notifier sees the searcher or the
    /// searcher sees the work" hold.
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << SEARCH_BITS),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn num_searching(state: usize) -> usize {
        state & SEARCH_MASK
    }

    fn num_unparked(state: usize) -> usize {
        state >> SEARCH_BITS
    }

    /// Cheap pre-check (no lock): is it worth waking somebody?
    fn notify_should_wakeup(&self) -> bool {
        let state = self.state.load(SeqCst);
        Self::num_searching(state) == 0 && Self::num_unparked(state) < self.num_workers
    }

    /// Picks a sleeper to wake and counts it as unparked and searching, or
    /// returns `None` if a searcher exists (it will find the work) or nobody
    /// sleeps. The caller must have run fence F1 after queueing its work.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.notify_should_wakeup() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        // Re-check under the lock: another notifier may have just woken a
        // searcher, which will now find our work too.
        if !self.notify_should_wakeup() {
            return None;
        }
        self.state.fetch_add(1 | UNPARK_ONE, SeqCst);
        let index = sleepers.pop();
        debug_assert!(
            index.is_some(),
            "num_unparked < num_workers with no sleeper"
        );
        index
    }

    /// The worker becomes a searcher, unless half the workers already are
    /// (bounding the thundering herd). A worker that is refused parks, and
    /// re-checks the queues after F2 as a last searcher does (I2): the
    /// searcher that refused it may stop, by finding work, before it parks.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * Self::num_searching(state) >= self.num_workers {
            return false;
        }
        // Not a CAS: a few extra searchers in a race are harmless.
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searcher found work. Returns true if it was the last searcher, in
    /// which case the caller wakes another one (the work it found may be the
    /// first of a burst).
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(Self::num_searching(prev) > 0);
        Self::num_searching(prev) == 1
    }

    /// The worker parks. Returns true if it was the last searcher: the
    /// caller must then run fence F2 and re-check every queue (I2).
    pub(crate) fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARK_ONE + usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        is_searching && Self::num_searching(prev) == 1
    }

    /// The worker leaves the parked set on its own (it found work without
    /// being notified, e.g. the driver woke tasks into its queue). Returns
    /// false if a notifier already took it out (and counted it as searching).
    pub(crate) fn unpark_worker_by_id(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(UNPARK_ONE, SeqCst);
                true
            }
            None => false,
        }
    }

    /// Whether the worker is still in the sleeper list.
    pub(crate) fn is_parked(&self, index: usize) -> bool {
        self.sleepers.lock().contains(&index)
    }

    /// Calls `f` on each parked worker's index until it returns true.
    pub(crate) fn find_sleeper(&self, mut f: impl FnMut(usize) -> bool) {
        let sleepers = self.sleepers.lock();
        for &i in sleepers.iter() {
            if f(i) {
                return;
            }
        }
    }

    #[cfg(test)]
    #[cfg_attr(loom, allow(dead_code))] // used by the unit tests, which loom skips
    pub(crate) fn num_searching_now(&self) -> usize {
        Self::num_searching(self.state.load(SeqCst))
    }

    #[cfg(all(test, loom))]
    pub(crate) fn num_unparked_now(&self) -> usize {
        Self::num_unparked(self.state.load(SeqCst))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn search_limit_is_half_the_workers() {
        let idle = Idle::new(4);
        assert!(idle.transition_worker_to_searching());
        assert!(idle.transition_worker_to_searching());
        assert!(!idle.transition_worker_to_searching());
        assert!(!idle.transition_worker_from_searching());
        assert!(idle.transition_worker_from_searching());
        // One worker alone may always search.
        let idle = Idle::new(1);
        assert!(idle.transition_worker_to_searching());
    }

    #[test]
    fn notify_wakes_a_sleeper_only_when_nobody_searches() {
        let idle = Idle::new(2);
        assert_eq!(idle.worker_to_notify(), None, "nobody sleeps");
        assert!(!idle.transition_worker_to_parked(1, false));
        assert!(idle.transition_worker_to_searching());
        assert_eq!(idle.worker_to_notify(), None, "worker 0 searches");
        assert!(idle.transition_worker_to_parked(0, true), "last searcher");
        assert_eq!(idle.worker_to_notify(), Some(0));
        assert_eq!(idle.num_searching_now(), 1);
        assert!(idle.is_parked(1) && !idle.is_parked(0));
        assert!(idle.unpark_worker_by_id(1));
        assert!(!idle.unpark_worker_by_id(1));
        assert_eq!(idle.worker_to_notify(), None, "all unparked");
    }
}
