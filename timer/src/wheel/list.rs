//! An intrusive doubly linked list of entries: one per wheel slot.
//!
//! Each linked entry is owned by the list through one strong reference
//! (`Arc::into_raw` on push, `Arc::from_raw` on removal), so O(1) insert and
//! O(1) removal need no allocation beyond the entry.
//!
//! Provenance: the list keeps (in `head` and the neighbours' links) exactly
//! the pointer `Arc::into_raw` returned, and `unlink` rebuilds the `Arc` from
//! that stored pointer. A pointer made from `&Entry` would do for reading the
//! links, but `Arc::from_raw` on it reaches the reference counts in front of
//! the entry, outside what a `&Entry` may touch (Miri, Stacked Borrows).
//! Callers that hold an `Arc` locate their entry with `Arc::as_ptr`. The list must only be
//! used under the wheel lock; all of its methods take `&mut self`, which the
//! wheel only hands out from behind its mutex.

use std::ptr::NonNull;

use crate::entry::{Entry, Location};
use crate::sync::Arc;

/// The entries of one slot, newest first.
#[derive(Debug, Default)]
pub(crate) struct List {
    head: Option<NonNull<Entry>>,
}

// SAFETY: the list only holds strong references to `Send + Sync` entries and
// is only reached through the wheel mutex.
unsafe impl Send for List {}

impl List {
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Links `entry` at the front, recording `location` in it.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock of the entry's timer and the entry is
    /// not filed anywhere.
    pub(crate) unsafe fn push_front(&mut self, entry: Arc<Entry>, location: Location) {
        let old_head = self.head;
        // The list now owns this strong reference, through this very
        // pointer; `unlink` takes it back.
        let raw = Arc::into_raw(entry).cast_mut();
        // SAFETY: `Arc::into_raw` never returns null.
        let ptr = unsafe { NonNull::new_unchecked(raw) };
        // SAFETY: the list's reference keeps the entry alive; wheel lock held
        // (caller's contract); only this entry's links.
        unsafe {
            ptr.as_ref().with_links(|links| {
                debug_assert_eq!(links.location, Location::Unfiled);
                links.prev = None;
                links.next = old_head;
                links.location = location;
            })
        };
        if let Some(head) = old_head {
            // SAFETY: `head` is linked in this list, so the list's strong
            // reference keeps it alive; wheel lock held.
            unsafe { head.as_ref().with_links(|links| links.prev = Some(ptr)) };
        }
        self.head = Some(ptr);
    }

    /// Unlinks `entry` and returns the list's strong reference to it.
    ///
    /// `entry` only locates the entry (`Arc::as_ptr` of the caller's `Arc`,
    /// or a pointer from this list); the `Arc` is rebuilt from the pointer
    /// the list stored, the one `Arc::into_raw` returned.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock and `entry` is linked in this list.
    pub(crate) unsafe fn unlink(&mut self, entry: NonNull<Entry>) -> Arc<Entry> {
        // SAFETY: linked in this list (caller's contract), so alive; lock held.
        let (prev, next) = unsafe {
            entry.as_ref().with_links(|links| {
                links.location = Location::Unfiled;
                (links.prev.take(), links.next.take())
            })
        };
        let stored = match prev {
            // SAFETY: a linked neighbour is alive and guarded by the lock.
            Some(prev) => unsafe {
                prev.as_ref()
                    .with_links(|links| std::mem::replace(&mut links.next, next))
            },
            None => std::mem::replace(&mut self.head, next),
        };
        let stored = stored.expect("a linked entry is its neighbour's next, or the head");
        debug_assert_eq!(stored, entry, "unlinked an entry of another list");
        if let Some(next) = next {
            // SAFETY: as above.
            unsafe { next.as_ref().with_links(|links| links.prev = prev) };
        }
        // SAFETY: `stored` is the pointer `push_front` got from
        // `Arc::into_raw` for exactly this link, whose strong reference we
        // now take back.
        unsafe { Arc::from_raw(stored.as_ptr()) }
    }

    /// Unlinks and returns the first entry.
    ///
    /// # Safety
    ///
    /// The caller holds the wheel lock.
    pub(crate) unsafe fn pop_front(&mut self) -> Option<Arc<Entry>> {
        let head = self.head?;
        // SAFETY: `head` is linked in this list; lock held (caller's contract).
        Some(unsafe { self.unlink(head) })
    }

    /// Visits every entry (for invariant checks in tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Entry)) {
        let mut cursor = self.head;
        while let Some(ptr) = cursor {
            // SAFETY: linked entries are alive; tests call this under the lock.
            let entry = unsafe { ptr.as_ref() };
            f(entry);
            // SAFETY: as above.
            cursor = unsafe { entry.with_links(|links| links.next) };
        }
    }
}
