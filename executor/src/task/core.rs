//! The typed task cell: what `Header` is the first field of.

use super::raw::{Header, Links, Vtable};
use super::state::State;
use super::{Id, JoinError};
use std::cell::UnsafeCell;
use std::future::Future;
use std::task::Waker;

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
    /// # Safety
    ///
    /// The caller must own the stage (see the rules in `raw.rs`).
    pub(crate) unsafe fn set_stage(&self, stage: Stage<T>) {
        // SAFETY: exclusive access guaranteed by the caller.
        unsafe { *self.stage.get() = stage }
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cell_of_an_idle_task_is_small() {
        // An idle task parked on `pending()`: the memory target is at most
        // 128 bytes per task (RSS), and glibc's malloc adds 8 bytes and
        // rounds to 16: at 104 bytes the cell takes a 112-byte chunk,
        // leaving room for the allocator's and the list's overheads.
        type Pending = std::future::Pending<()>;
        let size = std::mem::size_of::<Cell<Pending, std::sync::Arc<()>>>();
        println!("task cell: {size} bytes");
        assert!(size <= 104, "task cell grew to {size} bytes");
    }
}
