//! A fixed batch of wakers collected under the wheel lock and woken after it.
//!
//! Waking runs foreign code (a scheduler push, maybe an unpark syscall), and
//! dropping a waker can free a task whose future owns a `Sleep` of the same
//! timer, which would take the wheel lock again. So the wheel never wakes or
//! drops a waker while locked: it fills one of these, the caller unlocks,
//! wakes the batch, and locks again if there is more to do.
//!
//! A waker may panic (it is foreign code). The batch is woken all the same:
//! each wake runs under `catch_unwind`, and the first panic is resumed only
//! once every other waker of the batch has been woken, so one bad waker
//! cannot leave the timers that fired beside it asleep forever. The driver
//! that called us contains the resumed panic (the executor's
//! `DriverOwner::turn`) and goes on turning.

use std::task::Waker;

/// Wakers per batch. 32 keeps the batch on the stack (512 bytes) while
/// amortising the re-lock over many timers; the same figure as tokio's
/// `WakeList`.
const CAPACITY: usize = 32;

/// Up to [`CAPACITY`] wakers to wake once the wheel lock is released.
#[derive(Debug, Default)]
pub(crate) struct WakeList {
    wakers: [Option<Waker>; CAPACITY],
    len: usize,
}

impl WakeList {
    pub(crate) fn new() -> WakeList {
        WakeList::default()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == CAPACITY
    }

    /// Adds a waker. The wheel checks [`is_full`](Self::is_full) before each
    /// firing, so there is always room.
    pub(crate) fn push(&mut self, waker: Waker) {
        debug_assert!(!self.is_full());
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    /// Wakes and empties the batch. Call without the wheel lock.
    ///
    /// # Panics
    ///
    /// If a waker panicked: with the first such panic, after every other
    /// waker of the batch was woken (see the module docs).
    pub(crate) fn wake_all(&mut self) {
        let mut first_panic = None;
        for slot in &mut self.wakers[..self.len] {
            if let Some(waker) = slot.take() {
                let woken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
                if let Err(payload) = woken {
                    first_panic.get_or_insert(payload);
                }
            }
        }
        self.len = 0;
        if let Some(payload) = first_panic {
            std::panic::resume_unwind(payload);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::tests::support::WakeCounter;

    #[test]
    fn fills_up_and_wakes_everything() {
        let counter = WakeCounter::new();
        let mut list = WakeList::new();
        while !list.is_full() {
            list.push(counter.waker());
        }
        list.wake_all();
        assert_eq!(counter.count(), CAPACITY as u64);
        assert!(!list.is_full());
        list.wake_all();
        assert_eq!(counter.count(), CAPACITY as u64);
    }

    #[test]
    fn a_panicking_waker_does_not_keep_the_rest_asleep() {
        struct Bomb;
        impl std::task::Wake for Bomb {
            fn wake(self: std::sync::Arc<Self>) {
                panic!("waker exploded");
            }
        }
        let counter = WakeCounter::new();
        let mut list = WakeList::new();
        list.push(counter.waker());
        list.push(Waker::from(std::sync::Arc::new(Bomb)));
        list.push(counter.waker());
        list.push(Waker::from(std::sync::Arc::new(Bomb)));
        list.push(counter.waker());
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| list.wake_all()));
        assert!(res.is_err(), "the panic was swallowed");
        assert_eq!(counter.count(), 3);
        assert!(!list.is_full());
        // The list is empty and usable again.
        list.push(counter.waker());
        list.wake_all();
        assert_eq!(counter.count(), 4);
    }
}
