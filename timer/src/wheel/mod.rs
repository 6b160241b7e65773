//! The hierarchical timing wheel: where registered entries wait.
//!
//! # Structure
//!
//! * Six [`Level`]s of 64 slots (1 ms, 64 ms, 4 s, 4.4 min, 4.7 h, 12.4 days
//!   per slot), each slot an intrusive list, each level an occupancy bitmap.
//!   Insert and cancel are O(1); finding the next slot to expire is a rotate
//!   and a `trailing_zeros` per level.
//! * The [`NearQueue`]: a heap, by exact deadline, of the entries whose tick
//!   has come (ticks `<= max(elapsed, near_until)`). This is what makes
//!   deadlines exact below the 1 ms slot width.
//!
//! # Invariants (all under the wheel lock)
//!
//! 1. An entry is REGISTERED exactly when it is filed (in a slot or as the
//!    current item of the near queue), and `len` counts them.
//! 2. Every entry in a slot is due at a tick `> max(elapsed, near_until)`;
//!    every slot that holds entries starts after `elapsed`, except the slot
//!    being drained by `process` while it is paused to wake a batch.
//! 3. Never late: an entry is filed no later than its true deadline (the
//!    slot's start, or the near item's deadline, is `<=` the deadline in the
//!    entry's state word). The owner may move the true deadline *later*
//!    without the lock (`Entry::try_extend`); the wheel notices when the old
//!    position comes due and files the entry again. Moving it earlier goes
//!    through [`Wheel::reschedule`].
//! 4. Never early: an entry fires only in `Entry::try_fire`, whose CAS checks
//!    the true deadline against `now`.
//! 5. No waker is woken or dropped under the lock (see `WakeList`): fired
//!    wakers are returned to the caller, and an entry's waker cell is emptied
//!    whenever the entry leaves the wheel, so dropping the wheel's reference
//!    to an entry under the lock never runs foreign code.
//!
//! # Driver handshake
//!
//! [`Wheel::begin_wait`] records the deadline the driver is about to sleep
//! until; an insert or reschedule with an earlier deadline then returns the
//! unpark callback (once) so the caller can interrupt the wait after
//! unlocking. Both happen under this lock, so an insert either comes before
//! `begin_wait` (and is included in the deadline it returns) or after (and
//! interrupts it): a wait can never miss an earlier timer.

mod level;
mod list;
mod near;

#[cfg(all(test, not(loom)))]
mod tests;

use std::task::Waker;

use self::level::{level_for, slot_for, Expiration, Level, LEVELS, MAX_DELAY, NS_PER_TICK};
use self::near::NearQueue;
use crate::entry::{Entry, Fire, Location, DEADLINE_MAX};
use crate::sync::{Arc, Callback};
use crate::wake_list::WakeList;

/// The driver's side of the wait handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// The driver is not blocked on the timer.
    Running,
    /// The driver is blocked until this deadline (ns; `None`: indefinitely).
    Waiting { until: Option<u64> },
    /// The driver was already asked to wake up during this wait.
    Interrupted,
}

/// Outcome of [`Wheel::insert`].
pub(crate) enum Insert {
    /// Filed; call the callback, if any, to interrupt the driver's wait.
    Filed(Option<Callback>),
    /// The deadline is not after the last processed time: it is due already.
    Elapsed,
    /// The timer shut down.
    ShutDown,
}

/// Outcome of [`Wheel::reschedule`].
pub(crate) enum Reschedule {
    /// Filed at the new deadline; call the callback, if any.
    Filed(Option<Callback>),
    /// The new deadline is due already: the entry fired; wake this.
    Fired(Option<Waker>),
    /// The entry was not registered (it fired meanwhile).
    NotRegistered,
}

/// The timer wheel. Every method requires the wheel lock: the wheel lives
/// inside the timer's mutex, so `&mut Wheel` is proof of holding it.
pub(crate) struct Wheel {
    levels: [Level; LEVELS],
    near: NearQueue,
    /// Tick up to which the levels have been drained.
    elapsed: u64,
    /// Ticks up to this one are filed in the near queue, not the levels.
    near_until: u64,
    /// The latest time processed (ns since the origin); deadlines at or
    /// before it are due.
    now: u64,
    /// Registered entries.
    len: usize,
    shut_down: bool,
    wait: Wait,
    unpark: Option<Callback>,
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            levels: std::array::from_fn(Level::new),
            near: NearQueue::default(),
            elapsed: 0,
            near_until: 0,
            now: 0,
            len: 0,
            shut_down: false,
            wait: Wait::Running,
            unpark: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    /// The latest time processed, in ns since the origin.
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    pub(crate) fn set_unpark(&mut self, unpark: Callback) {
        self.unpark = Some(unpark);
    }

