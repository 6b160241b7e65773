//! The table of registered sources, keyed by generation-checked keys.
//!
//! The poller reports events by the `usize` key a source was added with. A
//! key packs a slot index (low [`INDEX_BITS`] bits) and the slot's
//! generation (the remaining high bits). Removing a source bumps its slot's
//! generation, so an event that was already sitting in the driver's event
//! buffer for a source that is gone, and whose slot now holds a new source,
//! carries the old generation and is ignored instead of waking a stranger.
//!
//! Generations wrap; a stale event would have to outlive `2^(usize::BITS -
//! 24)` reuses of its slot (256 on 32-bit targets, about 10^12 on 64-bit)
//! within one driver turn to be misdelivered, and even then it only costs a
//! spurious wakeup.

use std::fmt;

use crate::source::Source;
use crate::sync::Arc;

/// Bits of a key that hold the slot index: up to 16 million sources.
pub(crate) const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// The all-ones index is never handed out, so no key equals `usize::MAX`,
/// which polling reserves for its own notifications.
const MAX_SOURCES: usize = INDEX_MASK;
const GENERATION_MAX: usize = usize::MAX >> INDEX_BITS;

/// A generation-checked key, as passed to the poller.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(usize);

impl Key {
    fn new(index: usize, generation: usize) -> Key {
        debug_assert!(index < MAX_SOURCES && generation <= GENERATION_MAX);
        Key(index | (generation << INDEX_BITS))
    }

    /// A key as the poller reported it.
    pub(crate) fn from_raw(raw: usize) -> Key {
        Key(raw)
    }

    pub(crate) fn raw(self) -> usize {
        self.0
    }

    fn index(self) -> usize {
        self.0 & INDEX_MASK
    }

    fn generation(self) -> usize {
        self.0 >> INDEX_BITS
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}@{})", self.index(), self.generation())
    }
}

#[derive(Debug)]
struct Slot {
    generation: usize,
    source: Option<Arc<Source>>,
}

/// The slab itself. The reactor keeps it behind one mutex: registration,
/// deregistration and each driver turn's dispatch lock it briefly.
#[derive(Debug, Default)]
pub(crate) struct Slab {
    slots: Vec<Slot>,
    /// Indices of empty slots.
    free: Vec<usize>,
    len: usize,
}

impl Slab {
    /// Stores `source`; `None` if the table is full.
    pub(crate) fn insert(&mut self, source: Arc<Source>) -> Option<Key> {
        let index = match self.free.pop() {
            Some(i) => i,
            None if self.slots.len() < MAX_SOURCES => {
                self.slots.push(Slot {
                    generation: 0,
                    source: None,
                });
                self.slots.len() - 1
            }
            None => return None,
        };
        let slot = &mut self.slots[index];
        debug_assert!(slot.source.is_none());
        slot.source = Some(source);
        self.len += 1;
        Some(Key::new(index, slot.generation))
    }

    /// The source behind `key`, if `key` is current.
    pub(crate) fn get(&self, key: Key) -> Option<&Arc<Source>> {
        let slot = self.slots.get(key.index())?;
        if slot.generation != key.generation() {
            return None;
        }
        slot.source.as_ref()
    }

    /// Removes the source behind `key` and retires the key.
    pub(crate) fn remove(&mut self, key: Key) -> Option<Arc<Source>> {
        let slot = self.slots.get_mut(key.index())?;
        if slot.generation != key.generation() {
            return None;
        }
        let source = slot.source.take()?;
        slot.generation = if slot.generation == GENERATION_MAX {
            0
        } else {
            slot.generation + 1
        };
        self.free.push(key.index());
        self.len -= 1;
        Some(source)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Source>> {
        self.slots.iter().filter_map(|s| s.source.as_ref())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stale_key_is_ignored_after_reuse() {
        let mut slab = Slab::default();
        let a = Arc::new(Source::new());
        let ka = slab.insert(a.clone()).unwrap();
        assert!(Arc::ptr_eq(slab.get(ka).unwrap(), &a));
        assert!(slab.remove(ka).is_some());
        let b = Arc::new(Source::new());
        let kb = slab.insert(b.clone()).unwrap();
        assert_eq!(ka.index(), kb.index(), "the slot is reused");
        assert_ne!(ka, kb, "with a new generation");
        assert!(slab.get(ka).is_none(), "a stale event finds nothing");
        assert!(slab.remove(ka).is_none(), "a stale remove removes nothing");
        assert!(Arc::ptr_eq(slab.get(kb).unwrap(), &b));
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn keys_round_trip_and_never_equal_usize_max() {
        let k = Key::new(MAX_SOURCES - 1, GENERATION_MAX);
        assert_ne!(k.raw(), usize::MAX);
        let back = Key::from_raw(k.raw());
        assert_eq!(back.index(), MAX_SOURCES - 1);
        assert_eq!(back.generation(), GENERATION_MAX);
    }

    #[test]
    fn generation_wraps() {
        let mut slab = Slab::default();
        let k = slab.insert(Arc::new(Source::new())).unwrap();
        slab.slots[k.index()].generation = GENERATION_MAX;
        let k = Key::new(k.index(), GENERATION_MAX);
        assert!(slab.remove(k).is_some());
        let k2 = slab.insert(Arc::new(Source::new())).unwrap();
        assert_eq!(k2.generation(), 0);
        assert_eq!(slab.iter().count(), 1);
    }
}
