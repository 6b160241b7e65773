//! The few socket syscalls std does not offer: a socket created
//! non-blocking, a connect that does not block, and the check that a
//! non-blocking connect finished.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::addr::SocketAddrArg;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// Flags for every socket weft creates or accepts: non-blocking from the
/// start (no extra `ioctl`), closed on exec.
pub(crate) const FLAGS: SocketFlags = SocketFlags::NONBLOCK.union(SocketFlags::CLOEXEC);

/// A fresh non-blocking stream socket for `addr`'s family.
pub(crate) fn stream_socket(family: AddressFamily) -> io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(
        family,
        SocketType::STREAM,
        FLAGS,
        None,
    )?)
}

pub(crate) fn family_of(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

/// Starts a non-blocking `connect(2)`. `Ok` means connected or in
/// progress; the caller then waits for writability and calls
/// [`finish_connect`].
pub(crate) fn start_connect(fd: impl AsFd, addr: &impl SocketAddrArg) -> io::Result<()> {
    match rustix::net::connect(fd, addr) {
        // EINTR: the connection still proceeds asynchronously (POSIX).
        Ok(()) | Err(Errno::INPROGRESS) | Err(Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// After a writable event on a connecting socket: `Ok` if connected, the
/// connect's own error (`SO_ERROR`: refused, unreachable, timed out) if it
/// failed, `WouldBlock` if it is still in progress (a spurious event).
pub(crate) fn finish_connect(fd: impl AsFd) -> io::Result<()> {
    let fd = fd.as_fd();
    rustix::net::sockopt::socket_error(fd)??;
    match rustix::net::getpeername(fd) {
        Ok(_) => Ok(()),
        Err(Errno::NOTCONN) => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e.into()),
    }
}

/// Runs `f` on each address until one succeeds; the last error otherwise.
pub(crate) fn first_ok<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addrs {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::ErrorKind::InvalidInput.into()))
}
