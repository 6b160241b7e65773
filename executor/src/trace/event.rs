//! One recorded event: 24 bytes, `Copy`, no pointers.
//!
//! ```text
//! ts    u64  nanoseconds since the recording started (one `Instant` clock)
//! task  u64  a task id (`Id::as_u64`), or a packed count (see `Kind`)
//! a     u32  a small argument (victim worker, I/O events, wakes)
//! kind  u8   what happened
//! flag  u8   a sub-kind (who woke, how a task ended, where a worker parked)
//! ```
//!
//! At the default 1,048,576 events per worker that is 24 MiB per worker at
//! most (the OS commits the pages only as events fill them).

/// What an event records. The meaning of `task`, `a` and `flag` per kind is
/// on each variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A poll begins (`task`). Every `Notified::run` on a worker, LIFO-slot
    /// polls included: one per `poll_count` increment.
    PollStart = 1,
    /// The poll of `task` returned.
    PollEnd,
    /// `task` was spawned; `flag` is a [`By`] (a spawn on a worker during a
    /// poll is by the polled task).
    Spawn,
    /// `task` was woken (queued to run); `flag` is a [`By`].
    Wake,
    /// This worker stole `task` tasks (a packed count) from worker `a`.
    Steal,
    /// The worker parks; `flag`: [`PARK_CONDVAR`] or [`PARK_DRIVER`].
    Park,
    /// The worker is back from parking.
    Unpark,
    /// A driver turn begins; `flag` 1 if it may block.
    DriverStart,
    /// A driver turn ends: `task` = timers fired << 32 | I/O events,
    /// `a` = tasks woken (counted by the trace when the driver cannot say).
    DriverEnd,
    /// A blocking-pool job (`task`) starts.
    BlockingStart,
    /// The blocking-pool job `task` returned.
    BlockingEnd,
    /// `task` ended; `flag` is a [`TaskEnd`].
    TaskEnd,
    /// Long-poll detection (`trace::on_long_poll`): worker `a` has been
    /// polling `task` for too long. On the other-threads buffer, drawn on
    /// the worker's lane.
    LongPoll,
}

/// Who caused a spawn or a wake (the `flag` of `Spawn` and `Wake`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum By {
    /// A worker of this runtime (the enclosing poll's task, if any).
    Worker = 0,
    /// The task woke itself during its poll (`yield_now`, coop budget).
    Yield,
    /// A driver turn (timers, I/O).
    Driver,
    /// A thread outside the workers (`block_on`, other threads).
    Thread,
}

impl By {
    pub(crate) fn name(flag: u8) -> &'static str {
        match flag {
            0 => "worker",
            1 => "yield",
            2 => "driver",
            _ => "thread",
        }
    }
}

/// How a task ended (the `flag` of `TaskEnd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum TaskEnd {
    /// Its future returned `Ready`.
    Completed = 0,
    /// Aborted or shut down before completing.
    Cancelled,
    /// Its future (or its destructor) panicked.
    Panicked,
}

impl TaskEnd {
    pub(crate) fn name(flag: u8) -> &'static str {
        match flag {
            0 => "completed",
            1 => "cancelled",
            _ => "panicked",
        }
    }
}

pub(crate) const PARK_CONDVAR: u8 = 0;
pub(crate) const PARK_DRIVER: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) ts: u64,
    pub(crate) task: u64,
    pub(crate) a: u32,
    pub(crate) kind: Kind,
    pub(crate) flag: u8,
}

impl Event {
    pub(crate) fn new(ts: u64, kind: Kind, task: u64) -> Event {
        Event {
            ts,
            task,
            a: 0,
            kind,
            flag: 0,
        }
    }

    pub(crate) fn flag(mut self, flag: u8) -> Event {
        self.flag = flag;
        self
    }

    pub(crate) fn arg(mut self, a: u32) -> Event {
        self.a = a;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_is_compact() {
        assert_eq!(std::mem::size_of::<Event>(), 24);
    }
}
