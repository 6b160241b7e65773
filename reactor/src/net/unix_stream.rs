//! Unix-domain stream sockets: [`UnixListener`] and [`UnixStream`].

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use rustix::net::{AddressFamily, SocketAddrUnix};

use super::sys;
use crate::{context, Async};

/// A Unix-domain socket server.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use weft::net::UnixListener;
///
/// let listener = UnixListener::bind("/tmp/weft-demo.sock")?;
/// let (stream, _addr) = listener.accept().await?;
/// # drop(stream); Ok(()) }
/// ```
pub struct UnixListener {
    inner: Async<net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens. Not async, as in tokio: binding a Unix
    /// socket never waits.
    ///
    /// # Errors
    ///
    /// As `std::os::unix::net::UnixListener::bind` (`AddrInUse` if the path
    /// exists: remove stale socket files first).
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let handle = context::current();
        let listener = net::UnixListener::bind(path)?;
        Ok(UnixListener {
            inner: Async::with_handle(listener, &handle)?,
        })
    }

    /// Wraps a std listener, making it non-blocking and registering it.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be made non-blocking or registered.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Async::new(listener)?,
        })
    }

    /// Waits for a connection. The stream is registered with the listener's
    /// reactor.
    ///
    /// # Errors
    ///
    /// As `accept(2)`, or once the runtime shut down.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.read_with(|l| l.accept()).await?;
        stream.set_nonblocking(true)?;
        let stream = UnixStream {
            inner: Async::new_nonblocking(stream, self.inner.handle())?,
        };
        Ok((stream, addr))
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

crate::net::impl_fd_traits!(UnixListener);

/// A Unix-domain stream connection. Implements [`AsyncRead`] and
/// [`AsyncWrite`], also on `&UnixStream`. A short write is taken to mean
/// the send buffer is full; reads go on until `WouldBlock`. For `read`,
/// `write_all` and friends, import `weft::io`'s extension traits.
///
/// # Examples
///
/// ```
/// use weft::net::UnixStream;
///
/// # weft::Runtime::new().unwrap().block_on(async {
/// let (a, b) = UnixStream::pair()?;
/// a.writable().await?; // a new socket has room in its send buffer
/// // Halves that two tasks can own, one reading and one writing:
/// let (read_half, write_half) = b.into_split();
/// # let _ = (read_half, write_half);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// [`AsyncRead`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncRead.html
/// [`AsyncWrite`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html
pub struct UnixStream {
    inner: Async<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path` without blocking the thread.
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is at `path`, `ConnectionRefused` if nothing
    /// listens there, `WouldBlock` if the listener's backlog is full (as
    /// tokio and mio report it).
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let handle = context::current();
        let addr = SocketAddrUnix::new(path.as_ref())?;
        let fd = sys::stream_socket(AddressFamily::UNIX)?;
        let inner = Async::new_nonblocking(net::UnixStream::from(fd), &handle)?;
        sys::start_connect(inner.get_ref(), &addr)?;
        inner.write_with(|s| sys::finish_connect(s)).await?;
        Ok(UnixStream { inner })
    }

    /// A connected pair of streams.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let handle = context::current();
        let (a, b) = net::UnixStream::pair()?;
        Ok((
            UnixStream {
                inner: Async::with_handle(a, &handle)?,
            },
            UnixStream {
                inner: Async::with_handle(b, &handle)?,
            },
        ))
    }

    /// Wraps a connected std stream, making it non-blocking and registering
    /// it.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be made non-blocking or registered.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime (no current reactor).
    #[track_caller]
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Async::new(stream)?,
        })
    }

    /// Deregisters the stream and returns it (still non-blocking).
    pub fn into_std(self) -> net::UnixStream {
        self.inner.into_inner()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the read, write or both halves, as std does.
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Reads into memory that may be uninitialised (hyper's read buffer,
    /// through `weft::compat::hyper::WeftIo`): no zeroing, no copy. Reads
    /// go on until `WouldBlock`, as `AsyncRead`'s do. On `Ready(Ok(n))` the
    /// first `n` bytes of `buf` are initialised; 0 means end-of-file (or an
    /// empty `buf`).
    ///
    /// # Errors
    ///
    /// As `read(2)`, or once the runtime shut down.
    #[doc(hidden)]
    pub fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.inner.poll_io(
            cx,
            crate::readiness::Direction::Read,
            |s| Ok(rustix::io::read(s, &mut *buf)?.0.len()),
            |_| false,
        )
    }

    /// Borrowed halves: one task may read through the
    /// [`ReadHalf`](super::unix::ReadHalf) while another writes through
    /// the [`WriteHalf`](super::unix::WriteHalf). A read event wakes only
    /// the reader, a write event only the writer.
    pub fn split(&self) -> (super::unix::ReadHalf<'_>, super::unix::WriteHalf<'_>) {
        super::split::split(self)
    }

    /// Owned halves, which may move to different tasks. Dropping the write
    /// half shuts down the write direction (the peer reads end-of-file);
    /// `reunite` on the read half puts the halves back together.
    pub fn into_split(self) -> (super::unix::OwnedReadHalf, super::unix::OwnedWriteHalf) {
        super::split::into_split(self)
    }
}

crate::net::impl_fd_traits!(UnixStream);
crate::net::impl_readiness!(UnixStream);

/// Reads go on until `WouldBlock`: without `EPOLLRDHUP` or an `INQ` hint, a
/// short read cannot tell "drained" from "data, then a queued end-of-file"
/// (see `src/net/tcp_inq.rs`).
impl AsyncRead for &UnixStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &self.inner).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &self.inner).poll_read_vectored(cx, bufs)
    }
}

impl AsyncWrite for &UnixStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner
            .poll_write_vectored_stream(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_vectored_stream(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the write direction: the peer reads end-of-file. On a
    /// connection the peer already reset, closing succeeds.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(super::close_result(self.shutdown(Shutdown::Write)))
    }
}

crate::net::forward_io_to_ref!(UnixStream);