    /// Arms `entry` with `deadline` (ns) and `waker` and files it.
    ///
    /// # Safety
    ///
    /// The caller is the entry's owner, the entry belongs to this wheel's
    /// timer, and it is not registered.
    pub(crate) unsafe fn insert(
        &mut self,
        entry: &Arc<Entry>,
        deadline: u64,
        waker: &Waker,
    ) -> Insert {
        if self.shut_down {
            return Insert::ShutDown;
        }
        let deadline = deadline.min(DEADLINE_MAX);
        if deadline <= self.now {
            return Insert::Elapsed;
        }
        // SAFETY: owner, lock held (`&mut self`), not registered: the
        // caller's contract is `arm`'s.
        unsafe { entry.arm(deadline, waker) };
        // SAFETY: lock held; `arm` left the entry registered but unfiled.
        unsafe { self.file(Arc::clone(entry), deadline) };
        self.len += 1;
        Insert::Filed(self.interrupt_wait(deadline))
    }

    /// Cancels `entry` if it is registered and returns its waker, which the
    /// caller drops after unlocking.
    ///
    /// # Safety
    ///
    /// The caller is the entry's owner and the entry belongs to this wheel's
    /// timer.
    pub(crate) unsafe fn cancel(&mut self, entry: &Arc<Entry>) -> Option<Waker> {
        if !entry.state().is_registered() {
            return None;
        }
        // SAFETY: registered, hence filed here (invariant 1); lock held.
        // The returned reference is not the last: the owner holds one.
        drop(unsafe { self.unfile(entry) });
        self.len -= 1;
        entry.cancel_locked();
        // SAFETY: we are the owner and hold the lock (entry rule 3).
        unsafe { entry.take_waker_locked() }
    }

    /// Moves a registered entry's deadline to `deadline` (normally earlier;
    /// later moves use `Entry::try_extend` without the lock).
    ///
    /// # Safety
    ///
    /// The caller is the entry's owner and the entry belongs to this wheel's
    /// timer.
    pub(crate) unsafe fn reschedule(&mut self, entry: &Arc<Entry>, deadline: u64) -> Reschedule {
        if !entry.state().is_registered() {
            return Reschedule::NotRegistered;
        }
        let deadline = deadline.min(DEADLINE_MAX);
        // SAFETY: registered, hence filed here; lock held.
        let own = unsafe { self.unfile(entry) }.unwrap_or_else(|| Arc::clone(entry));
        entry.set_deadline_locked(deadline);
        if deadline <= self.now {
            // SAFETY: lock held, still registered.
            return match unsafe { own.try_fire(self.now) } {
                Fire::Fired(waker) => {
                    self.len -= 1;
                    Reschedule::Fired(waker)
                }
                Fire::NotDue(_) => unreachable!("deadline <= now was just stored"),
            };
        }
        // SAFETY: lock held; unfiled above.
        unsafe { self.file(own, deadline) };
        Reschedule::Filed(self.interrupt_wait(deadline))
    }

    /// Fires every entry due at `now` (ns), stopping early when `wakers` is
    /// full. Returns `true` when done, `false` when the caller must wake the
    /// batch and call again. `fired` counts the entries fired.
    pub(crate) fn process(&mut self, now: u64, wakers: &mut WakeList, fired: &mut usize) -> bool {
        // Time never goes back, and stays short of the "never" deadline.
        self.now = self.now.max(now.min(DEADLINE_MAX - 1));
        let now = self.now;
        let now_tick = now / NS_PER_TICK;
        loop {
            if wakers.is_full() {
                return false;
            }
            // SAFETY: `&mut self` is the lock.
            if let Some((deadline, _)) = unsafe { self.near.front() } {
                if deadline <= now {
                    // SAFETY: as above.
                    let (_, entry) = unsafe { self.near.pop_front() }.expect("front exists");
                    // SAFETY: lock held; the popped entry was current, so it is
                    // registered, and it is now unfiled.
                    unsafe { self.fire_or_refile(entry, wakers, fired) };
                    continue;
                }
            }
            match self.next_expiration() {
                Some(exp) if exp.tick <= now_tick => {
                    self.elapsed = self.elapsed.max(exp.tick);
                    // SAFETY: lock held; the bitmap says the slot is occupied.
                    let entry = unsafe { self.levels[exp.level].pop(exp.slot) };
                    let entry = entry.expect("occupied slot is not empty");
                    // SAFETY: lock held; popped entries are registered.
                    unsafe { self.fire_or_refile(entry, wakers, fired) };
                }
                _ => break,
            }
        }
        self.elapsed = self.elapsed.max(now_tick);
        true
    }

