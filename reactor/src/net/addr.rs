//! Socket addresses, with host names resolved off the runtime's threads.
//!
//! std's `ToSocketAddrs` calls `getaddrinfo` on the calling thread, which
//! may wait seconds on DNS: on a worker that stalls every task queued
//! behind it. So the sockets take [`ToSocketAddrs`], this crate's own
//! (sealed) trait, as tokio does: addresses and IP literals are used at
//! once, without allocating, and only a host name is looked up, on another
//! thread (the runtime's blocking pool when the `weft` facade installed
//! one with [`set_blocking_offload`], else a thread of its own), while the
//! task waits without blocking its worker.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use crate::sync::{Arc, Mutex};

/// What an address argument names: known addresses, or a host to look up.
#[doc(hidden)]
#[derive(Debug)]
pub enum Target {
    One(SocketAddr),
    Many(Vec<SocketAddr>),
    /// `"host:port"`, as std's `str` impl takes it.
    HostPort(String),
    Host(String, u16),
}

mod sealed {
    pub trait Sealed {
        fn target(&self) -> super::Target;
    }
}

/// Anything that names socket addresses, as std's
/// [`ToSocketAddrs`](std::net::ToSocketAddrs) does: `SocketAddr`s,
/// `(IpAddr, u16)`, `"host:port"` strings, `("host", port)`, slices of
/// addresses, and references to these. Sealed.
///
/// Unlike std's, a host name is resolved on another thread, so awaiting a
/// lookup does not block the worker thread.
pub trait ToSocketAddrs: sealed::Sealed {}

impl<T: sealed::Sealed + ?Sized> ToSocketAddrs for T {}

impl sealed::Sealed for SocketAddr {
    fn target(&self) -> Target {
        Target::One(*self)
    }
}

impl sealed::Sealed for SocketAddrV4 {
    fn target(&self) -> Target {
        Target::One((*self).into())
    }
}

impl sealed::Sealed for SocketAddrV6 {
    fn target(&self) -> Target {
        Target::One((*self).into())
    }
}

impl sealed::Sealed for (IpAddr, u16) {
    fn target(&self) -> Target {
        Target::One(SocketAddr::new(self.0, self.1))
    }
}

impl sealed::Sealed for (Ipv4Addr, u16) {
    fn target(&self) -> Target {
        Target::One(SocketAddr::new(self.0.into(), self.1))
    }
}

impl sealed::Sealed for (Ipv6Addr, u16) {
    fn target(&self) -> Target {
        Target::One(SocketAddr::new(self.0.into(), self.1))
    }
}

impl sealed::Sealed for [SocketAddr] {
    fn target(&self) -> Target {
        Target::Many(self.to_vec())
    }
}

impl sealed::Sealed for str {
    fn target(&self) -> Target {
        match self.parse() {
            Ok(addr) => Target::One(addr),
            Err(_) => Target::HostPort(self.to_owned()),
        }
    }
}

impl sealed::Sealed for String {
    fn target(&self) -> Target {
        self.as_str().target()
    }
}

impl sealed::Sealed for (&str, u16) {
    fn target(&self) -> Target {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Target::One(SocketAddr::new(ip, self.1)),
            Err(_) => Target::Host(self.0.to_owned(), self.1),
        }
    }
}

impl sealed::Sealed for (String, u16) {
    fn target(&self) -> Target {
        (self.0.as_str(), self.1).target()
    }
}

impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn target(&self) -> Target {
        (**self).target()
    }
}

/// A job for a thread that may block.
#[doc(hidden)]
pub type BlockingJob = Box<dyn FnOnce() + Send>;

/// Runs a job on a thread that may block, or gives it back.
#[doc(hidden)]
pub type BlockingOffload = fn(BlockingJob) -> Result<(), BlockingJob>;

static OFFLOAD: OnceLock<BlockingOffload> = OnceLock::new();

/// Installs where host-name lookups run: the `weft` facade passes a
/// function that hands the job to the current runtime's blocking pool (and
/// gives it back outside a runtime). The first call wins; a plain function
/// pointer holds no runtime alive. Without it, each lookup gets a thread of
/// its own. Wiring for the runtime, hidden from the docs: a second caller
/// is ignored.
#[doc(hidden)]
pub fn set_blocking_offload(offload: BlockingOffload) {
    let _ = OFFLOAD.set(offload);
}

