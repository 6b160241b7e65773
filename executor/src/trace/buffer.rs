//! The two kinds of event buffer.
//!
//! `WorkerBuf`, one per worker per recording: a fixed array of slots that
//! only its worker writes, and a published length.
//!
//! ```text
//! owner (the worker)                       reader (`Recording::stop`)
//! n = len.load(Relaxed)    (own writes)
//! n == cap: dropped += 1, done
//! slots[n] = event                         n = len.load(Acquire)
//! len.store(n + 1, Release)  ------------> read slots[0..n]
//! ```
//!
//! The owner only ever writes the slot at the published length, and
//! publishes it after writing; the reader only reads slots below the length
//! it loaded. A slot is never written again once published, so the reader
//! cannot see a torn event, and a write racing the reader touches a slot the
//! reader does not read (it is cut at the window's edge). No lock, no RMW,
//! no allocation; `len` and `dropped` sit on the buffer's own cache line,
//! which other threads read only at `stop`.
//!
//! `LockedBuf`: the tracks that non-worker threads write (blocking pool,
//! driver turns, spawns and wakes from other threads). A mutex is fine
//! there: those paths are off the workers' hot path.

use super::event::Event;
use crate::sync::cell::UnsafeCell;
use crate::sync::unmodelled::AtomicU64;
use crate::sync::{AtomicUsize, CachePadded, Mutex};
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

pub(crate) struct WorkerBuf {
    slots: Box<[UnsafeCell<MaybeUninit<Event>>]>,
    /// Published length: slots below it are written and never change.
    len: CachePadded<AtomicUsize>,
    /// Events refused because the buffer was full. Single writer (the
    /// owner); read at `stop`, after which counting stops too.
    dropped: AtomicU64,
}

// SAFETY: the slots are shared between the owner and the reader under the
// publication protocol above (disjoint slots, Release/Acquire on `len`).
unsafe impl Sync for WorkerBuf {}
// SAFETY: `Event` is plain data.
unsafe impl Send for WorkerBuf {}

impl WorkerBuf {
    /// Reserves `capacity` slots. The allocation is not touched, so the OS
    /// commits its pages only as events fill them.
    pub(crate) fn new(capacity: usize) -> WorkerBuf {
        WorkerBuf {
            slots: uninit_slots(capacity),
            len: CachePadded::new(AtomicUsize::new(0)),
            dropped: AtomicU64::new(0),
        }
    }

    /// Appends `event`, or counts it dropped if full.
    ///
    /// # Safety
    ///
    /// Only one thread (the buffer's worker) ever calls `push` on a buffer.
    #[inline]
    pub(crate) unsafe fn push(&self, event: Event) {
        // Relaxed: we are the only writer of `len`, so this reads our own
        // last store.
        let n = self.len.load(Relaxed);
        if n == self.slots.len() {
            self.count_dropped();
            return;
        }
        self.slots[n].with_mut(|slot| {
            // SAFETY: slot `n` is at the published length: no reader reads
            // it (they read below the length they loaded, which is at most
            // `n`), and the caller guarantees we are the only writer.
            unsafe { (*slot).write(event) };
        });
        // Release: publishes the slot just written; pairs with the Acquire
        // in `snapshot`.
        self.len.store(n + 1, Release);
    }

    #[cold]
    fn count_dropped(&self) {
        // Relaxed load + store: single writer (see `push`); the reader
        // needs no ordering with the slots for a count.
        self.dropped
            .store(self.dropped.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Copies out the published events and the dropped count. Any thread.
    pub(crate) fn snapshot(&self) -> (Vec<Event>, u64) {
        // Acquire: pairs with the Release in `push`, so slots below `n` are
        // fully written.
        let n = self.len.load(Acquire);
        let events = self.slots[..n]
            .iter()
            .map(|slot| {
                slot.with(|p| {
                    // SAFETY: below the published length: initialised, and
                    // never written again (see the module docs).
                    unsafe { (*p).assume_init() }
                })
            })
            .collect();
        (events, self.dropped.load(Relaxed))
    }
}

/// `capacity` uninitialised slots, without touching them.
#[cfg(not(loom))]
fn uninit_slots(capacity: usize) -> Box<[UnsafeCell<MaybeUninit<Event>>]> {
    let slots: Box<[MaybeUninit<Event>]> = Box::new_uninit_slice(capacity);
    let raw = Box::into_raw(slots) as *mut [UnsafeCell<MaybeUninit<Event>>];
    // SAFETY: the facade's `UnsafeCell<T>` is `repr(transparent)` over std's,
    // which has the layout of `T`; so both slices have the same layout, and
    // an uninitialised `MaybeUninit` is a valid value of either.
    unsafe { Box::from_raw(raw) }
}

/// Under loom every slot is a tracked cell (capacities there are tiny).
#[cfg(loom)]
fn uninit_slots(capacity: usize) -> Box<[UnsafeCell<MaybeUninit<Event>>]> {
    (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect()
}

/// A bounded event list behind a mutex, for the tracks off the hot path.
pub(crate) struct LockedBuf {
    inner: Mutex<(Vec<Event>, u64)>,
    capacity: usize,
}

impl LockedBuf {
    pub(crate) fn new(capacity: usize) -> LockedBuf {
        LockedBuf {
            inner: Mutex::new((Vec::new(), 0)),
            capacity,
        }
    }

    /// Appends `make(now)`, stamping it under the lock so the track stays
    /// in time order.
    pub(crate) fn push(&self, make: impl FnOnce() -> Event) {
        let mut inner = self.inner.lock();
        if inner.0.len() < self.capacity {
            let event = make();
            inner.0.push(event);
        } else {
            inner.1 += 1;
        }
    }

    pub(crate) fn take(&self) -> (Vec<Event>, u64) {
        std::mem::take(&mut *self.inner.lock())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::trace::event::Kind;

    #[test]
    fn full_buffer_drops_and_counts() {
        let buf = WorkerBuf::new(16);
        for i in 0..20 {
            // SAFETY: this thread is the only writer.
            unsafe { buf.push(Event::new(i, Kind::PollStart, i)) };
        }
        let (events, dropped) = buf.snapshot();
        assert_eq!(events.len(), 16);
        assert_eq!(dropped, 4);
        assert!(events.iter().enumerate().all(|(i, e)| e.ts == i as u64));
    }

    #[test]
    fn locked_buffer_drops_and_counts() {
        let buf = LockedBuf::new(3);
        for i in 0..5 {
            buf.push(|| Event::new(i, Kind::Wake, i));
        }
        let (events, dropped) = buf.take();
        assert_eq!((events.len(), dropped), (3, 2));
    }
}
