//! The halves of a split byte stream ([`TcpStream`] or [`UnixStream`]), so
//! a reader and a writer can live in different tasks. Each half only ever
//! touches its own direction of the shared source: a read event wakes the
//! reader, a write event the writer.
//!
//! The types are generic over the stream; `weft::net::tcp` and
//! `weft::net::unix` name them for each stream type, as tokio does.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::{TcpStream, UnixStream};
use crate::sync::Arc;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::TcpStream {}
    impl Sealed for super::UnixStream {}
}

/// A byte stream that can be split into halves: [`TcpStream`] or
/// [`UnixStream`]. Sealed; the halves reach the stream only through it.
#[doc(hidden)]
pub trait SplitStream: sealed::Sealed + fmt::Debug + Sized {
    /// What [`OwnedReadHalf::reunite`] gives back for halves of two
    /// different streams: [`tcp::ReuniteError`](super::tcp::ReuniteError)
    /// or [`unix::ReuniteError`](super::unix::ReuniteError), tuple structs
    /// as in tokio.
    type ReuniteError: From<(OwnedReadHalf<Self>, OwnedWriteHalf<Self>)>;

    #[doc(hidden)]
    fn poll_read_split(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>>;

    #[doc(hidden)]
    fn poll_read_uninit_split(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;

    #[doc(hidden)]
    fn poll_write_split(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;

    #[doc(hidden)]
    fn shutdown_split(&self, how: Shutdown) -> io::Result<()>;
}

impl SplitStream for TcpStream {
    type ReuniteError = super::tcp::ReuniteError;

    fn poll_read_split(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_priv(cx, bufs)
    }

    fn poll_read_uninit_split(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_uninit(cx, buf)
    }

    fn poll_write_split(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, bufs)
    }

    fn shutdown_split(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

impl SplitStream for UnixStream {
    type ReuniteError = super::unix::ReuniteError;

    fn poll_read_split(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self).poll_read_vectored(cx, bufs)
    }

    fn poll_read_uninit_split(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_uninit(cx, buf)
    }

    fn poll_write_split(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self).poll_write_vectored(cx, bufs)
    }

    fn shutdown_split(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

/// The read half of a borrowed stream; see `split` on the stream.
#[derive(Debug)]
pub struct ReadHalf<'a, S>(&'a S);

/// The write half of a borrowed stream; see `split` on the stream.
/// `poll_close` shuts down the write direction.
#[derive(Debug)]
pub struct WriteHalf<'a, S>(&'a S);

/// The borrowed halves of `stream`.
pub(crate) fn split<S>(stream: &S) -> (ReadHalf<'_, S>, WriteHalf<'_, S>) {
    (ReadHalf(stream), WriteHalf(stream))
}

/// The owned halves of `stream`.
pub(crate) fn into_split<S: SplitStream>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let stream = Arc::new(stream);
    (
        OwnedReadHalf {
            stream: stream.clone(),
        },
        OwnedWriteHalf {
            stream,
            shutdown_on_drop: true,
        },
    )
}

impl<S> AsRef<S> for ReadHalf<'_, S> {
    fn as_ref(&self) -> &S {
        self.0
    }
}

impl<S> AsRef<S> for WriteHalf<'_, S> {
    fn as_ref(&self) -> &S {
        self.0
    }
}

/// The read half of a stream split with `into_split`.
#[derive(Debug)]
pub struct OwnedReadHalf<S> {
    stream: Arc<S>,
}

/// The write half of a stream split with `into_split`. Dropping it (or
/// `poll_close`) shuts down the write direction, so the peer reads
/// end-of-file.
#[derive(Debug)]
pub struct OwnedWriteHalf<S: SplitStream> {
    stream: Arc<S>,
    shutdown_on_drop: bool,
}

impl<S: SplitStream> OwnedReadHalf<S> {
    /// Puts the stream back together.
    ///
    /// # Errors
    ///
    /// Gives both halves back if they come from different streams.
    pub fn reunite(self, mut other: OwnedWriteHalf<S>) -> Result<S, S::ReuniteError> {
        if !Arc::ptr_eq(&self.stream, &other.stream) {
            return Err((self, other).into());
        }
        other.shutdown_on_drop = false;
        let stream = other.stream.clone();
        drop((self, other));
        Ok(Arc::try_unwrap(stream).expect("both halves were just dropped"))
    }
}

impl<S: SplitStream> ReadHalf<'_, S> {
    /// The stream's `poll_read_uninit`: a read into memory that may be
    /// uninitialised; see `TcpStream::poll_read_uninit`.
    ///
    /// # Errors
    ///
    /// As the stream's read.
    #[doc(hidden)]
    pub fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_read_uninit_split(cx, buf)
    }
}

impl<S: SplitStream> OwnedReadHalf<S> {
    /// The stream's `poll_read_uninit`: a read into memory that may be
    /// uninitialised; see `TcpStream::poll_read_uninit`.
    ///
    /// # Errors
    ///
    /// As the stream's read.
    #[doc(hidden)]
    pub fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_uninit_split(cx, buf)
    }
}

impl<S: SplitStream> OwnedWriteHalf<S> {
    /// Puts the stream back together; the same as
    /// [`OwnedReadHalf::reunite`] from this side.
    ///
    /// # Errors
    ///
    /// Gives both halves back if they come from different streams.
    pub fn reunite(self, other: OwnedReadHalf<S>) -> Result<S, S::ReuniteError> {
        other.reunite(self)
    }
}

impl<S: SplitStream> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // The peer may be gone already (NotConnected); nothing to do then.
            let _ = self.stream.shutdown_split(Shutdown::Write);
        }
    }
}

impl<S> AsRef<S> for OwnedReadHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: SplitStream> AsRef<S> for OwnedWriteHalf<S> {
    fn as_ref(&self) -> &S {
        &self.stream
    }
}

/// Addresses on the owned halves, as on the stream.
macro_rules! half_addrs {
    ($stream:ty, $addr:ty) => {
        impl OwnedReadHalf<$stream> {
            /// The remote address, as on the stream.
            ///
            /// # Errors
            ///
            /// As `getpeername(2)`.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.stream.peer_addr()
            }

            /// The local address, as on the stream.
            ///
            /// # Errors
            ///
            /// As `getsockname(2)`.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.stream.local_addr()
            }
        }

        impl OwnedWriteHalf<$stream> {
            /// The remote address, as on the stream.
            ///
            /// # Errors
            ///
            /// As `getpeername(2)`.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.stream.peer_addr()
            }

            /// The local address, as on the stream.
            ///
            /// # Errors
            ///
            /// As `getsockname(2)`.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.stream.local_addr()
            }
        }
    };
}

half_addrs!(TcpStream, std::net::SocketAddr);
half_addrs!(UnixStream, std::os::unix::net::SocketAddr);

impl<S: SplitStream> AsyncRead for ReadHalf<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_read_split(cx, &mut [IoSliceMut::new(buf)])
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_read_split(cx, bufs)
    }
}

impl<S: SplitStream> AsyncRead for OwnedReadHalf<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_split(cx, &mut [IoSliceMut::new(buf)])
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_split(cx, bufs)
    }
}

impl<S: SplitStream> AsyncWrite for WriteHalf<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_split(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_split(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(super::close_result(self.0.shutdown_split(Shutdown::Write)))
    }
}

impl<S: SplitStream> AsyncWrite for OwnedWriteHalf<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_split(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_split(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(super::close_result(
            self.stream.shutdown_split(Shutdown::Write),
        ))
    }
}
