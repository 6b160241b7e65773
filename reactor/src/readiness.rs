//! The packed readiness word of one registered source.
//!
//! Every source has one atomic word, read and written as a [`State`]:
//!
//! ```text
//!  bit 0          READABLE   the last read-side event has not been consumed
//!  bit 1          WRITABLE   the last write-side event has not been consumed
//!  bit 2          SHUTDOWN   the driver shut down; every operation fails
//!  bit 3          CLOSED     the poller reported hang-up or an error
//!  bits 4..=17    read tick  bumped by every read-side event (wraps)
//!  bits 18..=31   write tick bumped by every write-side event (wraps)
//! ```
//!
//! Rules (who may change what):
//!
//! * Only the driver thread dispatching an event *sets* `READABLE`/`WRITABLE`,
//!   and it bumps that direction's tick in the same atomic update.
//! * Tasks *clear* a direction's bit, and only with [`State::clear_if_tick`]:
//!   a task that saw tick `t`, then got `WouldBlock` (or otherwise learnt the direction is drained), clears
//!   the bit only if the tick is still `t`. If an event arrived in between,
//!   the tick moved on and the bit stays set, so the newer event is kept.
//! * A clear comes in two strengths. After `WouldBlock` the OS itself said
//!   "not ready", and [`State::clear_if_tick`] clears the bit. After an
//!   operation that only *implies* the direction is drained (a TCP read the
//!   kernel reports left nothing queued, a short write),
//!   [`State::clear_drained_if_tick`] also refuses while `CLOSED` is set:
//!   a hang-up or error that arrived in the same event as the data is not
//!   "queued data", and edge-triggered polling will not report it again, so
//!   the next operation must run to surface it (one failed read for a peer
//!   that vanished, never a hang).
//! * `CLOSED` is set by the driver from the event's `EPOLLHUP`/`EPOLLERR`
//!   and never cleared (errors such as a UDP socket's ICMP report are
//!   transient, but they only weaken the drained-clear, which datagram
//!   sockets never use).
//! * `SHUTDOWN` is set once by the driver's shutdown and never cleared.
//!
//! The ticks are per direction so that a flood of writable events cannot
//! stop a reader from clearing its own stale readiness, and the other way
//! round. 14 bits each: a tick can only be mistaken for an older one after
//! 16,384 events on one direction of one source arrived *during* a single
//! syscall of the task holding the old tick, which a driver turn per event
//! makes impossible in practice. The word fits in 32 bits so that the layout
//! is the same on 32-bit targets.

use std::fmt;

/// Which half of a source an operation or an event concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    const fn ready_bit(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }

    const fn tick_shift(self) -> u32 {
        match self {
            Direction::Read => READ_TICK_SHIFT,
            Direction::Write => WRITE_TICK_SHIFT,
        }
    }

    const fn tick_mask(self) -> usize {
        match self {
            Direction::Read => READ_TICK_MASK,
            Direction::Write => WRITE_TICK_MASK,
        }
    }
}

const READABLE: usize = 1 << 0;
const WRITABLE: usize = 1 << 1;
const SHUTDOWN: usize = 1 << 2;
const CLOSED: usize = 1 << 3;

const TICK_BITS: u32 = 14;
const TICK_MAX: usize = (1 << TICK_BITS) - 1;
const READ_TICK_SHIFT: u32 = 4;
const WRITE_TICK_SHIFT: u32 = READ_TICK_SHIFT + TICK_BITS;
const READ_TICK_MASK: usize = TICK_MAX << READ_TICK_SHIFT;
const WRITE_TICK_MASK: usize = TICK_MAX << WRITE_TICK_SHIFT;

/// One snapshot of a source's readiness word. See the module docs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct State(usize);

impl State {
    /// A freshly registered source: nothing ready, both ticks zero. The
    /// poller reports a source that is already ready when it is added, so
    /// starting empty loses nothing.
    pub(crate) const INITIAL: State = State(0);

    pub(crate) const fn from_bits(bits: usize) -> State {
        State(bits)
    }

    pub(crate) const fn bits(self) -> usize {
        self.0
    }

    pub(crate) const fn is_ready(self, dir: Direction) -> bool {
        self.0 & dir.ready_bit() != 0
    }

    pub(crate) const fn is_shutdown(self) -> bool {
        self.0 & SHUTDOWN != 0
    }

    pub(crate) const fn is_closed(self) -> bool {
        self.0 & CLOSED != 0
    }

    pub(crate) const fn tick(self, dir: Direction) -> usize {
        (self.0 & dir.tick_mask()) >> dir.tick_shift()
    }

    /// The state after one event on `dir`: the bit set, the tick bumped.
    #[must_use]
    pub(crate) const fn with_event(self, dir: Direction) -> State {
        let tick = (self.tick(dir) + 1) & TICK_MAX;
        State((self.0 & !dir.tick_mask()) | (tick << dir.tick_shift()) | dir.ready_bit())
    }

