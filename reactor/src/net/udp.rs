//! UDP: [`UdpSocket`].

use std::io;
use std::net::{self, SocketAddr};
use std::task::{Context, Poll};

use super::{addr, sys, ToSocketAddrs};
use crate::readiness::Direction;
use crate::{context, Async};

/// A UDP socket.
///
/// Any number of tasks may send and receive on one socket at once (share it
/// with an `Arc`). Each receive returns one datagram; unlike byte streams, a
/// short datagram says nothing about what else is queued, so receives go on
/// until the OS says `WouldBlock`.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use weft::net::UdpSocket;
///
/// let socket = UdpSocket::bind("127.0.0.1:0").await?;
/// let mut buf = [0u8; 1500];
/// loop {
///     let (n, peer) = socket.recv_from(&mut buf).await?;
///     socket.send_to(&buf[..n], peer).await?; // echo
/// }
/// # }
/// ```
pub struct UdpSocket {
    inner: Async<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first resolved address that binds wins).
    ///
    /// # Errors
    ///
    /// As `std::net::UdpSocket::bind`.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let handle = context::current();
        let socket = sys::first_ok(addr::resolve(addr).await?, net::UdpSocket::bind)?;
        Ok(UdpSocket {
            inner: Async::with_handle(socket, &handle)?,
        })
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
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Async::new(socket)?,
        })
    }

    /// Deregisters the socket and returns it (still non-blocking).
    pub fn into_std(self) -> net::UdpSocket {
        self.inner.into_inner()
    }

    /// Sends `buf` to `target` (its first resolved address).
    ///
    /// # Errors
    ///
    /// As `sendto(2)`; `ConnectionRefused` may report an ICMP error from an
    /// earlier datagram.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = addr::resolve_one(target).await?;
        self.inner.write_with(|s| s.send_to(buf, target)).await
    }

    /// Receives one datagram and its sender's address. A datagram longer
    /// than `buf` is truncated.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.recv_from(buf)).await
    }

    /// Like [`recv_from`](UdpSocket::recv_from), leaving the datagram queued.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)` with `MSG_PEEK`.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.peek_from(buf)).await
    }

    /// Sets the default destination for [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts (first resolved address
    /// that works). Does not block: UDP has no handshake.
    ///
    /// # Errors
    ///
    /// As `connect(2)`.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let socket = self.inner.get_ref();
        sys::first_ok(addr::resolve(addr).await?, |a| socket.connect(a))
    }

    /// Sends `buf` to the connected peer.
    ///
    /// # Errors
    ///
    /// As `send(2)`; `ConnectionRefused` after the peer's port answered an
    /// earlier datagram with ICMP "port unreachable".
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

    /// Polls to send one datagram (only the last task to poll is woken).
    ///
    /// # Errors
    ///
    /// As `sendto(2)`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.inner
            .poll_io(cx, Direction::Write, |s| s.send_to(buf, target), |_| false)
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
    /// `NotConnected` if [`connect`](UdpSocket::connect) was not called.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_broadcast(on)
    }
}

crate::net::impl_fd_traits!(UdpSocket);
crate::net::impl_readiness!(UdpSocket);
