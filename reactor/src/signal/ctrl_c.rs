//! [`ctrl_c`]: the one signal every program wants.

use std::io;

use super::unix::{current_reactor, Signal, SignalKind};
use crate::source::shutdown_error;

/// Completes at the next `SIGINT` (Ctrl-C in the terminal).
///
/// As in tokio, the handler is installed when the future is first polled,
/// not when `ctrl_c()` is called; from then on it stays for the life of the
/// process, so a later Ctrl-C no longer ends the process by default: the
/// program decides (listen again, or exit).
///
/// # Errors
///
/// If the handler cannot be installed or the runtime's signal pipe cannot
/// be set up; once the runtime shut down.
///
/// # Panics
///
/// At the first poll outside a runtime, with a message saying how to get
/// into one.
///
/// Examples: the module docs of `weft::signal`.
pub async fn ctrl_c() -> io::Result<()> {
    let handle = current_reactor("weft::signal::ctrl_c");
    let mut signal = Signal::new(SignalKind::interrupt(), &handle)?;
    match signal.recv().await {
        Some(()) => Ok(()),
        None => Err(shutdown_error()),
    }
}
