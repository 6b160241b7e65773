//! Level arithmetic and one level of the hierarchical wheel.
//!
//! Time inside the wheel is counted in **ticks** of one millisecond since the
//! timer's origin. Level `l` has 64 slots of `64^l` ticks each, so it spans
//! `64^(l+1)` ticks; six levels span `64^6` ms, about 2.2 years (Varghese and
//! Lauck's hierarchical wheel, with the sizes tokio also uses).
//!
//! An entry due at tick `t` is filed relative to the wheel's `elapsed` tick on
//! the level of the highest 6-bit group in which `t` and `elapsed` differ, in
//! the slot given by that group of `t`. That slot always starts after
//! `elapsed`, so "the next slot to expire" is the first occupied slot at or
//! after the current one on each level: one rotate and one `trailing_zeros`
//! on the level's occupancy bitmap.

use std::ptr::NonNull;

use super::list::List;
use crate::entry::{Entry, Location};
use crate::sync::Arc;

/// Number of levels. Six levels of 64 slots reach `2^36` ms.
pub(crate) const LEVELS: usize = 6;
/// Slots per level: one bit each in a `u64` occupancy bitmap.
pub(crate) const SLOTS: usize = 64;
/// `log2(SLOTS)`.
const SLOT_BITS: u32 = 6;
/// Length of one tick (a level-0 slot). 1 ms keeps the wheel small; exact
/// deadlines inside a tick are ordered by the near queue instead.
pub(crate) const NS_PER_TICK: u64 = 1_000_000;
/// The farthest tick an entry may be filed at, counted from `elapsed`.
///
/// It stays one top-level slot short of the full span so that a top-level
/// entry never shares the slot `elapsed` is in (which would make it look due
/// immediately). Entries further out are filed here and re-filed when this
/// slot comes due, since their true deadline is kept in the entry.
pub(crate) const MAX_DELAY: u64 = (SLOTS as u64 - 1) * slot_span(LEVELS - 1) - 1;

/// Ticks covered by one slot of `level`.
pub(crate) const fn slot_span(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * level)
}

/// Ticks covered by all of `level`.
pub(crate) const fn level_span(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * (level + 1))
}

/// The level an entry due at `tick` belongs on, seen from `elapsed`.
pub(crate) fn level_for(elapsed: u64, tick: u64) -> usize {
    debug_assert!(tick > elapsed, "only future ticks are filed in levels");
    // OR in the level-0 bits so that equal upper groups land on level 0.
    let differing = (elapsed ^ tick) | (SLOTS as u64 - 1);
    let highest_bit = 63 - differing.leading_zeros();
    ((highest_bit / SLOT_BITS) as usize).min(LEVELS - 1)
}

/// The slot of `tick` on `level`.
pub(crate) fn slot_for(tick: u64, level: usize) -> usize {
    ((tick >> (SLOT_BITS as usize * level)) % SLOTS as u64) as usize
}

/// The next slot of a level to come due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expiration {
    pub(crate) level: usize,
    pub(crate) slot: usize,
    /// The first tick the slot covers.
    pub(crate) tick: u64,
    /// A lower bound (ns) of the deadlines in the slot; see `Level::earliest`.
    pub(crate) earliest: u64,
}

/// One level: 64 slot lists and the bitmap of the non-empty ones.
#[derive(Debug)]
pub(crate) struct Level {
    level: usize,
    occupied: u64,
    slots: [List; SLOTS],
    /// Per slot, the earliest deadline (ns) filed there since it was last
    /// empty. Lowered on every push and reset only when the slot empties, so
    /// it stays a lower bound of the slot's deadlines: a cancelled or
    /// extended entry leaves it early, never late. It lets the wheel report
    /// an exact next deadline for a slot on any level without scanning it.
    earliest: [u64; SLOTS],
}

impl Level {
    pub(crate) fn new(level: usize) -> Level {
        Level {
            level,
            occupied: 0,
            slots: std::array::from_fn(|_| List::default()),
            earliest: [u64::MAX; SLOTS],
        }
    }

    /// The first occupied slot at or after the one containing `elapsed`.
    pub(crate) fn next_expiration(&self, elapsed: u64) -> Option<Expiration> {
        if self.occupied == 0 {
            return None;
        }
        let shift = SLOT_BITS as usize * self.level;
        let current = (elapsed >> shift) % SLOTS as u64;
        let distance = u64::from(self.occupied.rotate_right(current as u32).trailing_zeros());
        let level_start = elapsed & !(level_span(self.level) - 1);
        let slot = ((current + distance) % SLOTS as u64) as usize;
        Some(Expiration {
            level: self.level,
            slot,
            // Past the end of the level's span means the next rotation.
            tick: level_start + ((current + distance) << shift),
            earliest: self.earliest[slot],
        })
    }

