//! Unix signals on the runtime's own reactor: [`ctrl_c`] and
//! [`unix::signal`].
//!
//! # How a delivery reaches a task
//!
//! 1. At the first `signal(kind)` for a signal number, a process-wide
//!    handler is installed with `signal-hook-registry` (it chains to
//!    handlers others installed). It stays for the life of the process.
//! 2. The handler bumps the signal's delivery counter and writes one byte
//!    to the self-pipe of every runtime that listens for signals
//!    (`src/signal/globals.rs`: only async-signal-safe work, and why there
//!    is one pipe per runtime rather than one shared pipe).
//! 3. The pipe's read end is registered, edge-triggered, with the runtime's
//!    own poller under a reserved key (`SIGNAL_KEY`,
//!    `src/signal/driver.rs`); the driver turn that sees it drains the pipe
//!    and wakes every listener whose signal's counter moved past what it
//!    last reported (`src/signal/listeners.rs`: the handoff protocol and
//!    why no delivery is lost; model-checked in `src/loom_tests.rs`).
//!
//! No thread is started, per signal or at all. Each listener keeps the count
//! it has reported, so every listener in the process (several in one
//! runtime, others in other runtimes) sees each delivery, deliveries made
//! before `recv` is polled are kept, and several coalesce into one.
//!
//! A delivery needs a driver turn to be noticed: a parked worker waits in
//! the driver, busy workers take a non-blocking turn every 61 ticks, and the
//! runtime's monitor thread hands the driver to a parked worker when the one
//! that left it stays away (a task spinning on the CPU). A runtime whose
//! every worker is stuck inside one endless poll notices nothing, signals
//! included, as in tokio.

mod ctrl_c;
pub(crate) mod driver;
pub(crate) mod globals;
pub(crate) mod listeners;
pub mod unix;

pub use ctrl_c::ctrl_c;
