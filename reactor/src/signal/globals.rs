//! The process-wide half of weft's signals: one handler per signal number,
//! a delivery counter per signal number, and the pool of self-pipes the
//! handler writes to (one pipe per runtime that listens for signals).
//!
//! # What the handler does (and only that)
//!
//! [`on_signal`] runs in signal context, so it does only async-signal-safe
//! work: **H1** bumps the signal's counter in [`Deliveries`] (a lock-free
//! atomic), then **H2** walks the pipe list (a lock-free list that only
//! grows; nodes are never freed) and writes one byte to each pipe that a
//! runtime has checked out (`write(2)` on a non-blocking fd; a full pipe is
//! fine: its reader has a wakeup pending anyway). errno is saved and
//! restored around it by `signal-hook-registry`, and rustix's raw-syscall
//! backend does not touch errno in the first place.
//!
//! # Why one pipe per runtime, not one shared pipe
//!
//! A single pipe whose read end every runtime registers (a dup per poller)
//! looks enough, since a write raises an edge in every epoll that watches
//! it. It is not: `epoll_wait` re-checks an fd's readiness when it hands an
//! edge-triggered event out, and drops the event if the fd is no longer
//! readable. If runtime A drains the shared pipe before runtime B's driver
//! collects its event, B never hears of the signal. So each runtime checks
//! a pipe out of the pool at its first `signal()` ([`Globals::checkout_pipe`]),
//! drains it alone, and gives it back at shutdown
//! ([`Globals::release_pipe`]). Pipes are never closed: the handler may be
//! writing to one at any moment, and a closed-and-reused fd number would
//! send our byte into someone else's file.
//!
//! # Orderings: a Dekker pair of SeqCst fences
//!
//! A listener created on runtime R loads its signal's counter (`seen`,
//! [`Deliveries::count_for_new_listener`]) after R set its pipe's `in_use`
//! flag; the handler loads `in_use` after bumping the counter
//! ([`Deliveries::record`]). Each side has a SeqCst fence between its store
//! and its load: **F1** in the handler, **F2** in the listener. If F1 comes
//! first in the fences' total order, the listener's load sees the bump: the
//! delivery predates the listener, which counts it as seen. If F2 comes
//! first, the handler's load sees `in_use == true`: it writes R's pipe and
//! R's driver wakes the listener. Either way nothing is lost (a delivery is
//! never both missed and unannounced). Acquire/Release cannot express this
//! "store, then load another location" pairing. The loom model
//! `loom_signal_checkout_races_delivery` checks it.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use crate::sync::{
    fence, Acquire, AtomicBool, AtomicPtr, AtomicUsize, Mutex, OnceLock, Relaxed, Release, SeqCst,
};

/// The largest signal number weft accepts: Linux has 64 signals (`NSIG` is
/// 65, and signal 0 is not a signal); other Unixes have fewer, and their
/// `sigaction` rejects the numbers they lack.
pub(crate) const MAX_SIGNUM: usize = 64;

/// How many times each signal number was delivered since the process
/// started listening for it. A listener remembers the count it has seen;
/// any difference is a delivery it has not yet reported (several
/// deliveries coalesce into one, as the kernel coalesces pending signals).
pub(crate) struct Deliveries {
    counts: Box<[AtomicUsize]>,
}

impl Deliveries {
    /// Counters for signal numbers `0..len`.
    pub(crate) fn new(len: usize) -> Deliveries {
        Deliveries {
            counts: (0..len).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// H1: one more delivery of `signum`, then F1 (module docs,
    /// "Orderings"), so the caller's next loads of `in_use` flags are
    /// ordered after it. Async-signal-safe.
    pub(crate) fn record(&self, signum: usize) {
        // SeqCst: not needed for the Dekker pair (F1 does that), but it
        // costs nothing on a path this rare, and the counter then reads
        // the same from every thread. Wrapping on overflow is fine:
        // listeners only compare for equality.
        self.counts[signum].fetch_add(1, SeqCst);
        // F1: pairs with F2 in `count_for_new_listener`.
        fence(SeqCst);
    }

    /// Deliveries of `signum` so far. For the listener protocol
    /// (`listeners.rs`), whose lock and pipe order the loads that matter.
    pub(crate) fn count(&self, signum: usize) -> usize {
        // SeqCst: see `record`.
        self.counts[signum].load(SeqCst)
    }

    /// F2, then the count a new listener starts from: the caller's pipe
    /// was marked `in_use` before (`Globals::checkout_pipe`).
    pub(crate) fn count_for_new_listener(&self, signum: usize) -> usize {
        // F2: pairs with F1 in `record` (module docs, "Orderings").
        fence(SeqCst);
        self.count(signum)
    }
}

/// A self-pipe of the pool. Leaked once created: the handler walks the list
/// without a lock, so no node may ever be freed.
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// A runtime has checked the pipe out; the handler writes only to
    /// these. Written under the pool lock, read by the handler.
    in_use: AtomicBool,
    /// The node created before this one.
    next: Option<&'static Pipe>,
}

impl Pipe {
    /// The read end, which the runtime registers with its poller. It is
    /// never closed.
    pub(crate) fn read_end(&self) -> std::os::fd::BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Reads until the pipe is empty (`EAGAIN`); the bytes carry no
    /// meaning, the counters do.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&self.read, &mut buf) {
                Ok(n) if n == buf.len() => continue,
                Err(rustix::io::Errno::INTR) => continue,
                // Short read, EAGAIN, or (impossible: we never close the
                // write end) EOF / an error: the pipe is as empty as it gets.
                _ => return,
            }
        }
    }

    /// H2 for one pipe. Async-signal-safe.
    fn poke(&self) {
        // Any error is fine to ignore: EAGAIN means the pipe is full, so its
        // reader already has a wakeup pending; EINTR (another signal) would
        // at worst leave this delivery to be found by that signal's write.
        let _ = rustix::io::write(&self.write, &[1]);
    }
}

