//! weft's timer: a hierarchical timing wheel and the [`Sleep`], [`Timeout`]
//! and [`Interval`] futures built on it.
//!
//! # A short tour
//!
//! * **The futures.** [`sleep`] / [`sleep_until`] complete at a deadline,
//!   [`timeout`] / [`timeout_at`] bound another future, [`interval`] /
//!   [`interval_at`] tick at a period with a [`MissedTickBehavior`]. They take
//!   the thread's current timer from [`context`] when created (the runtime
//!   sets it on its workers and in `block_on`) and can be polled anywhere.
//!   The facade crate re-exports them as `weft::time`.
//! * **Exact deadlines.** A timer never fires early, and keeps its exact
//!   deadline (to the nanosecond) rather than rounding to the wheel's 1 ms
//!   tick, so a driver that sleeps until [`Timer::next_deadline`] fires it
//!   well under a millisecond late.
//! * **Cheap in the common case.** A `Sleep` allocates and locks nothing
//!   until its first poll returns `Pending`, so `timeout(d, ready_future)`
//!   costs a handle clone. A registered timer is one allocation (its entry),
//!   reused when it is re-armed. Moving a deadline later (`Sleep::reset`, an
//!   `Interval` tick) takes no lock.
//! * **The wheel** (`wheel/`): six levels of 64 slots, 1 ms per level-0 slot,
//!   occupancy bitmaps to find the next slot in a few instructions, O(1)
//!   insert and cancel, cascading as time advances, and a small exact-order
//!   queue for the entries due in the current tick.
//! * **The entry** (`entry/`): one atomic word holds the true deadline and
//!   the registered / fired / cancelled / registering bits, so firing can race
//!   cancellation and waker replacement safely; loom checks those races.
//! * **The driver** owns a [`Timer`]: it asks for the next deadline, blocks
//!   until then (interrupted through [`Timer::set_unpark`] when an earlier
//!   timer arrives), and calls [`Timer::process_at`]. See [`Timer`] for the
//!   exact protocol.
//!
//! # Driving a timer by hand
//!
//! ```
//! # if weft_timer::__BUILT_WITH_LOOM { return; } // loom types need a model
//! use std::future::Future;
//! use std::task::Context;
//! use std::time::{Duration, Instant};
//! use weft_timer::{context, Timer};
//! # use std::sync::Arc;
//! # use std::task::{Wake, Waker};
//! # struct Noop;
//! # impl Wake for Noop { fn wake(self: Arc<Self>) {} }
//! # let waker = Waker::from(Arc::new(Noop));
//! # let mut cx = Context::from_waker(&waker);
//!
//! let timer = Timer::new();
//! let _guard = context::enter(timer.handle());
//!
//! let start = Instant::now();
//! let mut short = Box::pin(weft_timer::sleep_until(start + Duration::from_millis(5)));
//! let mut long = Box::pin(weft_timer::sleep_until(start + Duration::from_secs(5)));
//! assert!(short.as_mut().poll(&mut cx).is_pending());
//! assert!(long.as_mut().poll(&mut cx).is_pending());
//!
//! assert_eq!(timer.next_deadline(), Some(start + Duration::from_millis(5)));
//! assert_eq!(timer.process_at(start + Duration::from_millis(5)), 1);
//! assert!(short.as_mut().poll(&mut cx).is_ready());
//! assert!(long.as_mut().poll(&mut cx).is_pending());
//!
//! drop(long); // cancels it
//! assert!(timer.is_empty());
//! ```

pub mod context;
mod entry;
mod interval;
mod sleep;
mod sync;
mod timeout;
mod timer;
mod wake_list;
mod wheel;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

pub use crate::interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use crate::sleep::{sleep, sleep_until, Sleep};
pub use crate::timeout::{timeout, timeout_at, Elapsed, Timeout};
pub use crate::timer::{Handle, Timer};

/// Whether this build swapped the concurrency primitives for loom's
/// (`--cfg loom`). The doc examples check it and return early: loom types
/// only work inside a loom model, and rustdoc builds examples without the cfg.
#[doc(hidden)]
pub const __BUILT_WITH_LOOM: bool = cfg!(loom);
