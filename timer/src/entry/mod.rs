//! One timer registration: the only allocation a timer makes.
//!
//! An [`Entry`] is shared (through an `Arc`) by its **owner**, the `Sleep`
//! that allocated it on its first `Pending` poll, and by the **wheel**, which
//! holds one strong reference while the entry is filed (a raw pointer in a
//! slot list, or an `Arc` in the near queue).
//!
//! # Who may touch what
//!
//! * The **state word** ([`State`]) is atomic; see `state.rs` for its bits.
//! * The **links** (list pointers, location, near-queue sequence number) are
//!   touched only by the holder of the wheel lock of the timer the entry
//!   belongs to. An entry never moves between timers.
//! * The **waker cell** belongs to exactly one party at a time:
//!   1. the owner while it holds REGISTERING (set by a CAS that saw
//!      REGISTERED and not FIRED, cleared by a `Release` RMW);
//!   2. the firer that set FIRED with a CAS that saw REGISTERING clear; from
//!      then on the owner can no longer take REGISTERING, so the firer may take
//!      the waker (it does so at once, under the wheel lock);
//!   3. the owner while it holds the wheel lock (arming or cancelling):
//!      firers only touch the cell under that lock, and only the owner itself
//!      sets REGISTERING;
//!   4. the owner right after its closing `fetch_and(!REGISTERING)` saw FIRED:
//!      the firer then skipped the cell (it saw REGISTERING), so the owner
//!      takes the leftover waker itself.
//!
//! Because of 2, 3 and 4 the cell is empty whenever the entry is out of the
//! wheel, so the wheel may drop its reference to an entry under the lock:
//! that never drops a waker, which could run foreign code (dropping a task
//! whose `Sleep` takes the same lock).
//!
//! # Why firing can race cancel and waker replacement
//!
//! Firing and cancelling both happen under the wheel lock, so they are
//! ordered; the state word records which came first (FIRED or CANCELLED), and
//! the loser sees REGISTERED clear and does nothing. The owner replaces its
//! waker without the lock, so that race is decided by the state word alone:
//! if the firer's CAS comes first, the owner's REGISTERING CAS fails on FIRED
//! and the poll returns `Ready`; if the owner's CAS comes first, the firer
//! sees REGISTERING, sets FIRED without touching the cell, and the owner's
//! closing `fetch_and` sees FIRED and returns `Ready`. Either way the poll in
//! flight or the stored waker observes the firing: no wakeup is lost. The loom
//! models in `crate::loom_tests` check both races.
//!
//! # Moving the deadline later without the lock
//!
//! The true deadline lives in the state word. The owner raises it with a CAS
//! (`try_extend`) while the entry is REGISTERED and not FIRED; the firer's CAS
//! compares the whole word. Either the extension lands first, and the firer
//! sees the later deadline and files the entry again, or the firing does, and
//! the extension fails on FIRED so the owner re-arms at its next poll. The
//! entry never completes before its new deadline (loom: `extend_races_fire`).

mod state;

pub(crate) use state::{State, DEADLINE_MAX};

use std::ptr::NonNull;
use std::task::Waker;

use crate::sync::{AcqRel, Acquire, AtomicU64, Relaxed, Release, UnsafeCell};

/// A timer registration shared by its owner and the wheel.
pub(crate) struct Entry {
    state: AtomicU64,
    waker: UnsafeCell<Option<Waker>>,
    links: UnsafeCell<Links>,
}

// SAFETY: the raw pointers in `links` are only followed under the wheel lock,
// which serialises every access to them; the waker cell has one owner at a
// time by the protocol in the module docs, and `Waker` is `Send + Sync`.
unsafe impl Send for Entry {}
// SAFETY: as for `Send`: every shared access goes through the state word, the
// wheel lock or the REGISTERING protocol.
unsafe impl Sync for Entry {}

/// Where the wheel keeps an entry, and its neighbours there. Guarded by the
/// wheel lock.
#[derive(Debug)]
pub(crate) struct Links {
    pub(crate) prev: Option<NonNull<Entry>>,
    pub(crate) next: Option<NonNull<Entry>>,
    pub(crate) location: Location,
    /// Sequence number of the near-queue item that currently stands for this
    /// entry; older items for it are stale.
    pub(crate) near_seq: u64,
}

/// Which structure of the wheel holds the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// Not filed: never registered, fired or cancelled.
    Unfiled,
    /// In the near queue (exact order by deadline).
    Near,
    /// In the list of `slot` on `level`.
    Slot { level: u8, slot: u8 },
}

