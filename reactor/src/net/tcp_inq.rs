//! Knowing that a TCP read drained the socket without a second read.
//!
//! Edge-triggered polling only reports *changes*, so a reader may wait for
//! the next event only once it knows the receive queue is empty. The usual
//! way to learn that is one more `read` returning `EAGAIN`, the syscall this
//! reactor is designed to save. "A short read means drained" is *almost*
//! right but not quite: if the peer's data and its FIN arrived before the
//! same event, the short read returns the data, the end-of-file is still
//! queued, and no new edge will ever announce it. tokio gets away with the
//! short-read rule because mio registers `EPOLLRDHUP` and keeps "read
//! closed" sticky; polling does not expose `EPOLLRDHUP`.
//!
//! Linux's `TCP_INQ` (4.18+) answers the question exactly and for free: with
//! it on, every `recvmsg` carries a `TCP_CM_INQ` control message with the
//! bytes still queued after this read, *plus one if a FIN is pending*. So a
//! read is "drained" iff that number is 0, whether or not it was short. The
//! option costs one `setsockopt` per socket (accepted sockets inherit it
//! from the listener). Where it is unavailable (other OSes, old kernels, a
//! missing control message), the answer is `None` and the reader simply
//! reads on until `EAGAIN`: slower, never wrong.

use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;

/// Turns `TCP_INQ` on; returns whether the kernel accepted it.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn enable(fd: BorrowedFd<'_>) -> bool {
    use std::os::fd::AsRawFd;

    let on: libc::c_int = 1;
    // SAFETY: `fd` is an open socket for the duration of the call (it is
    // borrowed); `optval` points at a live `c_int` whose size is passed as
    // `optlen`, and the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_INQ,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// `recvmsg(2)` into `bufs`. Returns the bytes read and, if the kernel sent
/// it, the `TCP_CM_INQ` hint: bytes still queued, +1 for a pending FIN.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn recv_vectored(
    fd: BorrowedFd<'_>,
    bufs: &mut [IoSliceMut<'_>],
) -> io::Result<(usize, Option<usize>)> {
    // SAFETY: std guarantees `IoSliceMut` is ABI-compatible with `iovec` on
    // Unix; each describes memory we borrow mutably for the whole call.
    unsafe { recvmsg_inq(fd, bufs.as_mut_ptr().cast::<libc::iovec>(), bufs.len()) }
}

/// [`recv_vectored`] into one buffer that may be uninitialised (hyper's
/// read buffer): the kernel only writes to it, so nothing is zeroed or
/// copied. On `Ok((n, _))` the first `n` bytes of `buf` are initialised.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn recv_uninit(
    fd: BorrowedFd<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<(usize, Option<usize>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing `buf`, borrowed mutably for the whole
    // call; `recvmsg` never reads the memory, so it may be uninitialised.
    unsafe { recvmsg_inq(fd, &mut iov, 1) }
}

/// `recvmsg(2)` with room for the `TCP_CM_INQ` control message.
///
/// # Safety
///
/// `iov` points at `iovlen` valid iovecs, each describing memory writable
/// for the duration of the call (initialised or not).
#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn recvmsg_inq(
    fd: BorrowedFd<'_>,
    iov: *mut libc::iovec,
    iovlen: usize,
) -> io::Result<(usize, Option<usize>)> {
    use std::os::fd::AsRawFd;

    // Room for one `int` control message, aligned for `cmsghdr`.
    let mut control = [0u64; 4];
    // SAFETY: `msghdr` is plain old data; all-zero is a valid value (null
    // pointers with zero lengths), and the fields we use are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    // The field's type differs between libcs (size_t / c_int).
    msg.msg_iovlen = iovlen as _;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;

    // SAFETY: `msg_iov` points at `iovlen` iovecs of writable memory (the
    // caller's contract); `msg_control` points at `control`, writable, of
    // the length given; `fd` is open (borrowed).
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }

    let mut inq = None;
    // SAFETY: `msg` was just filled by a successful `recvmsg`, which set
    // `msg_controllen` to the bytes it wrote into `control`. CMSG_FIRSTHDR
    // and CMSG_NXTHDR only return headers lying wholly inside that range (or
    // null), and a `TCP_CM_INQ` message's payload is one `int`, which we
    // read unaligned as the kernel does not promise alignment for it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_TCP && (*cmsg).cmsg_type == libc::TCP_CM_INQ {
                let value = libc::CMSG_DATA(cmsg).cast::<libc::c_int>().read_unaligned();
                inq = usize::try_from(value).ok();
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, inq))
}

/// Without `TCP_INQ`: nothing to enable.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn enable(_fd: BorrowedFd<'_>) -> bool {
    false
}

/// Without `TCP_INQ`: a plain `readv`, with no hint.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn recv_vectored(
    fd: BorrowedFd<'_>,
    bufs: &mut [IoSliceMut<'_>],
) -> io::Result<(usize, Option<usize>)> {
    Ok((rustix::io::readv(fd, bufs)?, None))
}

/// Without `TCP_INQ`: a plain `read` into uninitialised memory, no hint.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn recv_uninit(
    fd: BorrowedFd<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<(usize, Option<usize>)> {
    let (filled, _) = rustix::io::read(fd, buf)?;
    Ok((filled.len(), None))
}

#[cfg(all(test, not(loom), any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::fd::AsFd;

    #[test]
    fn accepted_sockets_inherit_inq_and_see_the_fin() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(enable(listener.as_fd()), "TCP_INQ needs Linux 4.18+");
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"0123456789").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        // Let both the data and the FIN arrive (blocking reads below wait
        // for data, not for the FIN).
        std::thread::sleep(std::time::Duration::from_millis(50));

        let mut buf = [0u8; 4];
        let (n, inq) = recv_vectored(server.as_fd(), &mut [IoSliceMut::new(&mut buf)]).unwrap();
        // Six bytes left, plus one for the FIN (it takes a sequence number).
        assert_eq!((n, inq), (4, Some(7)));
        let mut buf = [0u8; 64];
        let (n, inq) = recv_vectored(server.as_fd(), &mut [IoSliceMut::new(&mut buf)]).unwrap();
        // A short read, yet not drained: the FIN is still queued.
        assert_eq!((n, inq), (6, Some(1)));
        let (n, _) = recv_vectored(server.as_fd(), &mut [IoSliceMut::new(&mut buf)]).unwrap();
        assert_eq!(n, 0, "end-of-file");
    }

    #[test]
    fn uninit_read_fills_the_front_and_reports_inq() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        enable(listener.as_fd());
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"hello").unwrap();
        // Blocking socket: waits for the data.
        let mut buf = [MaybeUninit::<u8>::uninit(); 3];
        let (n, inq) = recv_uninit(server.as_fd(), &mut buf).unwrap();
        assert_eq!((n, inq), (3, Some(2)));
        // SAFETY: `recv_uninit` initialised the first `n` bytes.
        let got: Vec<u8> = buf[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        assert_eq!(got, b"hel");
        let mut buf = [MaybeUninit::<u8>::uninit(); 16];
        let (n, inq) = recv_uninit(server.as_fd(), &mut buf).unwrap();
        assert_eq!((n, inq), (2, Some(0)), "drained");
    }

    #[test]
    fn drained_read_reports_zero() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        enable(listener.as_fd());
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"abc").unwrap();
        let mut a = [0u8; 2];
        let mut b = [0u8; 8];
        let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
        let (n, inq) = recv_vectored(server.as_fd(), &mut bufs).unwrap();
        assert_eq!((n, inq), (3, Some(0)));
        assert_eq!((&a, &b[..1]), (b"ab", &b"c"[..]));
    }
}