/// Runs `job` where it may block: the installed offload, else a new thread,
/// else (the OS refused a thread) right here.
fn run_blocking(job: BlockingJob) {
    let job = match OFFLOAD.get() {
        Some(offload) => match offload(job) {
            Ok(()) => return,
            Err(job) => job,
        },
        None => job,
    };
    // The job is shared so that it is still here if the spawn fails.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(job)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("weft-resolve".into())
        .spawn(move || {
            let job = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(job) = job {
                job();
            }
        });
    if spawned.is_err() {
        let job = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(job) = job {
            job();
        }
    }
}

/// Resolves `addr`: at once for addresses, on another thread for host
/// names. Never returns an empty list.
pub(crate) async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs = match sealed::Sealed::target(&addr) {
        Target::One(a) => return Ok(vec![a]),
        Target::Many(v) => v,
        lookup => {
            let (tx, rx) = oneshot();
            run_blocking(Box::new(move || tx.send(lookup_now(lookup))));
            rx.await??
        }
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        ));
    }
    Ok(addrs)
}

/// The first address of `addr` (for `send_to`).
pub(crate) async fn resolve_one(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    if let Target::One(a) = sealed::Sealed::target(&addr) {
        return Ok(a);
    }
    Ok(resolve(addr).await?[0])
}

/// `getaddrinfo`, blocking: only ever called off the runtime's workers.
fn lookup_now(target: Target) -> io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs as _;
    match target {
        Target::One(a) => Ok(vec![a]),
        Target::Many(v) => Ok(v),
        Target::HostPort(s) => Ok(s.as_str().to_socket_addrs()?.collect()),
        Target::Host(h, port) => Ok((h.as_str(), port).to_socket_addrs()?.collect()),
    }
}

/// A one-shot channel for the lookup's answer. Everything is under one
/// mutex, so there is no ordering to get wrong: the sender stores the value
/// (or, dropped without sending, the closed flag) and takes the waker; the
/// receiver, under the same lock, takes the value or stores its waker.
/// `loom_tests::loom_lookup_answer_reaches_waiting_task` and
/// `loom_lookup_dropped_unrun_still_wakes_task` check both ends.
struct Slot<T> {
    value: Option<T>,
    closed: bool,
    waker: Option<Waker>,
}

pub(crate) struct Sender<T>(Arc<Mutex<Slot<T>>>);
pub(crate) struct Receiver<T>(Arc<Mutex<Slot<T>>>);

pub(crate) fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        closed: false,
        waker: None,
    }));
    (Sender(slot.clone()), Receiver(slot))
}

impl<T> Sender<T> {
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut slot = self.0.lock();
            slot.value = Some(value);
            slot.waker.take()
        };
        // `self` drops here: `closed` is set, harmlessly, after the value.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.lock();
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    /// The value, or an error if the sender was dropped without one (the
    /// lookup panicked, or the runtime shut its blocking pool down first).
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let mut slot = self.0.lock();
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Ok(value));
        }
        if slot.closed {
            return Poll::Ready(Err(io::Error::other(
                "the host name lookup did not finish (its thread stopped)",
            )));
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            slot.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn target(t: impl ToSocketAddrs) -> Target {
        sealed::Sealed::target(&t)
    }

    #[test]
    fn literals_need_no_lookup() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert!(matches!(target("127.0.0.1:80"), Target::One(a) if a == v4));
        assert!(matches!(target(String::from("[::1]:80")), Target::One(a) if a == v6));
        assert!(matches!(target(("::1", 80)), Target::One(a) if a == v6));
        assert!(matches!(target((v4.ip(), 80)), Target::One(a) if a == v4));
        let by_ref: &SocketAddr = &v4;
        assert!(matches!(target(by_ref), Target::One(a) if a == v4));
        assert!(matches!(target(&[v4, v6][..]), Target::Many(v) if v == [v4, v6]));
    }

    #[test]
    fn names_are_looked_up() {
        assert!(matches!(target("localhost:80"), Target::HostPort(s) if s == "localhost:80"));
        assert!(matches!(target(("localhost", 80)), Target::Host(h, 80) if h == "localhost"));
    }

    #[test]
    fn lookups_run_on_another_thread() {
        let here = std::thread::current().id();
        let (tx, rx) = std::sync::mpsc::channel();
        run_blocking(Box::new(move || {
            tx.send(std::thread::current().id()).unwrap()
        }));
        let there = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_ne!(here, there);
    }
}