/// What [`Entry::try_fire`] found.
#[derive(Debug)]
pub(crate) enum Fire {
    /// The true deadline (in ns) is still ahead: file the entry again there.
    NotDue(u64),
    /// The entry fired; wake this waker (if any) once the lock is released.
    Fired(Option<Waker>),
}

impl Entry {
    /// An unregistered entry with no waker.
    pub(crate) fn new() -> Entry {
        Entry {
            state: AtomicU64::new(State::unregistered(0).0),
            waker: UnsafeCell::new(None),
            links: UnsafeCell::new(Links {
                prev: None,
                next: None,
                location: Location::Unfiled,
                near_seq: 0,
            }),
        }
    }

    /// The state word. `Acquire`: pairs with the `AcqRel` transitions below
    /// (fire, cancel, re-arm), so a caller that sees FIRED also sees every
    /// write the firer made before it.
    pub(crate) fn state(&self) -> State {
        State(self.state.load(Acquire))
    }

    /// The true deadline in ns. `Relaxed`: callers hold the wheel lock (which
    /// orders every change except the owner's `try_extend`) and treat a
    /// concurrently extended deadline as a hint that is checked again by the
    /// CAS in `try_fire`.
    pub(crate) fn deadline(&self) -> u64 {
        State(self.state.load(Relaxed)).deadline()
    }

    /// Runs `f` on the links.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the wheel this entry belongs to (the wheel
    /// of the timer whose `Sleep` allocated it), and `f` does not reach the
    /// links of the same entry again.
    pub(crate) unsafe fn with_links<R>(&self, f: impl FnOnce(&mut Links) -> R) -> R {
        self.links.with_mut(|links| {
            // SAFETY: the wheel lock is held (caller's contract), so no other
            // thread touches the links, and `f` does not re-enter them.
            f(unsafe { &mut *links })
        })
    }

    // ----- owner side (the `Sleep`), lock-free ---------------------------

    /// Stores `waker` for the wheel to wake, unless the entry already fired.
    /// Returns `true` if it fired (the poll should complete).
    ///
    /// Must only be called by the owner (one thread at a time) on an entry it
    /// armed.
    pub(crate) fn register_waker(&self, waker: &Waker) -> bool {
        // Acquire: pairs with the firer's AcqRel CAS, so seeing FIRED means
        // the firing is complete as far as this entry is concerned.
        let mut current = State(self.state.load(Acquire));
        loop {
            if current.is_fired() {
                return true;
            }
            debug_assert!(
                current.is_registered(),
                "waker registered on an unarmed entry"
            );
            debug_assert!(!current.is_registering(), "owner registers twice");
            let locked = State(current.0 | state::REGISTERING);
            // Acquire on success: pairs with the Release of an earlier
            // `fetch_and(!REGISTERING)` (our own previous registration on
            // another thread), ordering the cell accesses. On failure we
            // retry with what we saw.
            match self
                .state
                .compare_exchange_weak(current.0, locked.0, Acquire, Acquire)
            {
                Ok(_) => break,
                Err(actual) => current = State(actual),
            }
        }
        self.waker.with_mut(|cell| {
            // SAFETY: we hold REGISTERING (rule 1 of the module docs): the
            // firer does not touch the cell while it is set.
            let cell = unsafe { &mut *cell };
            match cell {
                Some(old) if old.will_wake(waker) => {}
                _ => *cell = Some(waker.clone()),
            }
        });
        // AcqRel: the Release half publishes the waker to the firer's
        // Acquire CAS; the Acquire half pairs with that CAS if it already set
        // FIRED (in which case it left the cell alone and we complete).
        let before = State(self.state.fetch_and(!state::REGISTERING, AcqRel));
        if !before.is_fired() {
            return false;
        }
        let leftover = self.waker.with_mut(|cell| {
            // SAFETY: rule 4: the firer set FIRED while we held REGISTERING,
            // so it left the cell alone, and nobody reaches the cell of a
            // fired entry until the owner (us) re-arms it.
            unsafe { (*cell).take() }
        });
        drop(leftover);
        true
    }

    /// Moves the deadline to `deadline` without the lock, if that is allowed:
    /// the entry is registered, has not fired, and `deadline` is not earlier
    /// than the current true deadline (so the wheel's filing, which is never
    /// later than the old deadline, stays early enough). Returns `false` when
    /// the caller must take the slow path under the lock.
    pub(crate) fn try_extend(&self, deadline: u64) -> bool {
        let deadline = deadline.min(DEADLINE_MAX);
        let mut current = State(self.state.load(Relaxed));
        loop {
            if !current.is_registered() || current.is_fired() || deadline < current.deadline() {
                return false;
            }
            // Relaxed: the only party that reads the deadline is the firer,
            // whose CAS compares the whole word; whichever CAS wins decides
            // (fired at the old deadline, or re-filed at the new one) and no
            // other memory is published with the new deadline.
            match self.state.compare_exchange_weak(
                current.0,
                current.with_deadline(deadline).0,
                Relaxed,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = State(actual),
            }
        }
    }

