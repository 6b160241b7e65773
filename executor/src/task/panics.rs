//! Where a panicked task's payload waits until its join handle reads it.
//!
//! Not in the task cell: a cell's output slot (`Stage` in `core.rs`) would
//! need a pointer for the payload, and with it a tag word, in every task
//! ever spawned, for the rare task that panics. With the payload kept here,
//! keyed by task id, the slot's `Panicked` and `Cancelled` carry no data,
//! and `Stage` is as big as the larger of the future and its output plus a
//! tag byte: for a task parked on `pending()` it shrinks from 24 bytes (a
//! 16-byte `Result<(), JoinError>` and its tag) to 1, which is what takes
//! the cell from 88 to 72 bytes (see `core.rs`'s size test).
//!
//! Ownership follows the stage's: the thread that writes `Panicked` into a
//! stage has just [`stash`]ed the payload under the task's id, and whoever
//! later owns that stage (the join handle that reads it, or the thread that
//! drops an output nobody will read) [`take`]s it out, exactly once. Ids
//! are unique for the life of the process, so entries never collide. The
//! lock is taken only on the panic path, where unwinding has already cost
//! far more than it.
//!
//! A plain `std` mutex in a `static`, outside the `sync` facade (as the id
//! counter's atomic is, `sync::unmodelled`): loom's types cannot live in a
//! plain `static` that outlasts a model's iterations, and nothing here
//! needs modelling. The lock is held across the map operation alone, never
//! across a loom operation, and the stage's own hand-offs (which loom does
//! check) order the stash before the take.

use super::Id;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

type Payload = Box<dyn Any + Send + 'static>;

/// Payloads of panicked tasks whose output has not been read or dropped.
static PAYLOADS: Mutex<BTreeMap<u64, Payload>> = Mutex::new(BTreeMap::new());

fn payloads() -> MutexGuard<'static, BTreeMap<u64, Payload>> {
    // Nothing panics while holding the lock (the payloads' destructors run
    // after it is released), but a poisoned map is still a sound map.
    PAYLOADS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps `payload` until [`take`] asks for task `id`'s. The caller is about
/// to write `Stage::Panicked` into task `id`'s stage, which it owns.
#[cold]
#[inline(never)]
pub(super) fn stash(id: Id, payload: Payload) {
    let previous = payloads().insert(id.as_u64(), payload);
    debug_assert!(previous.is_none(), "task {id} panicked twice");
}

/// Task `id`'s payload. The caller owns a stage that says `Panicked` and
/// turns it into something else.
///
/// # Panics
///
/// If there is none: the stage said `Panicked` without a [`stash`], a bug.
#[cold]
#[inline(never)]
pub(super) fn take(id: Id) -> Payload {
    let payload = payloads().remove(&id.as_u64());
    payload.unwrap_or_else(|| panic!("task {id} panicked, but its payload is gone"))
}

/// True if task `id`'s payload is waiting here (for tests: nothing may be
/// left behind once a stage says something other than `Panicked`).
#[cfg(all(test, not(loom)))]
pub(super) fn is_held(id: Id) -> bool {
    payloads().contains_key(&id.as_u64())
}
