//! [`Sleep`]: a future that completes at a deadline.
//!
//! # Life of a `Sleep`
//!
//! ```text
//!   Idle ──poll, deadline ahead──▶ Armed ──poll sees FIRED──▶ Done
//!    │  (allocate entry once,        │  (lock-free waker
//!    │   lock, insert)               │   registration)
//!    └──poll, deadline passed──────────────────────────────▶ Done
//!
//!   reset: Done/Idle ──▶ Idle (re-armed lazily by the next poll)
//!          Armed, later deadline ──▶ Armed (lock-free `try_extend`)
//!          Armed, earlier deadline ──▶ Armed (re-filed under the lock)
//! ```
//!
//! Creating a `Sleep` takes no lock and allocates nothing: a `Timeout` whose
//! future is ready at its first poll never touches the wheel. The first
//! `Pending` poll allocates the entry (the timer's only allocation, reused by
//! later re-arms) and files it under the wheel lock. Dropping an armed,
//! unfired `Sleep` cancels it under the lock.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use weft_executor::coop;

use crate::context;
use crate::entry::Entry;
use crate::sync::Arc;
use crate::timer::{Handle, SHUT_DOWN_MESSAGE};
use crate::wheel::{Insert, Reschedule};

/// Waits until `duration` has elapsed.
///
/// Equivalent to `sleep_until(Instant::now() + duration)`; a duration too
/// large to add to the clock sleeps until the far future (about 30 years).
///
/// # Panics
///
/// Panics if called outside a weft runtime: call it inside a task, inside
/// `Runtime::block_on`, or after `Runtime::enter`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # weft::Runtime::new().unwrap().block_on(async {
/// weft::time::sleep(Duration::from_millis(100)).await;
/// println!("100 ms have elapsed");
/// # });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let handle = context::current_for("weft::time::sleep");
    Sleep::new(handle, deadline_after(duration))
}

/// Waits until `deadline`.
///
/// # Panics
///
/// Panics if called outside a weft runtime: call it inside a task, inside
/// `Runtime::block_on`, or after `Runtime::enter`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// # weft::Runtime::new().unwrap().block_on(async {
/// let deadline = Instant::now() + Duration::from_millis(100);
/// weft::time::sleep_until(deadline).await;
/// assert!(Instant::now() >= deadline); // never early
/// # });
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    let handle = context::current_for("weft::time::sleep_until");
    Sleep::new(handle, deadline)
}

/// `Instant::now() + duration`, or the far future if that overflows.
pub(crate) fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration).unwrap_or_else(|| far_future(now))
}

/// About 30 years from `now`: "never" for any practical purpose, yet still
/// representable as an `Instant` on every platform.
pub(crate) fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(86_400 * 365 * 30)
}

/// Where a [`Sleep`] is in its life (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Not registered for the current deadline.
    Idle,
    /// Registered (the entry may have fired since).
    Armed,
    /// Completed for the current deadline.
    Done,
}

/// A future that completes at a deadline; created by [`sleep`] and
/// [`sleep_until`].
///
/// A `Sleep` never completes before its deadline. It may be polled on any
/// thread, and moved between polls. Polling it spends one unit of the task's
/// cooperative budget.
///
/// # Panics
///
/// Polling panics once the runtime that owns its timer has shut down.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    handle: Handle,
    deadline: Instant,
    /// Allocated on the first `Pending` poll, then reused.
    entry: Option<Arc<Entry>>,
    stage: Stage,
}

