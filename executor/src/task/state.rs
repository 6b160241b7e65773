//! The task state word: lifecycle bits and a reference count in one atomic.
//!
//! ```text
//!  63 .............................. 6   5   4   3   2   1   0
//! [        reference count          ][CAN][JW][JI][NOT][CMP][RUN]
//! ```
//!
//! | bit | name | meaning | who sets / clears it |
//! |---|---|---|---|
//! | 0 | `RUNNING` | some thread owns the future and is polling or cancelling it | set by `transition_to_running` / `transition_to_shutdown`, cleared by `transition_to_idle` or `transition_to_complete` |
//! | 1 | `COMPLETE` | the future is gone; the stage holds the output (or it was consumed) | set once, by `transition_to_complete`; never cleared |
//! | 2 | `NOTIFIED` | a `Notified` for this task is in a queue, or will be pushed by the thread that holds `RUNNING` when it finishes the poll | set by the wake transitions, cleared by `transition_to_running` |
//! | 3 | `JOIN_INTEREST` | a `JoinHandle` exists and will read the output | cleared by the join handle when dropped |
//! | 4 | `JOIN_WAKER` | the join waker slot holds a waker and the task side may read it | set / cleared by the join handle while not `COMPLETE`; never touched by the handle once `COMPLETE` |
//! | 5 | `CANCELLED` | abort or shutdown asked for the future to be dropped at the next poll boundary | set by `transition_to_notified_for_cancel` / `transition_to_shutdown` |
//!
//! Exclusion rules: `RUNNING` and `COMPLETE` are never both set. The thread
//! that holds `RUNNING` is the only one that touches the stage. Once
//! `COMPLETE` is set, the stage belongs to whoever holds `JOIN_INTEREST` (or
//! to the completing thread if nobody does), and the join waker slot belongs
//! to the task side until the memory is freed.
//!
//! Every reference (`Task`, `Notified`, `JoinHandle`, `AbortHandle`, `Waker`)
//! counts one `REF_ONE`. The memory is freed by whoever drops the count to
//! zero. A new task starts with three: the owned-task list, the first
//! `Notified` and the `JoinHandle`.
//!
//! Every transition is a single named CAS loop (or a single RMW) below. The
//! orderings: transitions that hand the stage from one thread to another are
//! `AcqRel` (the `Release` half publishes the future or output the previous
//! owner wrote; the `Acquire` half lets the next owner read it); reference
//! decrements are `AcqRel` so that the thread that frees the memory sees
//! every other owner's last writes.

use crate::sync::AtomicUsize;
use std::fmt;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const JOIN_INTEREST: usize = 1 << 3;
const JOIN_WAKER: usize = 1 << 4;
const CANCELLED: usize = 1 << 5;
const LIFECYCLE_MASK: usize = RUNNING | COMPLETE;
const STATE_MASK: usize = (1 << 6) - 1;
const REF_SHIFT: usize = 6;
const REF_ONE: usize = 1 << REF_SHIFT;
const REF_MASK: usize = !STATE_MASK;

/// Three references (owned list, first `Notified`, `JoinHandle`), already
/// notified because the spawner pushes it into a queue right away.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

pub(crate) struct State {
    val: AtomicUsize,
}

/// A decoded copy of the state word.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

/// What the thread that popped a `Notified` must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// Poll the future.
    Success,
    /// Drop the future instead of polling it.
    Cancelled,
    /// Someone else owns the task (or it is done); the `Notified`'s
    /// reference was dropped, do nothing more.
    Failed,
    /// As `Failed`, and that was the last reference: free the task.
    Dealloc,
}

/// What the poller must do after the future returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// Nothing: a waker will reschedule the task.
    Ok,
    /// A wake arrived during the poll: the running reference became a new
    /// `Notified` (with a reference of its own), which the caller must push
    /// behind the other tasks, and only then drop the running reference.
    OkNotified,
    /// The running reference was the last one: free the task.
    OkDealloc,
    /// Abort arrived during the poll: still `RUNNING`, cancel the future now.
    Cancelled,
}

