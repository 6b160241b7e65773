//! Unix signals, delivered through the runtime's own reactor: [`ctrl_c`]
//! for Ctrl-C, [`unix::signal`] for any catchable signal.
//!
//! A signal's handler is installed once per process and stays; each
//! delivery is written to a self-pipe that the runtime's poller watches, so
//! no thread is started for it. Every listener in the process (in this
//! runtime or another) sees each delivery; deliveries that arrive while
//! nobody is waiting are kept, several coalescing into one.
//!
//! # Examples
//!
//! A server that stops on Ctrl-C:
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = weft::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let server = weft::spawn(async {
//!         // ... accept connections ...
//!         weft::time::sleep(Duration::from_secs(3600)).await;
//!     });
//!     # // This example types its own Ctrl-C, until someone hears it (the
//!     # // handler is installed first, so an early one cannot kill us).
//!     # let _installed = weft::signal::unix::signal(weft::signal::unix::SignalKind::interrupt());
//!     # let _typist = weft::spawn(async {
//!     #     loop {
//!     #         unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
//!     #         weft::time::sleep(Duration::from_millis(10)).await;
//!     #     }
//!     # });
//!     weft::signal::ctrl_c().await.expect("listening for Ctrl-C");
//!     println!("shutting down");
//!     server.abort();
//! });
//! ```
//!
//! Outside a runtime, `ctrl_c().await` and `signal(..)` panic with a message
//! saying how to get into one, as [`spawn`](crate::spawn) does.

pub use weft_reactor::signal::ctrl_c;

/// Unix signals by kind: [`signal`](unix::signal), [`Signal`](unix::Signal),
/// [`SignalKind`](unix::SignalKind).
///
/// # Examples
///
/// Reload on `SIGHUP`, stop on `SIGTERM`:
///
/// ```
/// use weft::signal::unix::{signal, SignalKind};
///
/// let rt = weft::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut hangup = signal(SignalKind::hangup())?;
///     let mut terminate = signal(SignalKind::terminate())?;
///     # // Stand-ins for the operator's `kill -HUP` and `kill -TERM`.
///     # unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
///     hangup.recv().await; // reload the configuration ...
///     # unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
///     terminate.recv().await; // ... and stop when asked to.
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
///
/// Kinds, and the signals that cannot be listened for:
///
/// ```
/// use std::io::ErrorKind;
/// use weft::signal::unix::{signal, SignalKind};
///
/// assert_eq!(SignalKind::terminate(), SignalKind::from_raw(libc::SIGTERM));
/// assert_eq!(SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
///
/// let rt = weft::Runtime::new().unwrap();
/// rt.block_on(async {
///     let err = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// });
/// ```
///
/// `recv` returns `None` once the runtime that created the `Signal` has
/// shut down:
///
/// ```
/// use weft::signal::unix::{signal, SignalKind};
///
/// let rt = weft::Runtime::new().unwrap();
/// let mut usr2 = rt.block_on(async { signal(SignalKind::user_defined2()) }).unwrap();
/// drop(rt);
/// let other = weft::Runtime::new().unwrap();
/// assert_eq!(other.block_on(usr2.recv()), None);
/// ```
pub mod unix {
    pub use weft_reactor::signal::unix::{signal, Signal, SignalKind};
}