impl Sleep {
    /// A sleep until `deadline` on the timer of `handle`. No lock, no
    /// allocation.
    pub(crate) fn new(handle: Handle, deadline: Instant) -> Sleep {
        Sleep {
            handle,
            deadline,
            entry: None,
            stage: Stage::Idle,
        }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the sleep has completed: a poll returned (or would return)
    /// `Ready` for the current deadline. Does not read the clock: a sleep
    /// whose deadline passed but that the timer has not fired yet, and that
    /// no poll has seen, reports `false`.
    pub fn is_elapsed(&self) -> bool {
        match self.stage {
            Stage::Idle => false,
            Stage::Done => true,
            Stage::Armed => self.armed_entry().state().is_fired(),
        }
    }

    /// Moves the deadline to `deadline`, whether or not the sleep completed;
    /// it then completes at the new deadline.
    ///
    /// Moving a registered deadline later takes no lock: the entry keeps its
    /// place in the wheel and is filed again when that place comes due.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// # weft::Runtime::new().unwrap().block_on(async {
    /// let mut sleep = Box::pin(weft::time::sleep(Duration::from_millis(10)));
    /// let later = Instant::now() + Duration::from_millis(50);
    /// sleep.as_mut().reset(later);
    /// sleep.await;
    /// assert!(Instant::now() >= later);
    /// # });
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().reset_to(deadline);
    }

    /// [`reset`](Self::reset) for callers that hold `&mut Sleep`.
    pub(crate) fn reset_to(&mut self, deadline: Instant) {
        self.deadline = deadline;
        match self.stage {
            Stage::Idle => {}
            Stage::Done => self.stage = Stage::Idle,
            Stage::Armed => self.reset_armed(),
        }
    }

    /// The timer handle this sleep belongs to.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    fn armed_entry(&self) -> &Arc<Entry> {
        self.entry.as_ref().expect("an armed sleep has an entry")
    }

    /// `reset` of a registered sleep.
    fn reset_armed(&mut self) {
        let inner = &self.handle.inner;
        let deadline = inner.ns(self.deadline);
        let entry = self.armed_entry();
        // Hot path: later, no lock.
        if entry.try_extend(deadline) {
            return;
        }
        if entry.state().is_fired() {
            // Done with the old deadline; the next poll re-arms the entry.
            self.stage = Stage::Idle;
            return;
        }
        // Earlier: the wheel must re-file it.
        // SAFETY: we own the entry and it belongs to this handle's timer.
        let outcome = unsafe { inner.lock().reschedule(entry, deadline) };
        match outcome {
            Reschedule::Filed(unpark) => {
                if let Some(unpark) = unpark {
                    unpark();
                }
            }
            // Due already: it fired; the stored waker learns of it.
            Reschedule::Fired(waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            // It fired at the old deadline, after the new one: still right.
            Reschedule::NotRegistered => {}
        }
    }

    /// Registers an idle sleep; returns `true` if its deadline already passed.
    #[cold]
    fn arm(&mut self, waker: &Waker) -> bool {
        if self.deadline <= Instant::now() {
            return true;
        }
        let inner = &self.handle.inner;
        let deadline = inner.ns(self.deadline);
        let entry = self.entry.get_or_insert_with(|| Arc::new(Entry::new()));
        // SAFETY: we own the entry, it belongs to this handle's timer (a sleep
        // never changes timer), and it is not registered (stage Idle).
        let outcome = unsafe { inner.lock().insert(entry, deadline, waker) };
        match outcome {
            Insert::Filed(unpark) => {
                self.stage = Stage::Armed;
                if let Some(unpark) = unpark {
                    unpark();
                }
                false
            }
            Insert::Elapsed => true,
            Insert::ShutDown => panic!("{SHUT_DOWN_MESSAGE}"),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.handle.inner.assert_running();
        let mut coop = ready!(coop::poll_proceed(cx));
        let elapsed = match this.stage {
            Stage::Done => true,
            Stage::Armed => this.armed_entry().register_waker(cx.waker()),
            Stage::Idle => this.arm(cx.waker()),
        };
        if elapsed {
            this.stage = Stage::Done;
            coop.made_progress();
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if self.stage != Stage::Armed {
            return;
        }
        let entry = self.armed_entry();
        // Fired (or shut down): the wheel let go already, no lock needed.
        if !entry.state().is_registered() {
            return;
        }
        // SAFETY: we own the entry and it belongs to this handle's timer.
        let waker = unsafe { self.handle.inner.lock().cancel(entry) };
        // Dropped here, after the lock: it may run foreign code.
        drop(waker);
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}
