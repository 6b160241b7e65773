//! The typed task cell: what `Header` is the first field of.

use super::raw::{Header, Links, Vtable};
use super::state::State;
use super::{Id, JoinError};
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
pub(crate) enum Stage<T: Future> {
    Running(T),
    Finished(Result<T::Output, JoinError>),
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
    /// Drops whatever the stage holds (the future, or an output nobody will
    /// read) and leaves it `Consumed`, even if that destructor panics (the
    /// panic then propagates to the caller, which catches it).
    ///
    /// Split by variant rather than `*stage = Stage::Consumed`: since
    /// `JoinError` shrank to 16 bytes, `Stage`'s whole drop glue is no
    /// longer inlined into the poll path (callgrind, 100k spawned tasks:
    /// +41 instructions per task). Here the common cases inline just the
    /// future's or the output's destructor, and a `JoinError`'s is cold.
    ///
    /// # Safety
    ///
    /// The caller must own the stage (see the rules in `raw.rs`).
    pub(crate) unsafe fn drop_stage(&self) {
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
            Stage::Finished(_) => {
                // SAFETY: as above.
                let stage = unsafe { mem::replace(&mut *stage, Stage::Consumed) };
                if let Stage::Finished(output) = stage {
                    match output {
                        Ok(output) => drop(output),
                        Err(e) => drop_join_error(e),
                    }
                }
            }
            Stage::Consumed => {}
        }
    }

    /// Stores the task's output.
    ///
    /// # Safety
    ///
    /// The caller must own the stage, and it must be `Consumed` (so that
    /// nothing needs dropping: see `drop_stage`).
    pub(crate) unsafe fn store_finished(&self, output: Result<T::Output, JoinError>) {
        let stage = self.stage.get();
        // SAFETY: exclusive access guaranteed by the caller.
        debug_assert!(matches!(unsafe { &*stage }, Stage::Consumed));
        // SAFETY: as above; `Consumed` holds nothing to drop.
        unsafe { ptr::write(stage, Stage::Finished(output)) }
    }

    /// # Safety
    ///
    /// The caller must own the stage and it must be `Finished`.
    pub(crate) unsafe fn take_output(&self) -> Result<T::Output, JoinError> {
        // SAFETY: exclusive access guaranteed by the caller.
        let stage = unsafe { std::mem::replace(&mut *self.stage.get(), Stage::Consumed) };
        match stage {
            Stage::Finished(out) => out,
            _ => panic!("JoinHandle polled after completion"),
        }
    }
}

/// Out of line: a cancelled or panicked task's error is dropped only when
/// nobody joins it, and its destructor (the panic payload's) is not worth
/// inlining into every task's completion path.
#[cold]
#[inline(never)]
fn drop_join_error(e: JoinError) {
    drop(e);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cell_of_an_idle_task_fits_a_96_byte_chunk() {
        // An idle task parked on `pending()` (what benches/memory.rs
        // spawns). glibc's malloc serves a request of n bytes from a chunk
        // of max(32, (n + 8 + 15) & !15) bytes: a cell of at most 88 bytes
        // takes a 96-byte chunk, one of 89..=104 bytes a 112-byte chunk.
        // Today: header 40 (state 8, vtable 8, id 8, list links 16) + core
        // 32 (scheduler handle 8, stage 24: a 16-byte `Result<(), JoinError>`
        // plus the tag) + trailer 16 (join waker) = 88, down from 104 when
        // `JoinError` was 32 bytes. Every byte more costs 16 per task.
        type Pending = std::future::Pending<()>;
        let size = std::mem::size_of::<Cell<Pending, std::sync::Arc<()>>>();
        println!("task cell: {size} bytes");
        assert!(size <= 88, "task cell grew to {size} bytes");
    }

    #[test]
    fn join_error_is_two_words() {
        // It sits in every cell's output slot (`Stage::Finished`).
        assert_eq!(std::mem::size_of::<JoinError>(), 16);
        assert_eq!(std::mem::size_of::<Result<(), JoinError>>(), 16);
    }
}
