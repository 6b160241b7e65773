//! One runtime's signal listeners, and the handoff from the signal handler
//! to them (why no delivery is lost).
//!
//! # The handoff protocol
//!
//! The handler (`globals::on_signal`), for a delivery of signal `s`:
//! **H1** bumps `s`'s counter; **H2** writes a byte to the runtime's pipe.
//!
//! The runtime's driver, for the pipe's event ([`Listeners::dispatch`]):
//! **D1** drains the pipe; **D2** locks the table and, for every listener of
//! `s` whose `seen` differs from the counter, takes its waker; **D3**
//! wakes them outside the lock.
//!
//! A listener ([`Listeners::poll_recv`]): **L1** locks the table; **L2**
//! loads the counter: if it differs from `seen`, it stores the count as
//! `seen` and reports one delivery; otherwise **L3** stores its waker,
//! still under the lock, and returns `Pending`.
//!
//! H1 comes before H2, which the kernel orders before the D1 read that
//! consumes the byte (or before the edge that makes the driver run D1 at
//! all). If D2 takes the lock after L1..L3, it sees H1's count, which
//! differs from the `seen` that L2 kept, and wakes the waker L3 stored. If
//! D2 takes it before L1, then L2 comes after D2, hence after H1, and sees
//! the new count itself. Either way the delivery reaches the listener, once
//! (it then equals `seen`). The loom models in `crate::loom_tests` check
//! this with the pipe modelled as an atomic byte count.
//!
//! Shutdown ([`Listeners::shutdown`]) sets `shut_down` and takes every
//! waker under the same lock, so a listener either sees the flag at L1 or
//! had stored its waker before and is woken: `recv` then returns `None`.

use std::io;
use std::task::{Context, Poll, Waker};

use super::globals::Deliveries;
use crate::source::shutdown_error;
use crate::sync::Mutex;

/// The listeners of one runtime, behind one lock (signals are rare; the
/// lock is taken per `recv` poll and per delivery, never on an I/O path).
#[derive(Debug)]
pub(crate) struct Listeners {
    table: Mutex<Table>,
}

impl Default for Listeners {
    fn default() -> Listeners {
        Listeners {
            table: Mutex::new(Table::default()),
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    slots: Vec<Option<Listener>>,
    /// Indices of empty slots.
    free: Vec<usize>,
    /// The runtime shut down: `recv` returns `None` from now on.
    shut_down: bool,
}

#[derive(Debug)]
struct Listener {
    signum: usize,
    /// The delivery count this listener has reported (or that stood when
    /// it was created).
    seen: usize,
    waker: Option<Waker>,
}

impl Listeners {
    /// Adds a listener of `signum` that has seen `seen` deliveries; returns
    /// its id.
    ///
    /// # Errors
    ///
    /// Once the runtime shut down.
    pub(crate) fn add(&self, signum: usize, seen: usize) -> io::Result<usize> {
        let mut table = self.table.lock();
        if table.shut_down {
            return Err(shutdown_error());
        }
        let listener = Some(Listener {
            signum,
            seen,
            waker: None,
        });
        Ok(match table.free.pop() {
            Some(id) => {
                table.slots[id] = listener;
                id
            }
            None => {
                table.slots.push(listener);
                table.slots.len() - 1
            }
        })
    }

    /// Removes listener `id` (its `Signal` was dropped).
    pub(crate) fn remove(&self, id: usize) {
        let mut table = self.table.lock();
        if let Some(slot) = table.slots.get_mut(id) {
            if slot.take().is_some() {
                table.free.push(id);
            }
        }
    }

    /// L1..L3: one delivery not yet reported, `None` after shutdown, or
    /// `Pending` with the waker stored.
    pub(crate) fn poll_recv(
        &self,
        id: usize,
        deliveries: &Deliveries,
        cx: &mut Context<'_>,
    ) -> Poll<Option<()>> {
        let mut table = self.table.lock();
        if table.shut_down {
            return Poll::Ready(None);
        }
        let Some(Some(listener)) = table.slots.get_mut(id) else {
            // Not reachable through `Signal` (it owns its id until drop).
            return Poll::Ready(None);
        };
        let count = deliveries.count(listener.signum);
        if count != listener.seen {
            listener.seen = count;
            listener.waker = None;
            return Poll::Ready(Some(()));
        }
        match &mut listener.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// D2: after the pipe was drained, moves the wakers of every listener
    /// with an unreported delivery into `out` (the caller wakes them once it
    /// holds no lock).
    pub(crate) fn dispatch(&self, deliveries: &Deliveries, out: &mut Vec<Waker>) {
        let mut table = self.table.lock();
        for listener in table.slots.iter_mut().flatten() {
            if listener.waker.is_some() && deliveries.count(listener.signum) != listener.seen {
                out.extend(listener.waker.take());
            }
        }
    }

    /// Marks the table shut down and moves every waker into `out`.
    pub(crate) fn shutdown(&self, out: &mut Vec<Waker>) {
        let mut table = self.table.lock();
        table.shut_down = true;
        for listener in table.slots.iter_mut().flatten() {
            out.extend(listener.waker.take());
        }
    }

    /// Number of live listeners (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn len(&self) -> usize {
        self.table.lock().slots.iter().flatten().count()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn deliveries_coalesce_and_reach_every_listener_once() {
        let deliveries = Deliveries::new(4);
        let listeners = Listeners::default();
        let a = listeners.add(2, deliveries.count(2)).unwrap();
        let b = listeners.add(2, deliveries.count(2)).unwrap();
        let other = listeners.add(3, deliveries.count(3)).unwrap();
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(listeners.poll_recv(a, &deliveries, &mut cx).is_pending());
        assert!(listeners
            .poll_recv(other, &deliveries, &mut cx)
            .is_pending());
        // Two deliveries before anyone looks: one report each.
        deliveries.record(2);
        deliveries.record(2);
        let mut out = Vec::new();
        listeners.dispatch(&deliveries, &mut out);
        assert_eq!(
            out.len(),
            1,
            "only `a` had a waker; `other` is another signal"
        );
        assert_eq!(
            listeners.poll_recv(a, &deliveries, &mut cx),
            Poll::Ready(Some(()))
        );
        assert!(listeners.poll_recv(a, &deliveries, &mut cx).is_pending());
        assert_eq!(
            listeners.poll_recv(b, &deliveries, &mut cx),
            Poll::Ready(Some(()))
        );
        assert!(listeners
            .poll_recv(other, &deliveries, &mut cx)
            .is_pending());
        listeners.remove(b);
        assert_eq!(listeners.len(), 2);
        // Shutdown wakes the waiters; `recv` then says `None`, and nothing new
        // can be added.
        let mut out = Vec::new();
        listeners.shutdown(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            listeners.poll_recv(a, &deliveries, &mut cx),
            Poll::Ready(None)
        );
        assert!(listeners.add(2, 0).is_err());
    }
}
