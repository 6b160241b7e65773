//! Unix-domain datagram sockets: [`UnixDatagram`].

use std::io;
use std::net::Shutdown;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::task::{Context, Poll};

use crate::readiness::Direction;
use crate::{context, Async};

/// A Unix-domain datagram socket (`SOCK_DGRAM`).
///
/// As with [`UdpSocket`](super::UdpSocket), any number of tasks may send
/// and receive on one socket at once (share it with an `Arc`), and each
/// receive returns one datagram. Unlike UDP, delivery is reliable and
/// ordered, and a sender blocks (waits) while the receiver's queue is full.
///
/// # Examples
///
/// ```
/// use weft::net::UnixDatagram;
///
/// # weft::Runtime::new().unwrap().block_on(async {
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"ping").await?;
/// let mut buf = [0u8; 16];
/// let n = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"ping");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixDatagram {
    inner: Async<net::UnixDatagram>,
}

impl UnixDatagram {
    fn wrap(socket: net::UnixDatagram, handle: &crate::Handle) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Async::with_handle(socket, handle)?,
        })
    }

    /// Binds a socket to `path`.
    ///
    /// # Errors
    ///
    /// As `bind(2)`: `AddrInUse` if something exists at `path`.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let handle = context::current();
        UnixDatagram::wrap(net::UnixDatagram::bind(path)?, &handle)
    }

    /// A socket bound to no address: it can send with
    /// [`send_to`](UnixDatagram::send_to), and receive only once connected
    /// (replies cannot find an unnamed sender).
    ///
    /// # Errors
    ///
    /// As `socket(2)`.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        let handle = context::current();
        UnixDatagram::wrap(net::UnixDatagram::unbound()?, &handle)
    }

    /// A pair of sockets connected to each other.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let handle = context::current();
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((
            UnixDatagram::wrap(a, &handle)?,
            UnixDatagram::wrap(b, &handle)?,
        ))
    }

    /// Wraps a std socket, making it non-blocking and registering it with
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
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Async::new(socket)?,
        })
    }

    /// Deregisters the socket and returns it (still non-blocking).
    pub fn into_std(self) -> net::UnixDatagram {
        self.inner.into_inner()
    }

    /// Sets the default destination for [`send`](UnixDatagram::send) and
    /// the only source [`recv`](UnixDatagram::recv) accepts. Does not block.
    ///
    /// # Errors
    ///
    /// As `connect(2)`: `NotFound` if nothing is at `path`,
    /// `ConnectionRefused` if the socket there is gone.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.get_ref().connect(path)
    }

    /// Sends one datagram to the socket at `path`.
    ///
    /// # Errors
    ///
    /// As `sendto(2)`: `NotFound` or `ConnectionRefused` if nobody is
    /// bound there.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write_with(|s| s.send_to(buf, path)).await
    }

    /// Receives one datagram and its sender's address (unnamed if the
    /// sender is not bound). A datagram longer than `buf` is truncated.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.recv_from(buf)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// As `send(2)`; `NotConnected` if not connected.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// As `recv(2)`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.recv(buf)).await
    }

    /// Sends one datagram to the connected peer now, or fails with
    /// `WouldBlock` if the peer's queue is full.
    ///
    /// # Errors
    ///
    /// As `send(2)`.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.get_ref().send(buf)
    }

    /// Sends one datagram to `path` now, or fails with `WouldBlock`.
    ///
    /// # Errors
    ///
    /// As `sendto(2)`.
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        self.inner.get_ref().send_to(buf, path)
    }

    /// Receives one queued datagram now, or fails with `WouldBlock`.
    ///
    /// # Errors
    ///
    /// As `recv(2)`.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.get_ref().recv(buf)
    }

    /// Receives one queued datagram and its sender's address now, or fails
    /// with `WouldBlock`.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)`.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.get_ref().recv_from(buf)
    }

    /// Polls to receive one datagram from the connected peer (only the last
    /// task to poll is woken).
    ///
    /// # Errors
    ///
    /// As `recv(2)`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.inner
            .poll_io(cx, Direction::Read, |s| s.recv(buf), |_| false)
    }

    /// Polls to send one datagram to `path` (only the last task to poll is
    /// woken).
    ///
    /// # Errors
    ///
    /// As `sendto(2)`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        path: &Path,
    ) -> Poll<io::Result<usize>> {
        self.inner
            .poll_io(cx, Direction::Write, |s| s.send_to(buf, path), |_| false)
    }

    /// Polls to receive one datagram (only the last task to poll is woken).
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)`.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.inner
            .poll_io(cx, Direction::Read, |s| s.recv_from(buf), |_| false)
    }

    /// Polls to send one datagram to the connected peer (only the last task
    /// to poll is woken).
    ///
    /// # Errors
    ///
    /// As `send(2)`.
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner
            .poll_io(cx, Direction::Write, |s| s.send(buf), |_| false)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if [`connect`](UnixDatagram::connect) was not called.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down reads, writes or both. (On Linux a datagram socket shut
    /// for reading still answers receives with `WouldBlock`, so a pending
    /// [`recv`](UnixDatagram::recv) keeps waiting; it is sends that fail.)
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }
}

crate::net::impl_fd_traits!(UnixDatagram);
crate::net::impl_readiness!(UnixDatagram);
