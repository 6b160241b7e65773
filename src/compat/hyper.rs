//! hyper 1.x on weft (cargo feature `hyper`): what hyper-util's
//! `TokioExecutor`, `TokioTimer` and `TokioIo` are for tokio.
//!
//! - [`WeftExecutor`]: `hyper::rt::Executor`, spawning on the current
//!   runtime (HTTP/2 runs its streams as tasks).
//! - [`WeftTimer`]: `hyper::rt::Timer` on weft's timer wheel (header-read
//!   timeouts, HTTP/2 keep-alive pings).
//! - [`WeftIo`]: `hyper::rt::Read` + `hyper::rt::Write` for a weft socket
//!   (or any `futures_io` stream); and the other way round,
//!   `futures_io::AsyncRead` + `AsyncWrite` for hyper's I/O (an upgraded
//!   connection, say).
//!
//! # Reads without a copy
//!
//! hyper reads into its own buffer, whose spare room is uninitialised; the
//! `futures_io` traits want initialised memory. For weft's own streams
//! ([`TcpStream`], [`UnixStream`] and their owned read halves) `WeftIo`
//! hands that spare room straight to `recvmsg`/`read`: no intermediate
//! buffer, no zeroing, no copy, and the TCP read keeps the reactor's
//! `TCP_INQ` rule (a read that leaves nothing queued counts as draining the
//! socket, so no extra `read` just to hear `EAGAIN`). Any other
//! `futures_io::AsyncRead` works too, through a slower path that zeroes up
//! to [`GENERIC_READ_CHUNK`] bytes of hyper's buffer before each read.
//!
//! Stable Rust has no specialisation, so `WeftIo<T>` tells weft's streams
//! apart by `TypeId` (hence `T: 'static`); the check is on constants and
//! folds away once `T` is known.
//!
//! # Examples
//!
//! An HTTP/1.1 server and a client on one runtime:
//!
//! ```
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::body::Bytes;
//! use weft::compat::hyper::{WeftIo, WeftTimer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = weft::Runtime::new()?;
//! rt.block_on(async {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     weft::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let service = hyper::service::service_fn(|_req| async {
//!             Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
//!                 Bytes::from_static(b"hello"),
//!             )))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(WeftTimer)
//!             .serve_connection(WeftIo::new(stream), service)
//!             .await
//!             .unwrap();
//!     });
//!
//!     let stream = weft::net::TcpStream::connect(addr).await?;
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake(WeftIo::new(stream)).await?;
//!     weft::spawn(conn);
//!     let req = hyper::Request::get("/")
//!         .header("host", "localhost")
//!         .body(Empty::<Bytes>::new())?;
//!     let body = sender.send_request(req).await?.into_body().collect().await?;
//!     assert_eq!(body.to_bytes(), "hello");
//!     Ok(())
//! })
//! # }
//! ```

use std::any::Any;
use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;

use crate::net::{tcp, unix, TcpStream, UnixStream};

/// `hyper::rt::Executor`: spawns hyper's background tasks (HTTP/2
/// connection and stream tasks) on the current weft runtime, detached.
///
/// # Panics
///
/// `execute` panics outside a weft runtime, as [`crate::spawn`] does;
/// hyper calls it from inside the connection's future, which runs on one.
///
/// # Examples
///
/// ```
/// let builder = hyper::server::conn::http2::Builder::new(weft::compat::hyper::WeftExecutor);
/// # let _ = builder;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct WeftExecutor;

impl<F> hyper::rt::Executor<F> for WeftExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        // Dropping the handle detaches the task; hyper tracks its tasks
        // through its own channels.
        drop(crate::spawn(future));
    }
}

/// `hyper::rt::Timer` on weft's timer wheel: `sleep`, `sleep_until`, and a
/// `reset` that moves the existing timer instead of allocating a new one.
///
/// Its sleeps are `Send + Sync`, as hyper requires (weft's
/// [`Sleep`](crate::time::Sleep) is both).
///
/// # Panics
///
/// `sleep` and `sleep_until` panic outside a weft runtime, as
/// [`crate::time::sleep`] does.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let mut builder = hyper::server::conn::http1::Builder::new();
/// builder
///     .timer(weft::compat::hyper::WeftTimer)
///     .header_read_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct WeftTimer;

/// A weft [`Sleep`](crate::time::Sleep) seen as a `hyper::rt::Sleep` (the
/// orphan rule needs a type of ours to implement hyper's trait on).
struct WeftSleep(crate::time::Sleep);

// hyper's `Sleep` requires `Send + Sync`; keep that checked at compile time.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<WeftSleep>();
};

