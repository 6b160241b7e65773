//! weft's reactor: the event loop on [`polling`], non-blocking sockets, and
//! the I/O + timer driver that weft's workers turn.
//!
//! [`polling`]: https://docs.rs/polling/3
//!
//! # A tour
//!
//! | concept | here |
//! |---|---|
//! | event loop | [`Driver::park`](weft_executor::Driver::park): check timers, wait for events, fire timers, wake readers and writers |
//! | event-driven | [`Reactor`] turns readiness events from the OS into waker calls |
//! | callback | the [`Waker`](std::task::Waker) each waiting task leaves per direction |
//! | non-blocking I/O | [`Async<T>`]: a `WouldBlock` parks the task, never the thread |
//!
//! * [`Driver`] owns the [`Reactor`] and a [`weft_timer::Timer`] and
//!   implements the executor's [`Driver`](weft_executor::Driver) seam; the
//!   runtime hands it to one parked worker at a time.
//! * [`Handle`] is a cloneable reference to the reactor; [`context`] keeps
//!   the current one per thread, which is where I/O objects register.
//! * [`Async<T>`] wraps any [`AsFd`](std::os::fd::AsFd) source:
//!   `readable()`, `writable()`, `read_with`, `write_with`, and
//!   `AsyncRead`/`AsyncWrite`.
//! * [`signal`] has [`ctrl_c`](signal::ctrl_c) and
//!   [`signal::unix::signal`], on the same poller (a self-pipe per runtime).
//! * [`net`] has [`TcpListener`](net::TcpListener),
//!   [`TcpStream`](net::TcpStream), [`TcpSocket`](net::TcpSocket) (options
//!   before `listen`/`connect`), [`UdpSocket`](net::UdpSocket),
//!   [`UnixListener`](net::UnixListener) and [`UnixStream`](net::UnixStream).
//!
//! # How it works
//!
//! One `polling::Poller` per runtime. Each source is registered once,
//! edge-triggered, for both directions (why: the module docs of
//! `src/reactor.rs`, with the measured cost of the oneshot alternative). Its
//! readiness lives in one atomic word with a tick per direction, so a task
//! that clears readiness after `WouldBlock` never throws away an event that
//! arrived meanwhile, and a readable event never wakes a writer (protocol
//! and proof sketch: `src/source.rs`; model-checked with loom in
//! `src/loom_tests.rs`). A TCP read learns from the kernel (`TCP_INQ`)
//! whether it drained the socket, and a short write means a full send
//! buffer, so neither pays a syscall only to hear `EAGAIN`; a hang-up or
//! error reported with the data keeps the source ready, so a vanished peer
//! costs exactly one failed read. Sources live in a slab under
//! generation-checked keys, and are deleted from the poller before their fd
//! closes.
//!
//! Not async, by design or by std's lead: `UnixListener::bind` and
//! `TcpStream::shutdown` (as in tokio and std). Host-name resolution is
//! async: it runs on another thread (see [`net::ToSocketAddrs`]).
//!
//! # Wiring (for the runtime)
//!
//! ```no_run
//! use std::time::Duration;
//! use weft_executor::Driver as _;
//!
//! let timer = weft_timer::Timer::new();
//! let driver = weft_reactor::Driver::new(timer.clone())?;
//! // On every worker thread, for its whole life:
//! weft_reactor::context::set_current(Some(driver.handle()));
//! weft_timer::context::set_current(Some(timer.handle()));
//! // Around block_on, on the calling thread (guards restore what was there):
//! let _io = weft_reactor::context::enter(driver.handle());
//! let _time = weft_timer::context::enter(timer.handle());
//! // The worker that owns the driver while parked:
//! driver.park(None);
//! // From anywhere, to interrupt it:
//! driver.unpark();
//! // Once, when the runtime shuts down:
//! driver.shutdown();
//! # std::io::Result::Ok(())
//! ```

#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg(unix)]

mod async_io;
pub mod context;
mod driver;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
pub mod net;
mod reactor;
mod readiness;
pub mod signal;
mod slab;
mod source;
mod sync;

#[cfg(all(test, loom))]
mod loom_tests;

pub use async_io::{Async, IoSafe};
pub use context::EnterGuard;
pub use driver::{Driver, DriverStats};
pub use reactor::{Handle, Reactor};
