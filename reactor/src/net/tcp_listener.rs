//! [`TcpListener`]: accepting TCP connections.
//!
//! `bind` listens with a backlog of [`DEFAULT_BACKLOG`] (1024), or
//! `net.core.somaxconn` if that is lower, as tokio (mio) does; std's
//! `TcpListener::bind` uses 128, which a burst of new connections
//! overflows (the kernel then drops SYNs, and each dropped client retries a
//! second later).

use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use super::tcp_inq;
use super::TcpStream;
use super::{addr, sys, TcpSocket, ToSocketAddrs};
use crate::readiness::Direction;
use crate::sync::OnceLock;
use crate::{context, Async, Handle};

/// The listen backlog of [`TcpListener::bind`]: tokio's (mio's) value, and
/// what Go uses when it cannot read `somaxconn`. Large enough that a burst
/// of connections (a load balancer's health checks and a reconnect storm
/// after a deploy) is not dropped while the accept loop catches up; the
/// kernel charges nothing for unused backlog.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// [`DEFAULT_BACKLOG`], or `net.core.somaxconn` if that is lower (the
/// kernel would cap it there anyway; reading it makes the value we ask for
/// the value we get). Read once per process.
pub(crate) fn default_backlog() -> u32 {
    static BACKLOG: OnceLock<u32> = OnceLock::new();
    *BACKLOG.get_or_init(|| {
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        match somaxconn {
            Some(max) if max > 0 => DEFAULT_BACKLOG.min(max),
            _ => DEFAULT_BACKLOG,
        }
    })
}

/// A TCP socket server, listening for connections.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use weft::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (stream, peer) = listener.accept().await?;
///     println!("connection from {peer}");
///     // hand `stream` to a task ...
/// #   drop(stream);
/// }
/// # }
/// ```
pub struct TcpListener {
    inner: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (see [`ToSocketAddrs`]; the first address that binds
    /// wins) and listens, with `SO_REUSEADDR` set (as std does) and a
    /// backlog of [`DEFAULT_BACKLOG`] or `net.core.somaxconn`, whichever is
    /// lower. A host name is resolved on another thread.
    ///
    /// For other options (`SO_REUSEPORT`, buffer sizes, another backlog),
    /// configure a [`TcpSocket`] and call its `listen`.
    ///
    /// # Errors
    ///
    /// Fails as `std::net::TcpListener::bind` does (address in use, ...).
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let handle = context::current();
        let addrs = addr::resolve(addr).await?;
        let backlog = default_backlog();
        let listener = sys::first_ok(addrs, |addr| {
            let socket = TcpSocket::for_addr(&addr)?;
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            rustix::net::listen(&socket, i32::try_from(backlog).unwrap_or(i32::MAX))?;
            Ok(net::TcpListener::from(std::os::fd::OwnedFd::from(socket)))
        })?;
        // Accepted sockets inherit it (see `tcp_inq`).
        tcp_inq::enable(listener.as_fd());
        TcpListener::from_nonblocking(listener, &handle)
    }

    /// A listener from a listening, non-blocking socket.
    pub(crate) fn from_nonblocking(
        listener: net::TcpListener,
        handle: &Handle,
    ) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new_nonblocking(listener, handle)?,
        })
    }

    /// Wraps a std listener, making it non-blocking and registering it with
    /// the current reactor.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be made non-blocking or registered.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        tcp_inq::enable(listener.as_fd());
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }

    /// Deregisters the listener and returns it (still non-blocking).
    pub fn into_std(self) -> net::TcpListener {
        self.inner.into_inner()
    }

    /// Waits for a connection and returns it with the peer's address. The
    /// stream is registered with the listener's reactor.
    ///
    /// # Errors
    ///
    /// Fails as `accept4(2)` does (`EMFILE` when out of file descriptors,
    /// ...), or once the runtime shut down. Errors concern one connection
    /// attempt; the listener keeps working.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let accepted = self.inner.read_with(accept_nonblocking).await?;
        self.finish_accept(accepted)
    }

    /// Polls for a connection, for code that implements its own futures
    /// (only the last task to poll is woken).
    ///
    /// # Errors
    ///
    /// As for [`accept`](TcpListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.inner
            .poll_io(cx, Direction::Read, accept_nonblocking, |_| false)
            .map(|accepted| self.finish_accept(accepted?))
    }

    fn finish_accept(
        &self,
        (stream, peer): (net::TcpStream, Option<SocketAddr>),
    ) -> io::Result<(TcpStream, SocketAddr)> {
        let peer = match peer {
            Some(peer) => peer,
            None => stream.peer_addr()?,
        };
        let stream = TcpStream::from_nonblocking(stream, self.inner.handle())?;
        Ok((stream, peer))
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }
}

/// `accept4(2)` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: one syscall per
/// connection, where std's `accept` would need a second to unblock it.
fn accept_nonblocking(
    listener: &net::TcpListener,
) -> io::Result<(net::TcpStream, Option<SocketAddr>)> {
    let (fd, addr) = rustix::net::acceptfrom_with(listener, sys::FLAGS)?;
    let peer = addr.and_then(|a| SocketAddr::try_from(a).ok());
    Ok((net::TcpStream::from(fd), peer))
}

crate::net::impl_fd_traits!(TcpListener);