    /// Files `entry` in `slot`; `filed_at` (ns) is the position it is filed
    /// for, inside the slot and not after its true deadline.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock and the entry is not filed.
    pub(crate) unsafe fn push(&mut self, slot: usize, entry: Arc<Entry>, filed_at: u64) {
        let location = Location::Slot {
            level: self.level as u8,
            slot: slot as u8,
        };
        // SAFETY: forwarded from the caller's contract.
        unsafe { self.slots[slot].push_front(entry, location) };
        self.occupied |= 1 << slot;
        self.earliest[slot] = self.earliest[slot].min(filed_at);
    }

    /// Unfiles `entry` from `slot` and returns the wheel's reference to it.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock and `entry` is filed in `slot`.
    pub(crate) unsafe fn remove(&mut self, slot: usize, entry: NonNull<Entry>) -> Arc<Entry> {
        // SAFETY: forwarded from the caller's contract.
        let entry = unsafe { self.slots[slot].unlink(entry) };
        self.note_removal(slot);
        entry
    }

    /// Unfiles the first entry of `slot`, if any.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock.
    pub(crate) unsafe fn pop(&mut self, slot: usize) -> Option<Arc<Entry>> {
        // SAFETY: forwarded from the caller's contract.
        let entry = unsafe { self.slots[slot].pop_front() };
        self.note_removal(slot);
        entry
    }

    fn note_removal(&mut self, slot: usize) {
        if self.slots[slot].is_empty() {
            self.occupied &= !(1 << slot);
            self.earliest[slot] = u64::MAX;
        }
    }

    /// Checks that the bitmap matches the lists (tests only).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn check(&self, mut f: impl FnMut(usize, &Entry)) {
        for (slot, list) in self.slots.iter().enumerate() {
            assert_eq!(self.occupied & (1 << slot) != 0, !list.is_empty());
            list.for_each(|entry| {
                assert!(
                    self.earliest[slot] <= entry.deadline(),
                    "slot minimum too late"
                );
                f(slot, entry);
            });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(slot_span(0), 1);
        assert_eq!(slot_span(1), 64);
        assert_eq!(level_span(0), 64);
        assert_eq!(level_span(5), 1 << 36);
        assert_eq!(MAX_DELAY, 63 * (1 << 30) - 1);
    }

    #[test]
    fn level_is_the_highest_differing_group() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(64, 127), 0);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, 1 << 30), 5);
        // Beyond the wheel's span everything lands on the top level.
        assert_eq!(level_for(0, 1 << 40), LEVELS - 1);
        assert_eq!(level_for((1 << 36) - 1, 1 << 36), LEVELS - 1);
    }

    #[test]
    fn slot_is_the_group_of_the_tick() {
        assert_eq!(slot_for(5, 0), 5);
        assert_eq!(slot_for(64 + 5, 0), 5);
        assert_eq!(slot_for(3 * 64 + 5, 1), 3);
        assert_eq!(slot_for(7 << 30, 5), 7);
        assert_eq!(slot_for(65 << 30, 5), 1);
    }

    #[test]
    fn filed_slots_start_after_elapsed() {
        // For a spread of (elapsed, tick) pairs the slot an entry is filed in
        // starts after `elapsed` and no later than `tick`, which is what lets
        // the wheel treat "first occupied slot" as "next to expire".
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        // Miri runs this for the `Level` code, not for the spread: fewer.
        let rounds = if cfg!(miri) { 100 } else { 100_000 };
        for _ in 0..rounds {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let elapsed = seed % (1 << 40);
            let delay = 1 + (seed >> 24) % (1 << ((seed >> 3) % 37));
            let tick = elapsed + delay.min(MAX_DELAY);
            let level = level_for(elapsed, tick);
            let mut bits = Level::new(level);
            bits.occupied = 1 << slot_for(tick, level);
            let exp = bits.next_expiration(elapsed).unwrap();
            assert!(exp.tick > elapsed, "{elapsed} {tick} {exp:?}");
            assert!(exp.tick <= tick, "{elapsed} {tick} {exp:?}");
            assert!(
                tick - exp.tick < slot_span(level),
                "{elapsed} {tick} {exp:?}"
            );
        }
    }

    #[test]
    fn next_expiration_wraps_into_the_next_rotation() {
        let mut level = Level::new(1);
        // elapsed in slot 10 of level 1; slot 3 is occupied, so it belongs to
        // the next rotation of the level.
        let elapsed = 10 * 64 + 7;
        level.occupied = 1 << 3;
        let exp = level.next_expiration(elapsed).unwrap();
        assert_eq!(exp.slot, 3);
        assert_eq!(exp.tick, 4096 + 3 * 64);
        level.occupied |= 1 << 12;
        assert_eq!(level.next_expiration(elapsed).unwrap().tick, 12 * 64);
    }
}