/// The state shared by every runtime of the process.
pub(crate) struct Globals {
    pub(crate) deliveries: Deliveries,
    /// Which signal numbers have our handler. Installed once, never removed
    /// (DESIGN.md §3a: the default action does not come back).
    installed: Mutex<[bool; MAX_SIGNUM + 1]>,
    /// Head of the pipe list; only grows, under `pool`. Read by the handler.
    pipes: AtomicPtr<Pipe>,
    /// Serialises checkout, release and growth of the pipe list.
    pool: Mutex<()>,
}

static GLOBALS: OnceLock<Globals> = OnceLock::new();

/// The process-wide state, created at the first use (never in signal
/// context: a handler is only installed after this returned).
pub(crate) fn globals() -> &'static Globals {
    GLOBALS.get_or_init(|| Globals {
        deliveries: Deliveries::new(MAX_SIGNUM + 1),
        installed: Mutex::new([false; MAX_SIGNUM + 1]),
        pipes: AtomicPtr::new(std::ptr::null_mut()),
        pool: Mutex::new(()),
    })
}

/// The signal handler proper, for `signum`: H1, then H2. Only
/// async-signal-safe work (module docs).
fn on_signal(globals: &'static Globals, signum: usize) {
    globals.deliveries.record(signum);
    // Acquire: pairs with the Release store in `checkout_pipe` that
    // publishes a new node, so its fields are visible. Ordered after H1 by
    // F1, so a node published before a new listener's F2 is seen (module
    // docs, "Orderings").
    let mut node = globals.pipes.load(Acquire);
    // SAFETY: every non-null pointer in the list came from `Box::leak` in
    // `checkout_pipe` and is never freed, and was fully initialised before
    // it was published (Release store, paired with the load above).
    while let Some(pipe) = unsafe { node.cast_const().as_ref() } {
        // Relaxed: ordered after H1 by F1 in `record` (module docs,
        // "Orderings").
        if pipe.in_use.load(Relaxed) {
            pipe.poke();
        }
        node = pipe
            .next
            .map_or(std::ptr::null_mut(), |p| std::ptr::from_ref(p).cast_mut());
    }
}

impl Globals {
    /// Installs the handler for `signum` (once per process). `signum` was
    /// checked against the forbidden list and `1..=MAX_SIGNUM`.
    pub(crate) fn install(&'static self, signum: usize) -> io::Result<()> {
        let mut installed = self.installed.lock();
        if installed[signum] {
            return Ok(());
        }
        let raw = libc::c_int::try_from(signum).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: `register` requires the action to be async-signal-safe.
        // `on_signal` does an atomic add, atomic loads, and `write(2)`
        // (module docs); it allocates nothing, takes no lock and cannot
        // panic (the index is in bounds: `signum <= MAX_SIGNUM`). The
        // forbidden signals, for which `register` would panic, were refused
        // by our caller (`SignalKind::checked`).
        unsafe { signal_hook_registry::register(raw, move || on_signal(self, signum)) }?;
        installed[signum] = true;
        Ok(())
    }

    /// Takes a pipe nobody uses, or creates one, and marks it in use.
    pub(crate) fn checkout_pipe(&'static self) -> io::Result<&'static Pipe> {
        let _pool = self.pool.lock();
        // Relaxed: the list only grows under the pool lock, which we hold.
        let head = self.pipes.load(Relaxed);
        let mut node = head;
        // SAFETY: as in `on_signal`: leaked, never freed, published whole.
        while let Some(pipe) = unsafe { node.cast_const().as_ref() } {
            // Relaxed: `in_use` is written only under the pool lock.
            if !pipe.in_use.load(Relaxed) {
                // Bytes a signal left while nobody owned it.
                pipe.drain();
                // Relaxed: ordered before the new listener's count by F2
                // (module docs, "Orderings"; the listener's thread got the
                // pipe through the reactor's OnceLock, which orders this
                // store before F2).
                pipe.in_use.store(true, Relaxed);
                return Ok(pipe);
            }
            node = pipe
                .next
                .map_or(std::ptr::null_mut(), |p| std::ptr::from_ref(p).cast_mut());
        }
        let (read, write) = new_pipe()?;
        // SAFETY: `head` is null or a leaked node (see above).
        let next = unsafe { head.cast_const().as_ref() };
        let pipe: &'static Pipe = Box::leak(Box::new(Pipe {
            read,
            write,
            in_use: AtomicBool::new(true),
            next,
        }));
        // Release: publishes the initialised node to `on_signal`.
        self.pipes
            .store(std::ptr::from_ref(pipe).cast_mut(), Release);
        Ok(pipe)
    }

    /// Gives `pipe` back to the pool. The caller deleted it from its poller.
    pub(crate) fn release_pipe(&self, pipe: &'static Pipe) {
        let _pool = self.pool.lock();
        // Relaxed: a handler that still sees `true` writes one byte nobody
        // reads; the next `checkout_pipe` drains it.
        pipe.in_use.store(false, Relaxed);
    }
}

/// A non-blocking, close-on-exec pipe.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn new_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    use rustix::pipe::PipeFlags;
    Ok(rustix::pipe::pipe_with(
        PipeFlags::NONBLOCK | PipeFlags::CLOEXEC,
    )?)
}

/// A non-blocking, close-on-exec pipe (no `pipe2` here: two more calls).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn new_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = rustix::pipe::pipe()?;
    for fd in [&read, &write] {
        rustix::io::ioctl_fionbio(fd, true)?;
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
    }
    Ok((read, write))
}