/// What a waker must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotified {
    DoNothing,
    /// Push a new `Notified` (a reference was added for it).
    Submit,
    /// The waker held the last reference: free the task.
    Dealloc,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    /// A plain load. `Acquire`: pairs with the `Release` half of
    /// `transition_to_complete`, so a handle that sees `COMPLETE` also sees
    /// the output.
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// One CAS loop: `f` returns the action and, if the word must change,
    /// the new snapshot.
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = self.load();
        loop {
            let (action, next) = f(curr);
            let Some(next) = next else { return action };
            // AcqRel: see the module docs; the Acquire on failure re-reads
            // the word with the same visibility as `load`.
            match self
                .val
                .compare_exchange_weak(curr.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return action,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// Claims the task for a poll, consuming a `Notified`.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|mut next| {
            debug_assert!(next.is_notified(), "running a task that was not notified");
            if !next.is_idle() {
                // A shutdown claimed it first, or it already completed: this
                // `Notified` is stale. Drop its reference.
                next.ref_dec();
                let action = if next.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (action, Some(next));
            }
            next.0 |= RUNNING;
            next.0 &= !NOTIFIED;
            let action = if next.is_cancelled() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (action, Some(next))
        })
    }

    /// Gives the task up after a `Pending` poll.
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update_action(|mut next| {
            debug_assert!(next.is_running());
            if next.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            next.0 &= !RUNNING;
            let action = if next.is_notified() {
                // One more reference for the new `Notified`; the caller
                // keeps the running reference until the push is done (the
                // task may run and complete on another worker meanwhile,
                // and the scheduler reference lives in the cell).
                next.ref_inc();
                TransitionToIdle::OkNotified
            } else {
                next.ref_dec();
                if next.ref_count() == 0 {
                    TransitionToIdle::OkDealloc
                } else {
                    TransitionToIdle::Ok
                }
            };
            (action, Some(next))
        })
    }

    /// `RUNNING` -> `COMPLETE`, in one RMW. Returns the state before, whose
    /// `JOIN_INTEREST` / `JOIN_WAKER` bits tell the caller whether to drop
    /// the output and whether to wake the join waker.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        // AcqRel: Release publishes the output to the join handle (pairs with
        // its Acquire `load`); Acquire sees the join waker the handle stored
        // before setting JOIN_WAKER (pairs with `set_join_waker`'s Release).
        let prev = Snapshot(self.val.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// Drops `count` references at once. Returns true if they were the last.
    pub(crate) fn transition_to_terminal(&self, count: usize) -> bool {
        // AcqRel: the thread that frees must see all other owners' writes.
        let prev = Snapshot(self.val.fetch_sub(count * REF_ONE, AcqRel));
        assert!(prev.ref_count() >= count, "task reference count underflow");
        prev.ref_count() == count
    }

    /// A wake that consumes the waker's reference (on `Submit`, the caller
    /// drops it after queueing the `Notified`).
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut next| {
            let action = if next.is_running() {
                // The runner will see NOTIFIED in `transition_to_idle` and
                // submit the task itself; it holds a reference, so ours can go.
                next.0 |= NOTIFIED;
                next.ref_dec();
                debug_assert!(next.ref_count() > 0);
                TransitionToNotified::DoNothing
            } else if next.is_complete() || next.is_notified() {
                next.ref_dec();
                if next.ref_count() == 0 {
                    TransitionToNotified::Dealloc
                } else {
                    TransitionToNotified::DoNothing
                }
            } else {
                // A new reference for the `Notified`; the waker's own is
                // dropped by the caller after the push, so the cell (which
                // holds the scheduler the push goes through) outlives it.
                next.0 |= NOTIFIED;
                next.ref_inc();
                TransitionToNotified::Submit
            };
            (action, Some(next))
        })
    }

    /// A wake that keeps the waker's reference; adds one for the `Notified`
    /// when it must submit.
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut next| {
            if next.is_complete() || next.is_notified() {
                // Already queued (or done): waking again costs no push.
                (TransitionToNotified::DoNothing, None)
            } else if next.is_running() {
                next.0 |= NOTIFIED;
                (TransitionToNotified::DoNothing, Some(next))
            } else {
                next.0 |= NOTIFIED;
                next.ref_inc();
                (TransitionToNotified::Submit, Some(next))
            }
        })
    }

    /// Abort from a handle. Returns true if the caller must submit a new
    /// `Notified` (for which a reference was added) so a worker drops the
    /// future.
    pub(crate) fn transition_to_notified_for_cancel(&self) -> bool {
        self.fetch_update_action(|mut next| {
            if next.is_cancelled() || next.is_complete() {
                (false, None)
            } else if next.is_running() {
                // The runner sees CANCELLED in `transition_to_idle`.
                next.0 |= NOTIFIED | CANCELLED;
                (false, Some(next))
            } else if next.is_notified() {
                // Already queued: the poll that pops it sees CANCELLED.
                next.0 |= CANCELLED;
                (false, Some(next))
            } else {
                next.0 |= NOTIFIED | CANCELLED;
                next.ref_inc();
                (true, Some(next))
            }
        })
    }

    /// Shutdown: marks the task cancelled and claims it if nobody runs it.
    /// Returns true if the caller now holds `RUNNING` and must cancel it.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update_action(|mut next| {
            if next.is_complete() {
                return (false, None);
            }
            let claimed = next.is_idle();
            if claimed {
                next.0 |= RUNNING;
            }
            next.0 |= CANCELLED;
            (claimed, Some(next))
        })
    }

    /// Join handle dropped. `Err` if the task already completed, in which
    /// case the caller owns the output and must drop it. On `Ok`, returns
    /// whether the join waker slot was set (and now belongs to the caller).
    pub(crate) fn unset_join_interested(&self) -> Result<bool, ()> {
        self.fetch_update_action(|mut next| {
            debug_assert!(next.is_join_interested());
            if next.is_complete() {
                return (Err(()), None);
            }
            let had_waker = next.is_join_waker_set();
            next.0 &= !(JOIN_INTEREST | JOIN_WAKER);
            (Ok(had_waker), Some(next))
        })
    }

    /// Join handle stored a waker in the slot; publish it. Fails (returns
    /// the snapshot) if the task completed meanwhile: the slot then still
    /// belongs to the handle, which reads the output instead.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.fetch_update_action(|mut next| {
            debug_assert!(next.is_join_interested() && !next.is_join_waker_set());
            if next.is_complete() {
                return (Err(next), None);
            }
            next.0 |= JOIN_WAKER;
            (Ok(()), Some(next))
        })
    }

    /// Join handle wants to replace its waker: take the slot back. Fails if
    /// the task completed (the slot now belongs to the task side).
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.fetch_update_action(|mut next| {
            debug_assert!(next.is_join_interested() && next.is_join_waker_set());
            if next.is_complete() {
                return (Err(next), None);
            }
            next.0 &= !JOIN_WAKER;
            (Ok(()), Some(next))
        })
    }

    pub(crate) fn ref_inc(&self) {
        // Relaxed suffices for an increment: the caller already holds a
        // reference, so the memory cannot be freed concurrently (the same
        // argument as `Arc::clone`).
        let prev = self
            .val
            .fetch_add(REF_ONE, std::sync::atomic::Ordering::Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops one reference; true if it was the last.
    pub(crate) fn ref_dec(&self) -> bool {
        self.transition_to_terminal(1)
    }
}

impl Snapshot {
    pub(crate) fn is_idle(self) -> bool {
        self.0 & LIFECYCLE_MASK == 0
    }
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        (self.0 & REF_MASK) >> REF_SHIFT
    }
    fn ref_inc(&mut self) {
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        debug_assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("cancelled", &self.is_cancelled())
            .field("ref_count", &self.ref_count())
            .finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn masks_are_disjoint() {
        let bits = [
            RUNNING,
            COMPLETE,
            NOTIFIED,
            JOIN_INTEREST,
            JOIN_WAKER,
            CANCELLED,
        ];
        let mut seen = 0;
        for b in bits {
            assert_eq!(b.count_ones(), 1);
            assert_eq!(seen & b, 0, "bit {b:#b} used twice");
            seen |= b;
        }
        assert_eq!(seen, STATE_MASK);
        assert_eq!(STATE_MASK & REF_MASK, 0);
        assert_eq!(STATE_MASK | REF_MASK, usize::MAX);
        assert_eq!(REF_ONE & STATE_MASK, 0);
    }

    #[test]
    fn initial_state() {
        let s = State::new().load();
        assert_eq!(s.ref_count(), 3);
        assert!(s.is_notified() && s.is_join_interested() && s.is_idle());
        assert!(!s.is_cancelled() && !s.is_join_waker_set());
    }

    #[test]
    fn poll_cycle_with_wake_during_poll() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), TransitionToRunning::Success);
        // Waking while running costs no push and no new reference.
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.transition_to_idle(), TransitionToIdle::OkNotified);
        assert_eq!(s.load().ref_count(), 4);
        assert!(!s.ref_dec(), "running reference dropped after the push");
        // A second wake while queued is free as well.
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(s.transition_to_running(), TransitionToRunning::Success);
        assert_eq!(s.transition_to_idle(), TransitionToIdle::Ok);
        assert_eq!(s.load().ref_count(), 2);
        assert_eq!(
            s.transition_to_notified_by_ref(),
            TransitionToNotified::Submit
        );
        assert_eq!(s.load().ref_count(), 3);
    }

    #[test]
    fn complete_and_release_references() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), TransitionToRunning::Success);
        let prev = s.transition_to_complete();
        assert!(prev.is_join_interested());
        assert!(s.load().is_complete() && !s.load().is_running());
        assert!(s.unset_join_interested().is_err());
        assert!(!s.transition_to_terminal(2));
        assert!(s.ref_dec());
    }

    #[test]
    fn cancel_of_idle_task_submits() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), TransitionToRunning::Success);
        assert_eq!(s.transition_to_idle(), TransitionToIdle::Ok);
        assert!(s.transition_to_notified_for_cancel());
        // A second abort does nothing.
        assert!(!s.transition_to_notified_for_cancel());
        assert_eq!(s.transition_to_running(), TransitionToRunning::Cancelled);
    }

    #[test]
    fn shutdown_claims_idle_and_stales_the_queued_notified() {
        let s = State::new();
        assert!(s.transition_to_shutdown());
        assert!(s.load().is_running() && s.load().is_cancelled());
        s.transition_to_complete();
        assert_eq!(s.transition_to_running(), TransitionToRunning::Failed);
    }

    #[test]
    fn join_waker_slot_handoff() {
        let s = State::new();
        assert!(s.set_join_waker().is_ok());
        assert!(s.unset_join_waker().is_ok());
        assert!(s.set_join_waker().is_ok());
        assert_eq!(s.transition_to_running(), TransitionToRunning::Success);
        let prev = s.transition_to_complete();
        assert!(prev.is_join_waker_set());
        assert!(s.unset_join_waker().is_err());
    }

    #[test]
    fn debug_decodes_bits() {
        let text = format!("{:?}", State::new());
        assert!(text.contains("notified: true"), "{text}");
        assert!(text.contains("ref_count: 3"), "{text}");
    }
}
