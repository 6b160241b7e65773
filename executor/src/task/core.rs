//! The typed task cell: what `Header` is the first field of.

use super::raw::{Header, Links, Vtable};
use super::state::State;
use super::{panics, Id, JoinError};
use std::cell::UnsafeCell;
use std::future::Future;
use std::task::Waker;
use std::{mem, ptr};

/// One task, in one allocation. `#[repr(C)]` so that a pointer to the cell
/// is a pointer to its header.
#[repr(C)]
pub(crate) struct Cell<T: Future, S> {
    pub(crate) header: Header,
    pub(crate) core: Core<T, S>,
    pub(crate) trailer: Trailer,
}

pub(crate) struct Core<T: Future, S> {
    pub(crate) scheduler: S,
    pub(crate) stage: UnsafeCell<Stage<T>>,
}

/// What the cell holds over the task's life.
///
/// The failures carry no data: a panic's payload waits in `panics.rs`
/// under the task's id, and the `JoinError` (which carries the id) is built
/// only when the join handle reads the stage. So the stage is as big as the
/// larger of the future and its output plus a tag byte (rounded up to
/// their alignment): one byte for a task parked on `pending()`, where a
/// pointer-sized payload would cost a word for it and one for the tag
/// (see the size test below).
pub(crate) enum Stage<T: Future> {
    Running(T),
    Finished(T::Output),
    /// The future was dropped before it finished: abort or shutdown.
    Cancelled,
    /// The future, or its destructor, panicked; the payload is in `panics`.
    Panicked,
    Consumed,
}

/// Cold data, touched only by the join handle and at completion.
pub(crate) struct Trailer {
    pub(crate) waker: UnsafeCell<Option<Waker>>,
}

impl<T: Future, S> Cell<T, S> {
    pub(crate) fn new(future: T, scheduler: S, id: Id, vtable: &'static Vtable) -> Cell<T, S> {
        Cell {
            header: Header {
                state: State::new(),
                vtable,
                id,
                links: UnsafeCell::new(Links::default()),
            },
            core: Core {
                scheduler,
                stage: UnsafeCell::new(Stage::Running(future)),
            },
            trailer: Trailer {
                waker: UnsafeCell::new(None),
            },
        }
    }
}

impl<T: Future, S> Core<T, S> {
    /// Drops whatever the stage holds (the future, or an output or a panic
    /// payload nobody will read) and leaves it `Consumed`, even if that
    /// destructor panics (the panic then propagates to the caller, which
    /// catches it). `id` is the task's: it finds a panic payload.
    ///
    /// Split by variant rather than `*stage = Stage::Consumed`, so that the
    /// common cases inline just the future's or the output's destructor,
    /// and a panic payload's is cold (callgrind, 100k spawned tasks: the
    /// whole drop glue of `Stage` cost +41 instructions per task).
    ///
    /// # Safety
    ///
    /// The caller must own the stage (see the rules in `raw.rs`).
    pub(crate) unsafe fn drop_stage(&self, id: Id) {
        /// Writes `Consumed` over a stage whose content was dropped in
        /// place, on the way out of a panicking destructor too.
        struct Consume<T: Future>(*mut Stage<T>);
        impl<T: Future> Drop for Consume<T> {
            fn drop(&mut self) {
                // SAFETY: the content was dropped (or is being unwound out
                // of its destructor), so overwriting it leaks nothing; the
                // stage is owned by whoever created this guard.
                unsafe { ptr::write(self.0, Stage::Consumed) }
            }
        }

        let stage = self.stage.get();
        // SAFETY: exclusive access guaranteed by the caller.
        match unsafe { &mut *stage } {
            Stage::Running(future) => {
                let consume = Consume(stage);
                // SAFETY: the future is dropped once, here, and the guard
                // makes the stage `Consumed` before anyone can look again.
                unsafe { ptr::drop_in_place(future) };
                drop(consume);
            }
            Stage::Finished(output) => {
                let consume = Consume(stage);
                // SAFETY: as above, for the output.
                unsafe { ptr::drop_in_place(output) };
                drop(consume);
            }
            Stage::Panicked => {
                // SAFETY: as above; `Panicked` holds nothing in the cell.
                unsafe { ptr::write(stage, Stage::Consumed) };
                drop_payload(id);
            }
            Stage::Cancelled => {
                // SAFETY: as above; `Cancelled` holds nothing.
                unsafe { ptr::write(stage, Stage::Consumed) };
            }
            Stage::Consumed => {}
        }
    }

