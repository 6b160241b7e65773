//! The packed state word of a timer entry.
//!
//! ```text
//!  63           62         61      60           59 ..................... 0
//! +-------------+----------+-------+------------+-------------------------+
//! | REGISTERING | CANCELLED| FIRED | REGISTERED |  deadline (ns since the  |
//! |             |          |       |            |  timer's origin)         |
//! +-------------+----------+-------+------------+-------------------------+
//! ```
//!
//! * **deadline**: the *true* deadline of the entry. The wheel may have filed
//!   the entry earlier than this (a deadline moved later without the lock,
//!   see `Entry::try_extend`), never later. 60 bits of nanoseconds cover 36
//!   years after the timer was created; later deadlines are clamped to
//!   [`DEADLINE_MAX`], which the wheel never reaches.
//! * **REGISTERED**: the wheel holds the entry (in a slot or in the near
//!   queue). Set and cleared only under the wheel lock.
//! * **FIRED**: the deadline passed and the wheel let go of the entry (or the
//!   timer shut down). Set only under the wheel lock, in the same atomic step
//!   that clears REGISTERED; cleared only when the owner re-arms the entry,
//!   again under the lock.
//! * **CANCELLED**: the owner dropped its registration. Excludes FIRED for the
//!   same registration: both are decided under the wheel lock.
//! * **REGISTERING**: the owner (the `Sleep`) is writing the waker cell
//!   without the lock, like `AtomicWaker`'s REGISTERING. Only set while
//!   REGISTERED and not FIRED; the firer never touches the cell while it is
//!   set, and the owner never sets it once FIRED is set.

use std::fmt;

/// Bits 0..60: the deadline in nanoseconds since the timer's origin.
pub(crate) const DEADLINE_MASK: u64 = (1 << 60) - 1;
/// The largest representable deadline (about 36.5 years after the timer's
/// origin); later deadlines are clamped to it and in practice never fire.
pub(crate) const DEADLINE_MAX: u64 = DEADLINE_MASK;
/// The wheel holds the entry.
pub(crate) const REGISTERED: u64 = 1 << 60;
/// The deadline passed (or the timer shut down) and the wheel let go.
pub(crate) const FIRED: u64 = 1 << 61;
/// The owner dropped the registration.
pub(crate) const CANCELLED: u64 = 1 << 62;
/// The owner is writing the waker cell.
pub(crate) const REGISTERING: u64 = 1 << 63;

/// A snapshot of an entry's state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct State(pub(crate) u64);

impl State {
    /// An unregistered entry with `deadline` (clamped to [`DEADLINE_MAX`]).
    pub(crate) fn unregistered(deadline: u64) -> State {
        State(deadline.min(DEADLINE_MAX))
    }

    /// A freshly registered entry with `deadline`.
    pub(crate) fn registered(deadline: u64) -> State {
        State(deadline.min(DEADLINE_MAX) | REGISTERED)
    }

    pub(crate) fn deadline(self) -> u64 {
        self.0 & DEADLINE_MASK
    }

    /// The same flags with another deadline (clamped).
    pub(crate) fn with_deadline(self, deadline: u64) -> State {
        State((self.0 & !DEADLINE_MASK) | deadline.min(DEADLINE_MAX))
    }

    pub(crate) fn is_registered(self) -> bool {
        self.0 & REGISTERED != 0
    }

    pub(crate) fn is_fired(self) -> bool {
        self.0 & FIRED != 0
    }

    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }

    pub(crate) fn is_registering(self) -> bool {
        self.0 & REGISTERING != 0
    }

    /// The state after the wheel fired the entry: no longer registered, fired.
    pub(crate) fn fired(self) -> State {
        State((self.0 & !REGISTERED) | FIRED)
    }

    /// The state after the owner cancelled the registration.
    pub(crate) fn cancelled(self) -> State {
        State((self.0 & !REGISTERED) | CANCELLED)
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("deadline_ns", &self.deadline())
            .field("registered", &self.is_registered())
            .field("fired", &self.is_fired())
            .field("cancelled", &self.is_cancelled())
            .field("registering", &self.is_registering())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn masks_are_disjoint_and_cover_the_word() {
        let parts = [DEADLINE_MASK, REGISTERED, FIRED, CANCELLED, REGISTERING];
        let mut seen = 0u64;
        for part in parts {
            assert_eq!(seen & part, 0, "{part:#x} overlaps another field");
            seen |= part;
        }
        assert_eq!(seen, u64::MAX);
    }

    #[test]
    fn deadline_is_clamped_and_keeps_the_flags() {
        let s = State::registered(u64::MAX);
        assert_eq!(s.deadline(), DEADLINE_MAX);
        assert!(s.is_registered());
        let s = State(s.0 | REGISTERING).with_deadline(42);
        assert_eq!(s.deadline(), 42);
        assert!(s.is_registered() && s.is_registering());
        assert!(!s.is_fired() && !s.is_cancelled());
    }

    #[test]
    fn fired_and_cancelled_leave_registration() {
        let s = State::registered(7);
        let f = s.fired();
        assert!(f.is_fired() && !f.is_registered() && !f.is_cancelled());
        assert_eq!(f.deadline(), 7);
        let c = s.cancelled();
        assert!(c.is_cancelled() && !c.is_registered() && !c.is_fired());
        assert!(!State::unregistered(7).is_registered());
    }

    #[test]
    fn debug_decodes_the_bits() {
        let text = format!("{:?}", State::registered(5).fired());
        assert!(text.contains("deadline_ns: 5"), "{text}");
        assert!(text.contains("fired: true"), "{text}");
        assert!(text.contains("registered: false"), "{text}");
    }
}
