//! Sockets on the reactor: TCP, UDP, and Unix-domain streams and datagrams.
//!
//! Every type registers with the current thread's reactor when created
//! (see [`context`](crate::context)) and may then be used from any thread.
//! Byte streams implement [`AsyncRead`] and [`AsyncWrite`]; vectored writes
//! go out as one `writev(2)`.
//! Errors carry the OS's kind (`ConnectionRefused`, `ConnectionReset`,
//! `BrokenPipe`, ...), exactly as std would report them.
//!
//! Addresses take what std's [`ToSocketAddrs`](std::net::ToSocketAddrs)
//! takes, through this crate's [`ToSocketAddrs`]: addresses and IP literals
//! are used at once, and host names are resolved on another thread (the
//! runtime's blocking pool), so a DNS lookup never blocks a worker.
//!
//! [`AsyncRead`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncRead.html
//! [`AsyncWrite`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html

mod addr;
#[cfg(all(test, loom))]
pub(crate) mod addr_test_support {
    pub(crate) use super::addr::oneshot;

    /// One poll of a receiver with `waker`.
    pub(crate) fn poll_once<T>(
        rx: &mut super::addr::Receiver<T>,
        waker: &std::task::Waker,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::future::Future;
        std::pin::Pin::new(rx).poll(&mut std::task::Context::from_waker(waker))
    }
}
// Hidden: the generic halves are reached through their one visible home,
// the `tcp` and `unix` modules below (`weft::net::tcp::OwnedReadHalf`, as
// in tokio); the names keep working.
#[doc(hidden)]
pub mod split;
mod sys;
mod tcp_inq;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp;
mod unix_datagram;
mod unix_stream;

/// What `poll_close` returns for a `shutdown(Write)` result. A peer that
/// already reset the connection leaves the socket unconnected, and
/// `shutdown` fails with `ENOTCONN`; but the write direction is as shut as
/// it will ever be, so closing succeeds (as in tokio). Without this, hyper
/// logs "error shutting down connection" for every client that hangs up
/// with a reset, which load generators such as wrk do at the end of a run.
fn close_result(shutdown: std::io::Result<()>) -> std::io::Result<()> {
    match shutdown {
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

pub use tcp_listener::{TcpListener, DEFAULT_BACKLOG};
pub use tcp_socket::TcpSocket;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix_datagram::UnixDatagram;
pub use unix_stream::{UnixListener, UnixStream};

pub use addr::{set_blocking_offload, BlockingJob, BlockingOffload, ToSocketAddrs};
#[doc(hidden)]
pub use split::SplitStream;

/// A module naming the split halves of one stream type, as tokio's
/// `net::tcp` and `net::unix` do.
macro_rules! split_types {
    ($(#[$doc:meta])* $module:ident, $stream:ident) => {
        $(#[$doc])*
        pub mod $module {
            use super::{split, $stream};

            #[doc = concat!(
                "The read half of a [`", stringify!($stream), "`] borrowed by [`",
                stringify!($stream), "::split`]. Implements [`AsyncRead`]; `as_ref()` ",
                "gives the stream.\n\n",
                "[`AsyncRead`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncRead.html"
            )]
            pub type ReadHalf<'a> = split::ReadHalf<'a, $stream>;
            #[doc = concat!(
                "The write half of a [`", stringify!($stream), "`] borrowed by [`",
                stringify!($stream), "::split`]. Implements [`AsyncWrite`]; closing it ",
                "shuts down the write direction; `as_ref()` gives the stream.\n\n",
                "[`AsyncWrite`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html"
            )]
            pub type WriteHalf<'a> = split::WriteHalf<'a, $stream>;
            #[doc = concat!(
                "The read half of a [`", stringify!($stream), "`] taken by [`",
                stringify!($stream), "::into_split`], for a task to own. Implements ",
                "[`AsyncRead`]. Methods: `peer_addr()`, `local_addr()`, `as_ref()` ",
                "(the stream), and `reunite(write_half)`, which gives the stream back ",
                "(or both halves, in a [`ReuniteError`], if they come from two streams).\n\n",
                "[`AsyncRead`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncRead.html"
            )]
            pub type OwnedReadHalf = split::OwnedReadHalf<$stream>;
            #[doc = concat!(
                "The write half of a [`", stringify!($stream), "`] taken by [`",
                stringify!($stream), "::into_split`], for a task to own. Implements ",
                "[`AsyncWrite`]; closing or dropping it shuts down the write direction, ",
                "so the peer reads end-of-file. Methods: `peer_addr()`, `local_addr()`, ",
                "`as_ref()` (the stream), and `reunite(read_half)`, as on [`OwnedReadHalf`].\n\n",
                "[`AsyncWrite`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html"
            )]
            pub type OwnedWriteHalf = split::OwnedWriteHalf<$stream>;

            /// The halves passed to `reunite` (on [`OwnedReadHalf`] or
            /// [`OwnedWriteHalf`]) came from different streams; here they are
            /// back.
            #[derive(Debug)]
            pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

            impl From<(OwnedReadHalf, OwnedWriteHalf)> for ReuniteError {
                fn from((read, write): (OwnedReadHalf, OwnedWriteHalf)) -> ReuniteError {
                    ReuniteError(read, write)
                }
            }

            impl std::fmt::Display for ReuniteError {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(concat!(
                        "tried to reunite halves that are not from the same ",
                        stringify!($stream)
                    ))
                }
            }

            impl std::error::Error for ReuniteError {}
        }
    };
}

split_types!(
    /// The halves of a split [`TcpStream`] (tokio's `net::tcp`).
    tcp,
    TcpStream
);
split_types!(
    /// The halves of a split [`UnixStream`] (tokio's `net::unix`).
    unix,
    UnixStream
);

/// `AsyncRead` / `AsyncWrite` for an owned stream type, forwarded to the
/// impls on `&Type` (which is where the byte-stream logic lives: a shared
/// reference is enough to read and write a socket).
macro_rules! forward_io_to_ref {
    ($ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read_vectored(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_close(cx)
            }
        }
    };
}
pub(crate) use forward_io_to_ref;

/// `Debug` (showing the std socket inside), `AsFd` and `AsRawFd` for a
/// socket type whose `inner` field is an [`Async`](crate::Async).
macro_rules! impl_fd_traits {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($ty))
                    .field(self.inner.get_ref())
                    .finish()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.inner)
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.inner)
            }
        }
    };
}
pub(crate) use impl_fd_traits;

/// `readable()` and `writable()` for a socket type whose `inner` field is
/// an [`Async`](crate::Async).
macro_rules! impl_readiness {
    ($ty:ident) => {
        impl $ty {
            /// Waits until the socket is readable; see
            /// [`Async::readable`](crate::Async::readable).
            ///
            /// # Errors
            ///
            /// Fails once the runtime shut down.
            pub async fn readable(&self) -> std::io::Result<()> {
                self.inner.readable().await
            }

            /// Waits until the socket is writable; see
            /// [`Async::writable`](crate::Async::writable).
            ///
            /// # Errors
            ///
            /// Fails once the runtime shut down.
            pub async fn writable(&self) -> std::io::Result<()> {
                self.inner.writable().await
            }
        }
    };
}
pub(crate) use impl_readiness;
