//! Sockets on the reactor: TCP, UDP and Unix-domain streams.
//!
//! Every type registers with the current thread's reactor when created
//! (see [`context`](crate::context)) and may then be used from any thread.
//! Byte streams implement [`futures_io::AsyncRead`] and
//! [`futures_io::AsyncWrite`]; vectored writes go out as one `writev(2)`.
//! Errors carry the OS's kind (`ConnectionRefused`, `ConnectionReset`,
//! `BrokenPipe`, ...), exactly as std would report them.
//!
//! Addresses accept whatever std's [`ToSocketAddrs`](std::net::ToSocketAddrs)
//! accepts. Host names are resolved on the calling thread, as std does.

mod sys;
mod tcp_inq;
mod tcp_listener;
mod tcp_split;
mod tcp_stream;
mod udp;
mod unix;

pub use tcp_listener::TcpListener;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

/// The halves of a split [`TcpStream`] (tokio's `net::tcp`).
pub mod tcp {
    pub use super::tcp_split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
}