    // ----- wheel side, under the wheel lock -------------------------------

    /// Arms an unregistered entry: stores the waker and marks it registered
    /// with `deadline`.
    ///
    /// # Safety
    ///
    /// The caller is the owner, holds the wheel lock (rule 3 of the module
    /// docs), and the entry is not registered.
    pub(crate) unsafe fn arm(&self, deadline: u64, waker: &Waker) {
        debug_assert!(!self.state().is_registered());
        self.waker.with_mut(|cell| {
            // SAFETY: rule 3: we are the owner and hold the wheel lock, and
            // the entry is not registered, so no firer can reach the cell.
            let cell = unsafe { &mut *cell };
            // Empty: every way out of the wheel empties it (module docs), so
            // nothing is dropped here under the lock.
            debug_assert!(cell.is_none(), "unregistered entry holds a waker");
            *cell = Some(waker.clone());
        });
        // Release: publishes the waker to a later firer's Acquire CAS. A plain
        // store is enough: only the owner (us) sets REGISTERING, and every
        // other writer needs the lock we hold.
        self.state.store(State::registered(deadline).0, Release);
    }

    /// Takes the waker out of the cell (on cancel, so that no waker is
    /// dropped later under the wheel lock by the last reference).
    ///
    /// # Safety
    ///
    /// The caller is the owner and holds the wheel lock (rule 3).
    pub(crate) unsafe fn take_waker_locked(&self) -> Option<Waker> {
        self.waker.with_mut(|cell| {
            // SAFETY: rule 3: firers only touch the cell under the lock we
            // hold, and the owner (us) is not registering.
            unsafe { (*cell).take() }
        })
    }

    /// Fires the entry if its true deadline is not after `now` (ns).
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock and the entry is registered with that
    /// wheel.
    pub(crate) unsafe fn try_fire(&self, now: u64) -> Fire {
        let mut current = State(self.state.load(Acquire));
        let take_waker = loop {
            debug_assert!(current.is_registered() && !current.is_fired());
            if current.deadline() > now {
                return Fire::NotDue(current.deadline());
            }
            let take_waker = !current.is_registering();
            // AcqRel: the Acquire half pairs with the owner's Release
            // `fetch_and(!REGISTERING)` so the waker it stored is visible
            // before we take it; the Release half pairs with the owner's
            // Acquire loads that observe FIRED. The CAS also loses to a
            // concurrent `try_extend`, after which we re-read the deadline.
            match self
                .state
                .compare_exchange_weak(current.0, current.fired().0, AcqRel, Acquire)
            {
                Ok(_) => break take_waker,
                Err(actual) => current = State(actual),
            }
        };
        if !take_waker {
            // The owner is mid-registration; its closing `fetch_and` sees
            // FIRED and completes the poll, so nobody needs waking.
            return Fire::Fired(None);
        }
        let waker = self.waker.with_mut(|cell| {
            // SAFETY: rule 2: our CAS set FIRED while REGISTERING was clear,
            // so the owner can no longer take the cell, and re-arming needs
            // the lock we hold.
            unsafe { (*cell).take() }
        });
        Fire::Fired(waker)
    }

    /// Sets a new true deadline while the entry is registered (moving it
    /// earlier, which needs the wheel to re-file it).
    ///
    /// Call with the wheel lock held; the only concurrent writer is then the
    /// owner's `try_extend`, which the owner itself is not running.
    pub(crate) fn set_deadline_locked(&self, deadline: u64) {
        let mut current = State(self.state.load(Relaxed));
        loop {
            debug_assert!(current.is_registered() && !current.is_fired());
            // Relaxed: as in `try_extend`, the word is the only data.
            match self.state.compare_exchange_weak(
                current.0,
                current.with_deadline(deadline).0,
                Relaxed,
                Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => current = State(actual),
            }
        }
    }

    /// Marks a registered entry cancelled. Call with the wheel lock held,
    /// after unfiling it.
    pub(crate) fn cancel_locked(&self) {
        // AcqRel: orders the cancellation after everything the owner did and
        // before a later reader; the firer cannot run concurrently (it needs
        // the lock), so this is a plain transition.
        let mut current = State(self.state.load(Relaxed));
        loop {
            debug_assert!(current.is_registered());
            match self.state.compare_exchange_weak(
                current.0,
                current.cancelled().0,
                AcqRel,
                Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => current = State(actual),
            }
        }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
