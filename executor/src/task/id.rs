use crate::sync::unmodelled::{Relaxed, StaticAtomicU64};
use std::fmt;
use std::num::NonZeroU64;

/// A task's identity, unique among all tasks of the process for its life.
#[derive(Clone, Copy, Debug, Hash, Eq, PartialEq)]
pub struct Id(pub(crate) NonZeroU64);

impl Id {
    pub(crate) fn next() -> Id {
        static NEXT: StaticAtomicU64 = StaticAtomicU64::new(1);
        // Relaxed: only uniqueness matters, which the RMW alone guarantees.
        let id = NEXT.fetch_add(1, Relaxed);
        Id(NonZeroU64::new(id).expect("task id counter wrapped"))
    }

    /// The id as an integer (for logs and sharding).
    pub fn as_u64(&self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