impl Future for WeftSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for WeftSleep {}

impl hyper::rt::Timer for WeftTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(WeftSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(WeftSleep(crate::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<WeftSleep>() {
            // Moves the wheel entry (lock-free when later), no allocation.
            Some(mut ours) => Pin::new(&mut ours.0).reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// At most this many bytes of hyper's buffer are zeroed before each read
/// of a stream that is not weft's (the generic path): a read rarely brings
/// more, and zeroing hyper's whole spare room (up to ~400 KiB) per read
/// would cost more than the read. weft's own streams skip this entirely.
pub const GENERIC_READ_CHUNK: usize = 16 * 1024;

/// A byte stream seen through hyper's I/O traits (`hyper::rt::Read` and
/// `hyper::rt::Write`), as hyper-util's `TokioIo` is for tokio.
///
/// Wraps weft's [`TcpStream`] and [`UnixStream`] (reads go straight into
/// hyper's buffer, see the [module docs](self)), their owned halves
/// (`tcp::OwnedReadHalf` reads, `tcp::OwnedWriteHalf` writes), or any
/// `futures_io::AsyncRead` / `AsyncWrite` (reads through a zeroed chunk of
/// hyper's buffer). Writes go out vectored: weft's sockets send hyper's
/// header and body buffers in one `sendmsg`.
///
/// The other way round, `WeftIo<T>` implements `futures_io::AsyncRead` /
/// `AsyncWrite` when `T` implements hyper's traits (for example
/// `hyper::upgrade::Upgraded`), as `TokioIo` does for tokio's traits.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let stream = weft::net::TcpStream::connect("127.0.0.1:8080").await?;
/// let io = weft::compat::hyper::WeftIo::new(stream);
/// let (sender, conn) = hyper::client::conn::http1::handshake::<_, String>(io).await?;
/// weft::spawn(conn);
/// # drop(sender); Ok(()) }
/// ```
#[derive(Debug)]
pub struct WeftIo<T> {
    inner: T,
}

// The adapter adds nothing to the stream it wraps: hyper's connection
// future embeds it, once per connection.
const _: () = assert!(std::mem::size_of::<WeftIo<TcpStream>>() == std::mem::size_of::<TcpStream>());

impl<T> WeftIo<T> {
    /// Wraps `stream`.
    pub fn new(stream: T) -> WeftIo<T> {
        WeftIo { inner: stream }
    }

    /// The stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// A weft stream that can read into uninitialised memory.
trait ReadUninit {
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;
}

macro_rules! read_uninit {
    ($($ty:ty),*) => {
        $(impl ReadUninit for $ty {
            fn poll_read_uninit(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                <$ty>::poll_read_uninit(self, cx, buf)
            }
        })*

        /// `stream` as a weft stream with a direct read, if it is one.
        fn as_weft_stream(stream: &dyn Any) -> Option<&dyn ReadUninit> {
            $(if let Some(stream) = stream.downcast_ref::<$ty>() {
                return Some(stream);
            })*
            None
        }

        /// Whether `T` is one of weft's streams (and so writes vectored).
        fn is_weft_stream<T: 'static>() -> bool {
            let id = std::any::TypeId::of::<T>();
            false $(|| id == std::any::TypeId::of::<$ty>())*
                || id == std::any::TypeId::of::<tcp::OwnedWriteHalf>()
                || id == std::any::TypeId::of::<unix::OwnedWriteHalf>()
        }
    };
}

read_uninit!(
    TcpStream,
    UnixStream,
    tcp::OwnedReadHalf,
    unix::OwnedReadHalf
);

impl<T: AsyncRead + Unpin + 'static> hyper::rt::Read for WeftIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // SAFETY: `as_mut` hands out the cursor's unfilled, possibly
        // uninitialised memory; we must not de-initialise any of it. Both
        // paths below only write to it: the kernel's `recvmsg`/`read`, or
        // a zero fill followed by an `AsyncRead` into the zeroed part.
        let spare = unsafe { buf.as_mut() };
        let n = match as_weft_stream(&this.inner) {
            Some(stream) => ready!(stream.poll_read_uninit(cx, spare))?,
            None => ready!(poll_read_generic(&mut this.inner, cx, spare))?,
        };
        // SAFETY: both paths initialised the first `n` bytes of `spare`:
        // `poll_read_uninit` promises it, `poll_read_generic` zeroed them
        // and checked `n` against what it zeroed.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

/// The generic path: zero up to [`GENERIC_READ_CHUNK`] bytes of `spare`
/// and read into them. On `Ready(Ok(n))` the first `n` bytes are
/// initialised.
fn poll_read_generic<T: AsyncRead + Unpin>(
    stream: &mut T,
    cx: &mut Context<'_>,
    spare: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    let len = spare.len().min(GENERIC_READ_CHUNK);
    let chunk = &mut spare[..len];
    chunk.fill(MaybeUninit::new(0));
    // SAFETY: every byte of `chunk` was initialised just above, and
    // `MaybeUninit<u8>` has the layout of `u8`.
    let bytes = unsafe { &mut *(std::ptr::from_mut(chunk) as *mut [u8]) };
    let n = ready!(Pin::new(stream).poll_read(cx, bytes))?;
    assert!(
        n <= len,
        "a futures_io::AsyncRead returned {n} bytes read into a buffer of {len}"
    );
    Poll::Ready(Ok(n))
}

impl<T: AsyncWrite + Unpin + 'static> hyper::rt::Write for WeftIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    /// `true` for weft's streams, which send all of hyper's buffers in one
    /// `sendmsg`. A generic `futures_io` stream may only implement the
    /// default vectored write (the first buffer alone), so hyper is told to
    /// flatten into its own buffer for those instead.
    fn is_write_vectored(&self) -> bool {
        is_weft_stream::<T>()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// `poll_close`: for a socket, shuts down the write direction.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// hyper's I/O seen through `futures_io`: reads go through hyper's
/// `ReadBuf` over the caller's (initialised) buffer.
impl<T: hyper::rt::Read + Unpin> AsyncRead for WeftIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = hyper::rt::ReadBuf::new(buf);
        ready!(Pin::new(&mut self.get_mut().inner).poll_read(cx, read_buf.unfilled()))?;
        Poll::Ready(Ok(read_buf.filled().len()))
    }
}

impl<T: hyper::rt::Write + Unpin> AsyncWrite for WeftIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The unsafe parts (hyper's uninitialised buffer) without sockets, so
/// Miri can run them.
#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::{Read, ReadBuf};

    /// An in-memory `AsyncRead` handing out `data` `step` bytes at a time,
    /// or, if `lie`, claiming more bytes than the buffer holds.
    struct Chunks {
        data: Vec<u8>,
        step: usize,
        lie: bool,
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if self.lie {
                return Poll::Ready(Ok(buf.len() + 1));
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Poll::Ready(Ok(n))
        }
    }

    fn read(io: &mut WeftIo<Chunks>, cap: usize) -> Vec<u8> {
        let mut storage = vec![MaybeUninit::<u8>::uninit(); cap];
        let mut buf = ReadBuf::uninit(&mut storage);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(io).poll_read(&mut cx, buf.unfilled()) {
            Poll::Ready(Ok(())) => buf.filled().to_vec(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn generic_path_fills_hyper_buffer() {
        let mut io = WeftIo::new(Chunks {
            data: (0..=255).collect(),
            step: 100,
            lie: false,
        });
        assert_eq!(read(&mut io, 64), (0..64).collect::<Vec<u8>>());
        assert_eq!(read(&mut io, 1000), (64..164).collect::<Vec<u8>>());
        assert_eq!(read(&mut io, 1000), (164..=255).collect::<Vec<u8>>());
        assert!(read(&mut io, 1000).is_empty(), "end-of-file");
        assert!(!hyper::rt::Write::is_write_vectored(&WeftIo::new(
            futures_util::io::Cursor::new(Vec::new())
        )));
    }

    #[test]
    #[should_panic(expected = "returned 17 bytes read into a buffer of 16")]
    fn generic_path_refuses_a_reader_that_overstates() {
        let mut io = WeftIo::new(Chunks {
            data: Vec::new(),
            step: 0,
            lie: true,
        });
        read(&mut io, 16);
    }

    #[test]
    fn futures_io_over_hyper_io_round_trips() {
        // WeftIo<WeftIo<Cursor>>: futures-io -> hyper -> futures-io.
        let mut outer = WeftIo::new(WeftIo::new(futures_util::io::Cursor::new(vec![0u8; 8])));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let wrote = Pin::new(&mut outer).poll_write(&mut cx, b"weft");
        assert!(matches!(wrote, Poll::Ready(Ok(4))));
        outer.inner_mut().inner_mut().set_position(0);
        let mut buf = [0u8; 6];
        let got = Pin::new(&mut outer).poll_read(&mut cx, &mut buf);
        assert!(matches!(got, Poll::Ready(Ok(6))));
        assert_eq!(&buf, b"weft\0\0");
    }
}
