//! [`IoSafe`]: the promise that lets [`Async<T>`](super::Async) hand `T` to
//! `Read`/`Write` code it did not write.

use std::os::fd::AsFd;

/// Types whose I/O methods never close or replace the file descriptor they
/// return from [`AsFd::as_fd`].
///
/// [`Async<T>`](crate::Async) registers `T`'s fd with the poller and must
/// deregister that same fd before it is closed (the poller's contract). Its
/// [`futures_io::AsyncRead`] / [`futures_io::AsyncWrite`] impls call `T`'s
/// [`std::io::Read`] / [`std::io::Write`] through `&mut T` or `&T`, which is
/// arbitrary safe code: a `read` that closed the fd, or swapped in another
/// one, would leave the poller watching a stale descriptor (and a reused
/// number, someone else's). So those impls require `T: IoSafe`, as async-io's
/// do. `readable`/`writable`/`read_with`/`write_with` need no such promise.
///
/// Implemented for the std types that carry bytes over an fd, and for
/// `Box`, `Arc` and `Rc` of them (sharing cannot close the fd while the
/// `Async` holds one owner).
///
/// # Safety
///
/// Implement it only if no method reachable through `&mut Self` or `&Self`
/// closes, replaces or otherwise invalidates the fd that `as_fd` returns.
///
/// # Examples
///
/// A type of your own gets the impls once it makes the promise:
///
/// ```
/// use std::os::fd::{AsFd, BorrowedFd};
///
/// struct Logged(std::os::unix::net::UnixStream);
/// impl AsFd for Logged {
///     fn as_fd(&self) -> BorrowedFd<'_> {
///         self.0.as_fd()
///     }
/// }
/// impl std::io::Read for Logged {
///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
///         let n = self.0.read(buf)?;
///         eprintln!("read {n} bytes");
///         Ok(n)
///     }
/// }
/// // SAFETY: `read` only reads through the stream it holds; nothing
/// // closes or replaces it.
/// unsafe impl weft::io::IoSafe for Logged {}
///
/// fn is_async_read<R: weft::io::AsyncRead>() {}
/// is_async_read::<weft::io::Async<Logged>>();
/// ```
///
/// Without the promise there is no `AsyncRead`:
///
/// ```compile_fail
/// use std::os::fd::{AsFd, BorrowedFd};
///
/// struct Swapper(std::fs::File);
/// impl AsFd for Swapper {
///     fn as_fd(&self) -> BorrowedFd<'_> {
///         self.0.as_fd()
///     }
/// }
/// impl std::io::Read for Swapper {
///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
///         // Closes the registered fd behind the reactor's back.
///         self.0 = std::fs::File::open("/dev/null")?;
///         self.0.read(buf)
///     }
/// }
///
/// fn is_async_read<R: weft::io::AsyncRead>() {}
/// is_async_read::<weft::io::Async<Swapper>>();
/// ```
pub unsafe trait IoSafe: AsFd {}

/// Implements `IoSafe` for std types whose `Read`/`Write` only transfer
/// bytes through the fd they own.
macro_rules! io_safe {
    ($($t:ty),* $(,)?) => {
        $(
            // SAFETY: std's I/O methods on this type read or write through
            // the fd it owns; none closes or replaces it (only dropping the
            // value does, which `Async` orders after deregistering).
            unsafe impl IoSafe for $t {}
        )*
    };
}

io_safe!(
    std::fs::File,
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixDatagram,
    std::os::fd::OwnedFd,
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr,
    std::io::Stdin,
    std::io::Stdout,
    std::io::Stderr,
);

// SAFETY: a `Box` owns its `T`; it offers nothing beyond `T`'s own methods.
unsafe impl<T: IoSafe + ?Sized> IoSafe for Box<T> {}
// SAFETY: other owners of the `Arc` can only reach `&T`, whose methods keep
// the fd (`T: IoSafe`); the fd closes with the last owner, and the `Async`
// is one until it deregisters.
unsafe impl<T: IoSafe + ?Sized> IoSafe for std::sync::Arc<T> {}
// SAFETY: as for `Arc`.
unsafe impl<T: IoSafe + ?Sized> IoSafe for std::rc::Rc<T> {}
