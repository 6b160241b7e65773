//! The signal part of one runtime's reactor: the pipe it checked out of the
//! process-wide pool, registered with its poller, and its listeners.
//!
//! Lifetime: created at the runtime's first `signal()` call
//! ([`Reactor::signals`](crate::Reactor)); the pipe goes back to the pool
//! when the runtime shuts down or, if it never did, when the reactor is
//! dropped. Before it goes back it is deleted from the poller (the pipe
//! itself is never closed, see `globals`).

use std::io;
use std::task::Waker;

use polling::{Event, PollMode, Poller};

use super::globals::{globals, Pipe};
use super::listeners::Listeners;
use crate::sync::Mutex;

/// The poller key of the signal pipe. Its low 24 bits (the slab's index
/// field, `crate::slab::INDEX_BITS`) are all ones, an index the slab never
/// hands out, and it differs from `usize::MAX`, which polling keeps for its
/// own notifications; so no source's event can carry it.
pub(crate) const SIGNAL_KEY: usize = usize::MAX >> 1;

pub(crate) struct RuntimeSignals {
    pipe: &'static Pipe,
    pub(crate) listeners: Listeners,
    /// The pipe is still ours and registered with the poller.
    registered: Mutex<bool>,
}

impl RuntimeSignals {
    /// Checks a pipe out and registers its read end with `poller`.
    pub(crate) fn new(poller: &Poller) -> io::Result<RuntimeSignals> {
        let globals = globals();
        let pipe = globals.checkout_pipe()?;
        // SAFETY: polling requires the fd to stay open until it is deleted
        // from the poller. The pipe's read end is never closed (pool pipes
        // are leaked, `globals` module docs), and `release` deletes it
        // before the pipe can be checked out by another runtime.
        let added = unsafe {
            poller.add_with_mode(
                &pipe.read_end(),
                Event::readable(SIGNAL_KEY),
                PollMode::Edge,
            )
        };
        if let Err(e) = added {
            globals.release_pipe(pipe);
            return Err(e);
        }
        Ok(RuntimeSignals {
            pipe,
            listeners: Listeners::default(),
            registered: Mutex::new(true),
        })
    }

    /// The pipe's event: D1 and D2 of the handoff (`listeners` module docs).
    pub(crate) fn on_event(&self, out: &mut Vec<Waker>) {
        self.pipe.drain();
        self.listeners.dispatch(&globals().deliveries, out);
    }

    /// Runtime shutdown: every listener's `recv` returns `None`, and the
    /// pipe goes back to the pool.
    pub(crate) fn shutdown(&self, poller: &Poller, out: &mut Vec<Waker>) {
        self.listeners.shutdown(out);
        self.release(poller);
    }

    /// Deletes the pipe from `poller` and returns it to the pool, once.
    pub(crate) fn release(&self, poller: &Poller) {
        let mut registered = self.registered.lock();
        if std::mem::take(&mut *registered) {
            // Fails only if the fd was never added, which `new` rules out.
            let deleted = poller.delete(self.pipe.read_end());
            debug_assert!(deleted.is_ok(), "poller.delete failed: {deleted:?}");
            globals().release_pipe(self.pipe);
        }
    }
}

impl std::fmt::Debug for RuntimeSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeSignals")
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}