    /// Stores how the task ended: `Finished`, `Cancelled` or `Panicked`
    /// (whose payload the caller stashed in `panics` first).
    ///
    /// # Safety
    ///
    /// The caller must own the stage, and it must be `Consumed` (so that
    /// nothing needs dropping: see `drop_stage`).
    pub(crate) unsafe fn store_end(&self, end: Stage<T>) {
        debug_assert!(!matches!(end, Stage::Running(_) | Stage::Consumed));
        let stage = self.stage.get();
        // SAFETY: exclusive access guaranteed by the caller.
        debug_assert!(matches!(unsafe { &*stage }, Stage::Consumed));
        // SAFETY: as above; `Consumed` holds nothing to drop.
        unsafe { ptr::write(stage, end) }
    }

    /// The task's output, or the error it ended with (task `id`'s).
    ///
    /// # Safety
    ///
    /// The caller must own the stage, and the task must have completed.
    ///
    /// # Panics
    ///
    /// If the output was already taken.
    pub(crate) unsafe fn take_output(&self, id: Id) -> Result<T::Output, JoinError> {
        // SAFETY: exclusive access guaranteed by the caller.
        let stage = unsafe { mem::replace(&mut *self.stage.get(), Stage::Consumed) };
        match stage {
            Stage::Finished(output) => Ok(output),
            Stage::Cancelled => Err(JoinError::cancelled(id)),
            Stage::Panicked => Err(JoinError::panic(id, panics::take(id))),
            Stage::Running(_) | Stage::Consumed => panic!("JoinHandle polled after completion"),
        }
    }
}

/// Out of line: a panicked task's payload is dropped here only when nobody
/// joins it, and its destructor is not worth inlining into every task's
/// completion path.
#[cold]
#[inline(never)]
fn drop_payload(id: Id) {
    drop(panics::take(id));
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cell_of_an_idle_task_fits_an_80_byte_chunk() {
        // An idle task parked on `pending()` (what benches/memory.rs
        // spawns). glibc's malloc serves a request of n bytes from a chunk
        // of max(32, (n + 8 + 15) & !15) bytes: a cell of at most 72 bytes
        // takes an 80-byte chunk, one of 73..=88 bytes a 96-byte chunk.
        // Today: header 40 (state 8, vtable 8, id 8, list links 16) + core
        // 16 (scheduler handle 8, stage 1: the future and its output are
        // empty, the failures carry no data, padded to 8) + trailer 16
        // (join waker) = 72, down from 88 when the stage held a 16-byte
        // `Result<(), JoinError>` plus its tag, and 104 when `JoinError`
        // was 32 bytes. Every byte more costs 16 per task.
        type Pending = std::future::Pending<()>;
        let size = std::mem::size_of::<Cell<Pending, std::sync::Arc<()>>>();
        println!("task cell: {size} bytes");
        assert!(size <= 72, "task cell grew to {size} bytes");
        assert_eq!(std::mem::size_of::<Stage<Pending>>(), 1);
    }

    #[test]
    fn join_error_is_two_words() {
        // Built when a join handle reads a failed task's stage, and
        // returned through `Poll<Result<T, JoinError>>`: small to move.
        assert_eq!(std::mem::size_of::<JoinError>(), 16);
        assert_eq!(std::mem::size_of::<Result<(), JoinError>>(), 16);
    }
}
