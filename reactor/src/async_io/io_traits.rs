//! `futures_io::AsyncRead`/`AsyncWrite` for [`Async<T>`] and `&Async<T>`,
//! and the byte-stream write the `net` types share.
//!
//! The generic impls clear readiness only on `WouldBlock` (see the parent
//! module for why they do not guess from short transfers). They run `T`'s
//! own `Read`/`Write`, foreign code, so they require `T: IoSafe` (see
//! `io_safe.rs`): the fd stays the one registered with the poller.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::{Async, IoSafe};
use crate::readiness::Direction;

/// Byte-stream writes for the `net` types: like the generic impls, plus the
/// short-write rule of the module docs.
impl<T: AsFd> Async<T>
where
    for<'a> &'a T: Write,
{
    /// `send(2)` / `sendmsg(2)` with `MSG_NOSIGNAL` on Linux, so a write to
    /// a peer that is gone is an `EPIPE` error, never a `SIGPIPE` that kills
    /// a host process which does not ignore the signal (std's `write` on a
    /// `TcpStream` does the same; its `write_vectored` is a plain `writev`).
    pub(crate) fn poll_write_vectored_stream(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        self.poll_io(
            cx,
            Direction::Write,
            |io| send_no_signal(io, bufs, len),
            // Fewer bytes than offered: the send buffer is full. Unlike a
            // read there is nothing "queued behind" that could go unnoticed:
            // any freed space is a new edge.
            |&n| n > 0 && n < len,
        )
    }
}

/// Vectored writes of at most this many bytes are gathered into one `send`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SMALL_WRITE: usize = 1024;

/// Sends `bufs` (`len` bytes in all) without raising `SIGPIPE`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_no_signal<T: AsFd>(io: &T, bufs: &[IoSlice<'_>], len: usize) -> io::Result<usize>
where
    for<'a> &'a T: Write,
{
    use rustix::net::{send, sendmsg, SendAncillaryBuffer, SendFlags};
    let fd = io.as_fd();
    let res = match bufs {
        [one] => send(fd, one, SendFlags::NOSIGNAL),
        // A few small slices (an HTTP response's head and a short body):
        // one copy into a stack buffer and a `send` cost less than
        // `sendmsg`'s message header and iovec import in the kernel.
        _ if len <= SMALL_WRITE => {
            let mut buf = [0u8; SMALL_WRITE];
            let mut n = 0;
            for b in bufs {
                buf[n..n + b.len()].copy_from_slice(b);
                n += b.len();
            }
            send(fd, &buf[..n], SendFlags::NOSIGNAL)
        }
        _ => sendmsg(
            fd,
            bufs,
            &mut SendAncillaryBuffer::default(),
            SendFlags::NOSIGNAL,
        ),
    };
    match res {
        Ok(n) => Ok(n),
        // Not a socket after all (a pipe wrapped as a stream): plain writev.
        Err(rustix::io::Errno::NOTSOCK) => {
            let mut io = io;
            io.write_vectored(bufs)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_no_signal<T: AsFd>(io: &T, bufs: &[IoSlice<'_>], _len: usize) -> io::Result<usize>
where
    for<'a> &'a T: Write,
{
    let mut io = io;
    io.write_vectored(bufs)
}

impl<T: IoSafe + Read> AsyncRead for Async<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io_mut(cx, Direction::Read, |io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io_mut(cx, Direction::Read, |io| io.read_vectored(bufs))
    }
}

impl<T: IoSafe> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Read, |mut io| io.read(buf), |_| false)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(
            cx,
            Direction::Read,
            |mut io| io.read_vectored(bufs),
            |_| false,
        )
    }
}

impl<T: IoSafe + Write> AsyncWrite for Async<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io_mut(cx, Direction::Write, |io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io_mut(cx, Direction::Write, |io| io.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Most sources (sockets, pipes) have nothing to flush: try first
        // rather than wait for a write edge that may not come.
        let this = self.get_mut();
        match this
            .io
            .as_mut()
            .expect("Async used after into_inner")
            .flush()
        {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                this.poll_io_mut(cx, Direction::Write, |io| io.flush())
            }
            result => Poll::Ready(result),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: IoSafe> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Write, |mut io| io.write(buf), |_| false)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(
            cx,
            Direction::Write,
            |mut io| io.write_vectored(bufs),
            |_| false,
        )
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // As above: try first.
        let this: &Async<T> = *self;
        let mut io = this.get_ref();
        match io.flush() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                this.poll_io(cx, Direction::Write, |mut io| io.flush(), |_| false)
            }
            result => Poll::Ready(result),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