    /// The earliest deadline (ns) of any registered entry, or an earlier
    /// instant. Exact, except right after the earliest entry of a slot
    /// beyond the current 64 ms window was cancelled or moved later: then it
    /// is that slot's stale minimum, where the driver wakes once, cascades
    /// the slot, and gets an exact answer.
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        loop {
            let near = self.near_front_exact();
            match self.next_expiration() {
                Some(exp) if exp.level == 0 && near.is_none_or(|d| exp.tick * NS_PER_TICK < d) => {
                    self.promote(exp);
                }
                Some(exp) => {
                    // The slot's minimum is exact unless an entry in it was
                    // cancelled or moved later; then it is early, and the
                    // driver's wake there cascades the slot (it starts no
                    // later), after which the answer is exact again.
                    let at = exp.earliest.max(exp.tick * NS_PER_TICK);
                    return Some(near.map_or(at, |d| d.min(at)));
                }
                None => return near,
            }
        }
    }

    /// The driver is about to block: records it and returns the deadline it
    /// should wake at (ns; `None`: no timers).
    pub(crate) fn begin_wait(&mut self) -> Option<u64> {
        let until = self.next_deadline();
        self.wait = Wait::Waiting { until };
        until
    }

    /// The driver woke up.
    pub(crate) fn end_wait(&mut self) {
        self.wait = Wait::Running;
    }

    /// Fires every entry, stopping early when `wakers` is full; returns `true`
    /// when the wheel is empty. Later inserts return [`Insert::ShutDown`].
    pub(crate) fn shutdown(&mut self, wakers: &mut WakeList) -> bool {
        self.shut_down = true;
        while !wakers.is_full() {
            // SAFETY: `&mut self` is the lock.
            let entry = match unsafe { self.near.pop_front() } {
                Some((_, entry)) => entry,
                None => match self.next_expiration() {
                    // SAFETY: lock held; the bitmap says it is occupied.
                    Some(exp) => unsafe { self.levels[exp.level].pop(exp.slot) }
                        .expect("occupied slot is not empty"),
                    None => {
                        // Only stale items are left; their entries hold no
                        // waker (invariant 5).
                        self.near.clear();
                        return true;
                    }
                },
            };
            // SAFETY: lock held; filed entries are registered. Every
            // deadline is <= u64::MAX, so this fires.
            match unsafe { entry.try_fire(u64::MAX) } {
                Fire::Fired(waker) => {
                    self.len -= 1;
                    if let Some(waker) = waker {
                        wakers.push(waker);
                    }
                }
                Fire::NotDue(_) => unreachable!("every deadline is due at u64::MAX"),
            }
        }
        false
    }

    // ----- internals -------------------------------------------------------

    /// Files an unfiled, registered entry by its true `deadline`.
    ///
    /// # Safety
    ///
    /// The caller has exclusive access to the wheel (holds its lock) and the
    /// entry belongs to it and is unfiled.
    unsafe fn file(&mut self, entry: Arc<Entry>, deadline: u64) {
        let tick = deadline / NS_PER_TICK;
        if tick <= self.elapsed.max(self.near_until) {
            // SAFETY: forwarded from the caller's contract.
            unsafe { self.near.push(entry, deadline) };
            return;
        }
        let tick = tick.min(self.elapsed + MAX_DELAY);
        // Where the entry is filed for: its deadline, or the end of the
        // clamped tick for one beyond the wheel's span.
        let filed_at = deadline.min((tick + 1) * NS_PER_TICK - 1);
        let level = level_for(self.elapsed, tick);
        // SAFETY: forwarded from the caller's contract.
        unsafe { self.levels[level].push(slot_for(tick, level), entry, filed_at) };
    }

    /// Unfiles a filed entry. Returns the slot list's strong reference, or
    /// `None` for the near queue (whose stale item keeps its own).
    ///
    /// Takes the owner's `Arc`, not `&Entry`: the slot list is found by
    /// `Arc::as_ptr`, a pointer with the provenance of the whole allocation
    /// (see `list.rs`).
    ///
    /// # Safety
    ///
    /// The caller holds the lock and the entry is filed in this wheel.
    unsafe fn unfile(&mut self, entry: &Arc<Entry>) -> Option<Arc<Entry>> {
        // SAFETY: lock held (caller's contract).
        match unsafe { entry.with_links(|links| links.location) } {
            Location::Unfiled => unreachable!("registered entries are filed"),
            Location::Near => {
                // SAFETY: filed in the near queue; lock held.
                unsafe { self.near.remove(entry) };
                None
            }
            Location::Slot { level, slot } => {
                // SAFETY: `Arc::as_ptr` never returns null.
                let ptr =
                    unsafe { std::ptr::NonNull::new_unchecked(Arc::as_ptr(entry).cast_mut()) };
                // SAFETY: filed in this slot; lock held.
                Some(unsafe { self.levels[usize::from(level)].remove(usize::from(slot), ptr) })
            }
        }
    }

    /// Fires `entry` if it is due at `self.now`, else files it again at its
    /// true deadline (it was moved later without the lock).
    ///
    /// # Safety
    ///
    /// The caller holds the lock; the entry belongs here, is registered and
    /// was just unfiled.
    unsafe fn fire_or_refile(
        &mut self,
        entry: Arc<Entry>,
        wakers: &mut WakeList,
        fired: &mut usize,
    ) {
        // SAFETY: lock held, registered (caller's contract).
        match unsafe { entry.try_fire(self.now) } {
            Fire::Fired(waker) => {
                self.len -= 1;
                *fired += 1;
                if let Some(waker) = waker {
                    wakers.push(waker);
                }
            }
            // SAFETY: lock held, unfiled.
            Fire::NotDue(deadline) => unsafe { self.file(entry, deadline) },
        }
    }

    /// The next slot to expire over all levels (the lowest level wins ties,
    /// which cannot happen while invariant 2 holds).
    fn next_expiration(&self) -> Option<Expiration> {
        self.levels
            .iter()
            .filter_map(|level| level.next_expiration(self.elapsed))
            .min_by_key(|exp| exp.tick)
    }

    /// The near queue's front deadline, after re-filing entries whose
    /// deadline moved later since they were queued.
    fn near_front_exact(&mut self) -> Option<u64> {
        loop {
            // SAFETY: `&mut self` is the lock.
            let (queued, entry) = unsafe { self.near.front() }?;
            let actual = entry.deadline();
            debug_assert!(actual >= queued, "near item later than its entry");
            if actual == queued {
                return Some(queued);
            }
            // SAFETY: lock held; the front item is current.
            let (_, entry) = unsafe { self.near.pop_front() }.expect("front exists");
            // SAFETY: lock held; just unfiled, still registered.
            unsafe { self.file(entry, actual) };
        }
    }

    /// Moves a level-0 slot that is the next to expire into the near queue,
    /// so its entries are ordered by their exact deadlines.
    fn promote(&mut self, exp: Expiration) {
        debug_assert_eq!(exp.level, 0);
        self.near_until = self.near_until.max(exp.tick);
        // SAFETY: `&mut self` is the lock.
        while let Some(entry) = unsafe { self.levels[0].pop(exp.slot) } {
            let deadline = entry.deadline();
            // SAFETY: lock held; popped, so unfiled; registered. Its tick is
            // `>= exp.tick`: equal goes to the near queue, later (moved
            // without the lock) to a later slot, so the loop ends.
            unsafe { self.file(entry, deadline) };
        }
    }

    /// After filing an entry due at `deadline`: if the driver is blocked
    /// until later, returns the unpark callback (once per wait).
    fn interrupt_wait(&mut self, deadline: u64) -> Option<Callback> {
        match self.wait {
            Wait::Waiting { until } if until.is_none_or(|until| deadline < until) => {
                self.wait = Wait::Interrupted;
                self.unpark.clone()
            }
            _ => None,
        }
    }

    /// Checks invariants 1 to 3 (tests only).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn check_invariants(&self) {
        let edge = self.elapsed.max(self.near_until);
        let mut filed = 0;
        for (index, level) in self.levels.iter().enumerate() {
            let exp = level.next_expiration(self.elapsed);
            level.check(|slot, entry| {
                filed += 1;
                let state = entry.state();
                assert!(state.is_registered() && !state.is_fired(), "{state:?}");
                // SAFETY: tests hold `&Wheel` under the lock or alone.
                let location = unsafe { entry.with_links(|links| links.location) };
                assert_eq!(
                    location,
                    Location::Slot {
                        level: index as u8,
                        slot: slot as u8
                    }
                );
                let tick = state.deadline() / NS_PER_TICK;
                assert!(tick > edge, "slot entry due at {tick} <= edge {edge}");
                let exp = exp.expect("occupied level has an expiration");
                assert!(exp.tick > self.elapsed, "slot starts at or before elapsed");
            });
        }
        self.near.for_each_current(|queued, entry| {
            filed += 1;
            let state = entry.state();
            assert!(state.is_registered() && !state.is_fired(), "{state:?}");
            assert!(state.deadline() >= queued, "near item later than its entry");
        });
        assert_eq!(filed, self.len);
    }

    /// Items in the near queue, stale ones included (tests only).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn near_items(&self) -> usize {
        self.near.items()
    }
}

impl std::fmt::Debug for Wheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("near_until", &self.near_until)
            .field("now", &self.now)
            .field("len", &self.len)
            .field("shut_down", &self.shut_down)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl Drop for Wheel {
    fn drop(&mut self) {
        // Only reached when no handle is left, so no owner either: release
        // the slot lists' references. The near queue drops its own.
        for level in &mut self.levels {
            for slot in 0..level::SLOTS {
                // SAFETY: `&mut self` in `drop` is exclusive access.
                while let Some(entry) = unsafe { level.pop(slot) } {
                    drop(entry);
                }
            }
        }
    }
}
