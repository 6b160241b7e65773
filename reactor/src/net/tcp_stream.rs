//! [`TcpStream`]: a TCP connection.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::{self, Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::split;
use super::tcp::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::tcp_inq;
use super::{addr, sys, ToSocketAddrs};
use crate::readiness::Direction;
use crate::{context, Async, Handle};

/// A TCP connection. Implements [`AsyncRead`] and [`AsyncWrite`] (also on
/// `&TcpStream`, so one task can read while another writes; see also
/// [`split`](TcpStream::split) and [`into_split`](TcpStream::into_split)).
/// For `read`, `write_all` and friends, import `weft::io`'s extension
/// traits.
///
/// Reads learn from the kernel whether they drained the socket (Linux's
/// `TCP_INQ`, see `src/net/tcp_inq.rs`), so a reader never pays an extra
/// read to hear `EAGAIN`; a short write is taken to mean the send buffer is
/// full. Errors come back with the OS's kind:
/// `ConnectionRefused`, `ConnectionReset`, `BrokenPipe`, ...
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use weft::net::TcpStream;
///
/// let stream = TcpStream::connect("127.0.0.1:8080").await?;
/// stream.set_nodelay(true)?;
/// stream.write_with(|s| std::io::Write::write(&mut &*s, b"hello")).await?;
/// # Ok(()) }
/// ```
///
/// [`AsyncRead`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncRead.html
/// [`AsyncWrite`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html
pub struct TcpStream {
    inner: Async<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn until one
    /// accepts. The connect itself never blocks the thread.
    ///
    /// A host name is resolved on another thread (see [`ToSocketAddrs`]).
    ///
    /// # Errors
    ///
    /// The last address's error: `ConnectionRefused`, `TimedOut`,
    /// `HostUnreachable`, ...
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let handle = context::current();
        let mut last = None;
        for addr in addr::resolve(addr).await? {
            match TcpStream::connect_addr(addr, &handle).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::ErrorKind::InvalidInput.into()))
    }

    /// Non-blocking connect, wait for writability, check `SO_ERROR`.
    async fn connect_addr(addr: SocketAddr, handle: &Handle) -> io::Result<TcpStream> {
        let fd = sys::stream_socket(sys::family_of(&addr))?;
        tcp_inq::enable(fd.as_fd());
        // Registered before connecting: if the connect fails we drop the
        // `Async`, which deregisters before the fd closes.
        let inner = Async::new_nonblocking(net::TcpStream::from(fd), handle)?;
        sys::start_connect(inner.get_ref(), &addr)?;
        inner.write_with(|s| sys::finish_connect(s)).await?;
        Ok(TcpStream { inner })
    }

    /// A stream from a connected, registered socket (`TcpSocket::connect`).
    pub(crate) fn from_async(inner: Async<net::TcpStream>) -> TcpStream {
        TcpStream { inner }
    }

    pub(crate) fn from_nonblocking(
        stream: net::TcpStream,
        handle: &Handle,
    ) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Async::new_nonblocking(stream, handle)?,
        })
    }

    /// Wraps a connected std stream, making it non-blocking and registering
    /// it with the current reactor.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be made non-blocking or registered.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        tcp_inq::enable(stream.as_fd());
        Ok(TcpStream {
            inner: Async::new(stream)?,
        })
    }

    /// Deregisters the stream and returns it (still non-blocking).
    pub fn into_std(self) -> net::TcpStream {
        self.inner.into_inner()
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)` (`NotConnected` after the peer went away).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// Shuts down the read, write or both halves, as std does (not async).
    /// After `Shutdown::Write` the peer reads end-of-file and may still send.
    ///
    /// # Errors
    ///
    /// As `shutdown(2)` (`NotConnected` if the peer already reset).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Receives data without removing it from the queue.
    ///
    /// # Errors
    ///
    /// As `recv(2)` with `MSG_PEEK`.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.peek(buf)).await
    }

    /// Runs a non-blocking read-side operation on the std stream until it
    /// stops saying `WouldBlock`; see [`Async::read_with`].
    ///
    /// # Errors
    ///
    /// Whatever `op` returns.
    pub async fn read_with<R>(
        &self,
        op: impl FnMut(&net::TcpStream) -> io::Result<R>,
    ) -> io::Result<R> {
        self.inner.read_with(op).await
    }

    /// Runs a non-blocking write-side operation; see [`Async::write_with`].
    ///
    /// # Errors
    ///
    /// Whatever `op` returns.
    pub async fn write_with<R>(
        &self,
        op: impl FnMut(&net::TcpStream) -> io::Result<R>,
    ) -> io::Result<R> {
        self.inner.write_with(op).await
    }

    /// Borrowed halves: one task may read through [`ReadHalf`] while another
    /// writes through [`WriteHalf`]. A read event wakes only the reader, a
    /// write event only the writer.
    pub fn split(&self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Owned halves, which may move to different tasks. Dropping the write
    /// half shuts down the write direction (the peer reads end-of-file);
    /// `reunite` on either half puts them back together (see
    /// [`OwnedReadHalf`]).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }

    /// `AsyncRead`'s read: `recvmsg` with the `TCP_INQ` hint; the socket
    /// counts as drained when the hint says nothing (not even a FIN) is left.
    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.inner
            .poll_io(
                cx,
                Direction::Read,
                |s| tcp_inq::recv_vectored(s.as_fd(), bufs),
                |&(_, inq)| inq == Some(0),
            )
            .map_ok(|(n, _)| n)
    }

    /// Reads into memory that may be uninitialised (hyper's read buffer,
    /// through `weft::compat::hyper::WeftIo`): no zeroing, no copy, and the
    /// same `TCP_INQ` drained rule as `AsyncRead`. On `Ready(Ok(n))` the
    /// first `n` bytes of `buf` are initialised; 0 means end-of-file (or an
    /// empty `buf`).
    ///
    /// # Errors
    ///
    /// As `recvmsg(2)`, or once the runtime shut down.
    #[doc(hidden)]
    pub fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.inner
            .poll_io(
                cx,
                Direction::Read,
                |s| tcp_inq::recv_uninit(s.as_fd(), buf),
                |&(_, inq)| inq == Some(0),
            )
            .map_ok(|(n, _)| n)
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_vectored_stream(cx, bufs)
    }
}

crate::net::impl_fd_traits!(TcpStream);
crate::net::impl_readiness!(TcpStream);

impl AsyncRead for &TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_priv(cx, &mut [IoSliceMut::new(buf)])
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_priv(cx, bufs)
    }
}

impl AsyncWrite for &TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, bufs)
    }

    /// Nothing is buffered in user space: always ready.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the write direction: the peer reads end-of-file. On a
    /// connection the peer already reset, closing succeeds.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(super::close_result(self.shutdown(Shutdown::Write)))
    }
}

crate::net::forward_io_to_ref!(TcpStream);

// A server holds one `TcpStream` per connection inside each connection's
// task (hyper's connection future embeds it), so its size is memory per
// connection: the fd and the registration (reactor handle, source, key),
// as tokio's is. Kept from growing unnoticed; docs/benchmarks.md has the
// per-connection breakdown.
const _: () = assert!(std::mem::size_of::<TcpStream>() <= 32);