    /// The state with `dir`'s bit cleared, or `None` if `dir`'s tick is no
    /// longer `tick` (a newer event arrived and must not be thrown away).
    #[must_use]
    pub(crate) const fn clear_if_tick(self, dir: Direction, tick: usize) -> Option<State> {
        if self.tick(dir) != tick || !self.is_ready(dir) {
            None
        } else {
            Some(State(self.0 & !dir.ready_bit()))
        }
    }

    /// Like [`clear_if_tick`](State::clear_if_tick), for a clear that is
    /// only inferred: also `None` while `CLOSED` is set.
    #[must_use]
    pub(crate) const fn clear_drained_if_tick(self, dir: Direction, tick: usize) -> Option<State> {
        if self.is_closed() {
            None
        } else {
            self.clear_if_tick(dir, tick)
        }
    }

    /// The state after an event that reported hang-up or an error.
    #[must_use]
    pub(crate) const fn with_closed(self) -> State {
        State(self.0 | CLOSED)
    }

    #[must_use]
    pub(crate) const fn with_shutdown(self) -> State {
        State(self.0 | SHUTDOWN)
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("readable", &self.is_ready(Direction::Read))
            .field("writable", &self.is_ready(Direction::Write))
            .field("shutdown", &self.is_shutdown())
            .field("closed", &self.is_closed())
            .field("read_tick", &self.tick(Direction::Read))
            .field("write_tick", &self.tick(Direction::Write))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn masks_are_disjoint_and_fit_in_32_bits() {
        let masks = [
            READABLE,
            WRITABLE,
            SHUTDOWN,
            CLOSED,
            READ_TICK_MASK,
            WRITE_TICK_MASK,
        ];
        for (i, a) in masks.iter().enumerate() {
            for b in &masks[i + 1..] {
                assert_eq!(a & b, 0, "{a:#x} overlaps {b:#x}");
            }
        }
        let all = masks.iter().fold(0, |acc, m| acc | m);
        assert_eq!(
            all,
            u32::MAX as usize,
            "the layout should use bits 0..=31 exactly"
        );
    }

    #[test]
    fn events_bump_only_their_own_tick() {
        let s = State::INITIAL.with_event(Direction::Read);
        assert!(s.is_ready(Direction::Read));
        assert!(!s.is_ready(Direction::Write));
        assert_eq!(s.tick(Direction::Read), 1);
        assert_eq!(s.tick(Direction::Write), 0);
        let s = s.with_event(Direction::Write).with_event(Direction::Write);
        assert_eq!(s.tick(Direction::Read), 1);
        assert_eq!(s.tick(Direction::Write), 2);
    }

    #[test]
    fn clear_keeps_a_newer_event() {
        let seen = State::INITIAL.with_event(Direction::Read);
        let t = seen.tick(Direction::Read);
        // No newer event: the bit is cleared, the tick kept.
        let cleared = seen.clear_if_tick(Direction::Read, t).unwrap();
        assert!(!cleared.is_ready(Direction::Read));
        assert_eq!(cleared.tick(Direction::Read), t);
        // A newer event arrived: clearing with the old tick does nothing.
        let newer = seen.with_event(Direction::Read);
        assert_eq!(newer.clear_if_tick(Direction::Read, t), None);
        // A write event does not stop the reader from clearing.
        let other = seen.with_event(Direction::Write);
        assert!(other.clear_if_tick(Direction::Read, t).is_some());
    }

    #[test]
    fn closed_blocks_only_inferred_clears() {
        let s = State::INITIAL.with_event(Direction::Read).with_closed();
        let t = s.tick(Direction::Read);
        assert_eq!(s.clear_drained_if_tick(Direction::Read, t), None);
        let cleared = s.clear_if_tick(Direction::Read, t).unwrap();
        assert!(!cleared.is_ready(Direction::Read));
        assert!(cleared.is_closed(), "CLOSED itself is never cleared");
    }

    #[test]
    fn tick_wraps_without_touching_neighbours() {
        let mut s = State::INITIAL.with_shutdown().with_closed();
        for _ in 0..=TICK_MAX {
            s = s.with_event(Direction::Read);
        }
        assert_eq!(s.tick(Direction::Read), 0);
        assert_eq!(s.tick(Direction::Write), 0);
        assert!(s.is_shutdown() && s.is_closed());
        assert!(!s.is_ready(Direction::Write));
    }

    #[test]
    fn debug_decodes_bits() {
        let s = State::INITIAL.with_event(Direction::Write);
        let text = format!("{s:?}");
        assert!(text.contains("writable: true"), "{text}");
        assert!(text.contains("write_tick: 1"), "{text}");
    }
}
