//! [`TcpSocket`]: a TCP socket configured before it listens or connects.

use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::net::sockopt;
use rustix::net::AddressFamily;

use super::{sys, tcp_inq, TcpListener, TcpStream};
use crate::{context, Async};

/// A TCP socket not yet connected or listening, for the options that must
/// be set before: address and port reuse, buffer sizes, the listen
/// backlog. [`listen`](TcpSocket::listen) turns it into a [`TcpListener`],
/// [`connect`](TcpSocket::connect) into a [`TcpStream`].
///
/// The socket is created non-blocking and close-on-exec. Setters and
/// getters are one `setsockopt`/`getsockopt` each (rustix); none of them
/// needs a runtime, only `listen` and `connect` do.
///
/// Examples: the module docs of `weft::net`.
pub struct TcpSocket {
    fd: OwnedFd,
    /// Came from [`FromRawFd`]: may still be blocking, so `listen` and
    /// `connect` make it non-blocking first (ours are created so).
    maybe_blocking: bool,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    ///
    /// # Errors
    ///
    /// As `socket(2)` (`EMFILE` when out of file descriptors, ...).
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(AddressFamily::INET)
    }

    /// A new IPv6 TCP socket.
    ///
    /// # Errors
    ///
    /// As `socket(2)`; `EAFNOSUPPORT` on a host without IPv6.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(AddressFamily::INET6)
    }

    fn new(family: AddressFamily) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: sys::stream_socket(family)?,
            maybe_blocking: false,
        })
    }

    /// A socket for `addr`'s family, as [`TcpListener::bind`] and friends
    /// need.
    pub(crate) fn for_addr(addr: &SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(sys::family_of(addr))
    }

    /// Sets `SO_REUSEADDR`: binding succeeds while old connections on the
    /// port linger in `TIME_WAIT` (a restarted server needs it;
    /// [`TcpListener::bind`] sets it).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        Ok(sockopt::set_socket_reuseaddr(&self.fd, reuseaddr)?)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        Ok(sockopt::socket_reuseaddr(&self.fd)?)
    }

    /// Sets `SO_REUSEPORT`: several sockets (of one user) may listen on the
    /// same address and port, and the kernel spreads connections over them.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        Ok(sockopt::set_socket_reuseport(&self.fd, reuseport)?)
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn reuseport(&self) -> io::Result<bool> {
        Ok(sockopt::socket_reuseport(&self.fd)?)
    }

    /// Sets `SO_SNDBUF`. Linux doubles the value (for its bookkeeping) and
    /// clamps it to `net.core.wmem_max`; [`send_buffer_size`] reads back
    /// what the kernel chose.
    ///
    /// [`send_buffer_size`]: TcpSocket::send_buffer_size
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        Ok(sockopt::set_socket_send_buffer_size(
            &self.fd,
            to_usize(size),
        )?)
    }

    /// `SO_SNDBUF`, as the kernel set it.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        Ok(saturate(sockopt::socket_send_buffer_size(&self.fd)?))
    }

    /// Sets `SO_RCVBUF` (doubled and clamped as for the send buffer, to
    /// `net.core.rmem_max`).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        Ok(sockopt::set_socket_recv_buffer_size(
            &self.fd,
            to_usize(size),
        )?)
    }

    /// `SO_RCVBUF`, as the kernel set it.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        Ok(saturate(sockopt::socket_recv_buffer_size(&self.fd)?))
    }

    /// Sets `SO_KEEPALIVE`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        Ok(sockopt::set_socket_keepalive(&self.fd, keepalive)?)
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(sockopt::socket_keepalive(&self.fd)?)
    }

    /// Sets `SO_LINGER`; see [`TcpStream`]'s docs in std for what it does.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        Ok(sockopt::set_socket_linger(&self.fd, linger)?)
    }

    /// `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(sockopt::socket_linger(&self.fd)?)
    }

    /// Sets `TCP_NODELAY` (no Nagle delay); a connected stream inherits it.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        Ok(sockopt::set_tcp_nodelay(&self.fd, nodelay)?)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(sockopt::tcp_nodelay(&self.fd)?)
    }

    /// The address the socket is bound to (port 0 and the unspecified
    /// address before [`bind`](TcpSocket::bind)).
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let addr = rustix::net::getsockname(&self.fd)?;
        SocketAddr::try_from(addr)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
    }

    /// Takes the pending `SO_ERROR`, if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(sockopt::socket_error(&self.fd)?.err().map(io::Error::from))
    }

    /// Binds the socket to `addr` (port 0: the OS picks one).
    ///
    /// # Errors
    ///
    /// As `bind(2)`: `AddrInUse`, `AddrNotAvailable`, or `InvalidInput` for
    /// an address of the other family.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        Ok(rustix::net::bind(&self.fd, &addr)?)
    }

    /// Listens, with room for `backlog` connections that completed the
    /// handshake but were not yet accepted (the kernel caps it at
    /// `net.core.somaxconn`), and registers the listener with the current
    /// runtime.
    ///
    /// # Errors
    ///
    /// As `listen(2)` (`AddrInUse` if another socket listens on the port
    /// without `SO_REUSEPORT`); if the registration fails.
    ///
    /// # Panics
    ///
    /// Outside a runtime (no current reactor).
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let handle = context::current();
        self.make_nonblocking()?;
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        rustix::net::listen(&self.fd, backlog)?;
        // Accepted sockets inherit it (see `tcp_inq`).
        tcp_inq::enable(self.fd.as_fd());
        TcpListener::from_nonblocking(net::TcpListener::from(self.fd), &handle)
    }

    /// Connects to `addr` without blocking the thread, and registers the
    /// stream with the current runtime.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused`, `TimedOut`, `HostUnreachable`, ... as
    /// `connect(2)` reports them; if the registration fails.
    ///
    /// # Panics
    ///
    /// Outside a runtime (no current reactor).
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let handle = context::current();
        self.make_nonblocking()?;
        tcp_inq::enable(self.fd.as_fd());
        // Registered before connecting: if the connect fails we drop the
        // `Async`, which deregisters before the fd closes.
        let inner = Async::new_nonblocking(net::TcpStream::from(self.fd), &handle)?;
        sys::start_connect(inner.get_ref(), &addr)?;
        inner.write_with(|s| sys::finish_connect(s)).await?;
        Ok(TcpStream::from_async(inner))
    }

    fn make_nonblocking(&self) -> io::Result<()> {
        if self.maybe_blocking {
            rustix::io::ioctl_fionbio(&self.fd, true)?;
        }
        Ok(())
    }

    /// Wraps a std stream (for its options; `connect` would fail: it is
    /// already connected). Made non-blocking.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking.
    pub fn from_std_stream(stream: net::TcpStream) -> io::Result<TcpSocket> {
        stream.set_nonblocking(true)?;
        Ok(TcpSocket {
            fd: OwnedFd::from(stream),
            maybe_blocking: false,
        })
    }
}

fn to_usize(size: u32) -> usize {
    usize::try_from(size).unwrap_or(usize::MAX)
}

fn saturate(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

impl std::fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl FromRawFd for TcpSocket {
    /// Takes ownership of `fd`, which should be a TCP socket (`listen` and
    /// `connect` make it non-blocking).
    ///
    /// # Safety
    ///
    /// `fd` must be an open file descriptor that nothing else owns (it is
    /// closed when the `TcpSocket`, or what it becomes, is dropped).
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        TcpSocket {
            // SAFETY: the caller's promise (this fn's `# Safety`).
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            maybe_blocking: true,
        }
    }
}

impl From<TcpSocket> for OwnedFd {
    fn from(socket: TcpSocket) -> OwnedFd {
        socket.fd
    }
}
