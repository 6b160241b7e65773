//! Unix signals as a stream of deliveries: [`signal`], [`Signal`],
//! [`SignalKind`].

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use libc::c_int;

use super::globals::{globals, MAX_SIGNUM};
use crate::{context, Handle};

/// A kind of Unix signal, by number. The constructors name the ones a
/// server listens for; [`from_raw`](SignalKind::from_raw) takes any number.
///
/// Examples: the module docs of `weft::signal::unix`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(c_int);

impl SignalKind {
    /// The signal with number `signum`, as in `kill -<signum>`. Whether it
    /// can be listened for is decided by [`signal`].
    pub const fn from_raw(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> c_int {
        self.0
    }

    /// `SIGINT`: Ctrl-C in the terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: a polite request to stop (`kill`, systemd, Kubernetes).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; daemons take it as "reload".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in the terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process exited or stopped.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGPIPE`: a write to a pipe or socket whose reader is gone (Rust
    /// programs ignore it by default; the write fails with `BrokenPipe`).
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGWINCH`: the terminal was resized.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// The signal number as an index into the counters, or why it cannot be
    /// listened for.
    fn checked(self) -> io::Result<usize> {
        let forbidden = match self.0 {
            libc::SIGKILL => Some("SIGKILL"),
            libc::SIGSTOP => Some("SIGSTOP"),
            libc::SIGSEGV => Some("SIGSEGV"),
            libc::SIGBUS => Some("SIGBUS"),
            libc::SIGFPE => Some("SIGFPE"),
            libc::SIGILL => Some("SIGILL"),
            _ => None,
        };
        if let Some(name) = forbidden {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "signal {} ({name}) cannot be listened for: the OS does not let it be \
                     caught, or the process cannot safely continue after it",
                    self.0
                ),
            ));
        }
        match usize::try_from(self.0) {
            Ok(n @ 1..=MAX_SIGNUM) => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a signal number (1..={MAX_SIGNUM})", self.0),
            )),
        }
    }
}

impl From<c_int> for SignalKind {
    fn from(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for c_int {
    fn from(kind: SignalKind) -> c_int {
        kind.0
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            libc::SIGHUP => "SIGHUP",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGALRM => "SIGALRM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGWINCH => "SIGWINCH",
            _ => return write!(f, "SignalKind({})", self.0),
        };
        write!(f, "SignalKind({name})")
    }
}

/// Listens for `kind` on the current runtime: every delivery of the
/// signal to the process from now on is reported by [`Signal::recv`].
///
/// The process-wide handler is installed by this call (not at the first
/// `recv`) and stays for the life of the process: the signal's default
/// action (for `SIGINT` and `SIGTERM`, ending the process) does not come
/// back when the `Signal` is dropped. Other listeners, in this runtime or
/// any other, each see every delivery; handlers that other libraries
/// installed through `signal-hook-registry` keep running too.
///
/// Deliveries are noticed by the runtime's reactor (a self-pipe registered
/// with its poller): no extra thread.
///
/// # Errors
///
/// `InvalidInput` for a signal that cannot be listened for: `SIGKILL` and
/// `SIGSTOP` (the OS forbids it), `SIGSEGV`, `SIGBUS`, `SIGFPE` and
/// `SIGILL` (the process cannot safely go on after them), and numbers that
/// are not signals. An error from `sigaction(2)` or from creating the pipe;
/// an error once the runtime shut down.
///
/// # Panics
///
/// Outside a runtime, with a message saying how to get into one.
///
/// Examples: the module docs of `weft::signal::unix`.
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let handle = current_reactor("weft::signal::unix::signal");
    Signal::new(kind, &handle)
}

/// The current reactor, or a panic that says how to get one.
#[track_caller]
pub(super) fn current_reactor(api: &str) -> Handle {
    match context::try_current() {
        Some(handle) => handle,
        None => outside_runtime(api),
    }
}

#[cold]
#[track_caller]
fn outside_runtime(api: &str) -> ! {
    panic!(
        "`{api}` was called outside a weft runtime: call it from inside a task, from inside \
         `Runtime::block_on`, or after `Runtime::enter()`"
    )
}

/// A stream of deliveries of one signal; see [`signal`].
///
/// Deliveries that arrive while nobody awaits [`recv`](Signal::recv) are
/// kept, and several of them coalesce into one (as the kernel coalesces a
/// pending signal): `recv` reports "at least once since the last `recv`".
/// `Send + Sync + Unpin`.
pub struct Signal {
    handle: Handle,
    kind: SignalKind,
    id: usize,
}

impl Signal {
    pub(super) fn new(kind: SignalKind, handle: &Handle) -> io::Result<Signal> {
        let signum = kind.checked()?;
        let globals = globals();
        // The runtime's pipe first, so that a delivery after the count
        // below reaches it (see `globals`, "Orderings").
        let signals = handle.reactor().signals()?;
        let seen = globals.deliveries.count_for_new_listener(signum);
        let id = signals.listeners.add(signum, seen)?;
        let signal = Signal {
            handle: handle.clone(),
            kind,
            id,
        };
        // Dropping `signal` on error removes the listener again.
        globals.install(signum)?;
        Ok(signal)
    }

    /// Waits for the next delivery. `None` once the runtime that created
    /// this `Signal` shut down; never otherwise.
    ///
    /// Cancel safe: dropping the future loses no delivery.
    ///
    /// Examples: the module docs of `weft::signal::unix`.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery, for code that implements its own
    /// futures or streams: `Ready(Some(()))` for a delivery,
    /// `Ready(None)` after shutdown, `Pending` with the waker stored (only
    /// the last waker given is woken).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        match self.handle.reactor().signals_if_set() {
            Some(signals) => signals
                .listeners
                .poll_recv(self.id, &globals().deliveries, cx),
            // Not reachable: `new` set them up before `self` existed.
            None => Poll::Ready(None),
        }
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        if let Some(signals) = self.handle.reactor().signals_if_set() {
            signals.listeners.remove(self.id);
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
