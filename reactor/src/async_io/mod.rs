//! [`Async<T>`]: any file descriptor, registered with the reactor, usable
//! from async code.
//!
//! Every operation has the same shape ([`poll_op`]): spend a unit of the
//! coop budget, wait until the direction is ready, try the syscall; on
//! `WouldBlock` clear the readiness (tick-checked, see [`crate::source`]) and
//! wait again. An operation may also prove the direction drained without a
//! `WouldBlock` (the `drained` predicate) and clear readiness right away,
//! saving the syscall that would only say `EAGAIN`: a short write on a byte
//! stream (send buffer full), or a TCP read after which the kernel reports
//! nothing left (`TCP_INQ`, see `net/tcp_inq.rs`). The generic impls here do
//! not guess: a terminal or a datagram-like fd can return less than asked
//! while more is still waiting, and edge-triggered polling would then
//! report nothing new.

mod io_safe;
mod io_traits;

pub use io_safe::IoSafe;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};

use weft_executor::coop;

use crate::context;
use crate::reactor::{Handle, Registration};
use crate::readiness::Direction;
use crate::source::{ReadyEvent, Source};

/// An I/O source (socket, pipe, ...) registered with the reactor.
///
/// `Async<T>` puts the fd in non-blocking mode and registers it once,
/// edge-triggered, with the current thread's reactor. Operations wait for
/// readiness instead of blocking the thread: a `WouldBlock` parks the task,
/// never the worker.
///
/// * [`readable`](Async::readable) / [`writable`](Async::writable) wait for
///   readiness and leave the syscall to you;
/// * [`read_with`](Async::read_with) / [`write_with`](Async::write_with) run
///   your non-blocking operation until it stops saying `WouldBlock`;
/// * `Async<T>` implements [`futures_io::AsyncRead`] /
///   [`futures_io::AsyncWrite`] when `T` implements [`std::io::Read`] /
///   [`std::io::Write`]; `&Async<T>` does when `&T` does; in both cases
///   `T` must be [`IoSafe`] (its I/O methods cannot close the registered
///   fd: every std socket, pipe and file is).
///
/// Dropping it (or [`into_inner`](Async::into_inner)) deletes the fd from the
/// poller before the fd is closed or handed back.
///
/// `T::as_fd` must return the same fd for as long as `T` lives (true of every
/// std type). If `T` shares the fd with other owners (say `Arc<File>`), they
/// must not close it while the `Async` lives.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::net::UdpSocket;
/// use weft::io::Async;
///
/// let socket = Async::new(UdpSocket::bind("127.0.0.1:0")?)?;
/// let mut buf = [0u8; 1500];
/// let (n, from) = socket.read_with(|s| s.recv_from(&mut buf)).await?;
/// socket.write_with(|s| s.send_to(&buf[..n], from)).await?;
/// # Ok(()) }
/// ```
///
/// [`AsyncRead`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncRead.html
/// [`AsyncWrite`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html
pub struct Async<T: AsFd> {
    /// `Some` from `new` until `Drop` or `into_inner` takes it out, right
    /// after deregistering.
    io: Option<T>,
    registration: Registration,
}

// No field is structurally pinned: `T` is only ever used through `&`/`&mut`.
impl<T: AsFd> Unpin for Async<T> {}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with this thread's
    /// reactor.
    ///
    /// # Errors
    ///
    /// Fails if the fd cannot be made non-blocking or registered (for
    /// instance, it is a regular file, which epoll refuses), or the runtime
    /// shut down.
    ///
    /// # Panics
    ///
    /// Panics if the thread has no current reactor: call it inside a task,
    /// inside `Runtime::block_on`, or after `Runtime::enter`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::io::Async;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let _guard = rt.enter();
    /// let listener = Async::new(std::net::TcpListener::bind("127.0.0.1:0")?)?;
    /// # let _ = listener;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn new(io: T) -> io::Result<Async<T>> {
        let handle = context::current();
        Async::with_handle(io, &handle)
    }

    /// Like [`new`](Async::new), with an explicit reactor instead of the
    /// current one.
    ///
    /// # Errors
    ///
    /// As for [`new`](Async::new).
    pub fn with_handle(io: T, handle: &Handle) -> io::Result<Async<T>> {
        rustix::io::ioctl_fionbio(io.as_fd(), true)?;
        Async::new_nonblocking(io, handle)
    }

    /// Registers `io`, which the caller already made non-blocking (sockets
    /// created with `SOCK_NONBLOCK` save the `ioctl`).
    pub(crate) fn new_nonblocking(io: T, handle: &Handle) -> io::Result<Async<T>> {
        // SAFETY: `register` needs the fd to stay open until `deregister`.
        // From here on `Async` owns `io`; the only ways to give it up are
        // `Drop` and `into_inner`, which both deregister first, and the only
        // way to swap it out from under us, `get_mut`, is unsafe with that
        // obligation. Forgetting the `Async` forgets `io` too, so the fd is
        // not closed by us either.
        let registration = unsafe { handle.reactor().register(io.as_fd())? };
        Ok(Async {
            io: Some(io),
            registration,
        })
    }

    /// The inner I/O source.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async used after into_inner")
    }

    /// The inner I/O source, mutably.
    ///
    /// # Safety
    ///
    /// The source must not be replaced or closed through this reference
    /// (for example with `std::mem::swap`): the fd stays registered with the
    /// poller until the `Async` is dropped, and polling requires it to stay
    /// open until then.
    pub unsafe fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("Async used after into_inner")
    }

    /// Deregisters the source and returns it. It stays in non-blocking mode.
    pub fn into_inner(mut self) -> T {
        let io = self.io.take().expect("Async used after into_inner");
        self.registration.deregister(io.as_fd());
        io
    }

    /// The reactor this source is registered with.
    pub fn handle(&self) -> &Handle {
        self.registration.handle()
    }

    fn source(&self) -> &Source {
        self.registration.source()
    }

    /// Polls for read readiness.
    ///
    /// Only the last task to call this (or to poll this source through
    /// `AsyncRead`) is woken; for several waiters use [`readable`](Async::readable).
    /// Readiness may be spurious: the next read may still say `WouldBlock`.
    ///
    /// # Errors
    ///
    /// Fails once the runtime shut down.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_reported(cx, Direction::Read, |cx| {
            self.source().poll_ready(Direction::Read, cx)
        })
    }

    /// Polls for write readiness; see [`poll_readable`](Async::poll_readable).
    ///
    /// # Errors
    ///
    /// Fails once the runtime shut down.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_reported(cx, Direction::Write, |cx| {
            self.source().poll_ready(Direction::Write, cx)
        })
    }

    /// Waits until the source is readable. Any number of tasks may wait at
    /// once.
    ///
    /// Readiness may be spurious. Awaiting it again after your own read said
    /// `WouldBlock` waits for new data; awaiting it again after a partial
    /// read returns at once if data remains.
    ///
    /// # Errors
    ///
    /// Fails once the runtime shut down.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(listener: weft::io::Async<std::net::TcpListener>) -> std::io::Result<()> {
    /// listener.readable().await?; // a connection is waiting (probably)
    /// match listener.get_ref().accept() {
    ///     Ok((stream, addr)) => println!("{addr}: {stream:?}"),
    ///     Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {} // spurious
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        let mut waiter = self.source().waiter(Direction::Read);
        poll_fn(|cx| self.poll_reported(cx, Direction::Read, |cx| waiter.poll_ready(cx))).await
    }

    /// Waits until the source is writable; see [`readable`](Async::readable).
    ///
    /// # Errors
    ///
    /// Fails once the runtime shut down.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(socket: weft::io::Async<std::net::UdpSocket>) -> std::io::Result<()> {
    /// socket.writable().await?;
    /// # Ok(()) }
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        let mut waiter = self.source().waiter(Direction::Write);
        poll_fn(|cx| self.poll_reported(cx, Direction::Write, |cx| waiter.poll_ready(cx))).await
    }

    /// Runs the non-blocking read-side operation `op` until it returns
    /// something other than `WouldBlock`, waiting for read readiness in
    /// between. Any number of tasks may do this at once.
    ///
    /// # Errors
    ///
    /// Whatever `op` returns, or the shutdown error once the runtime shut
    /// down.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::io::Async;
    ///
    /// # weft::Runtime::new().unwrap().block_on(async {
    /// let listener = Async::new(std::net::TcpListener::bind("127.0.0.1:0")?)?;
    /// let addr = listener.get_ref().local_addr()?;
    /// let client = std::net::TcpStream::connect(addr)?;
    /// let (stream, peer) = listener.read_with(|l| l.accept()).await?;
    /// assert_eq!(peer, client.local_addr()?);
    /// # let _ = stream;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut waiter = self.source().waiter(Direction::Read);
        let io = self.get_ref();
        poll_fn(|cx| {
            let source = self.source();
            poll_op(cx, source, |cx| waiter.poll_ready(cx), || op(io), |_| false)
        })
        .await
    }

    /// Runs the non-blocking write-side operation `op` until it returns
    /// something other than `WouldBlock`; see [`read_with`](Async::read_with).
    ///
    /// # Errors
    ///
    /// Whatever `op` returns, or the shutdown error once the runtime shut
    /// down.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(socket: weft::io::Async<std::net::UdpSocket>) -> std::io::Result<()> {
    /// socket.write_with(|s| s.send_to(b"ping", "127.0.0.1:9000")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut waiter = self.source().waiter(Direction::Write);
        let io = self.get_ref();
        poll_fn(|cx| {
            let source = self.source();
            poll_op(cx, source, |cx| waiter.poll_ready(cx), || op(io), |_| false)
        })
        .await
    }

    /// Polls `op` on `dir` through the direct waker slot. `drained` says
    /// whether a successful result also proves the direction drained (a
    /// TCP read with nothing left behind, or a short write on a byte stream).
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
        drained: impl FnOnce(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        let source = self.source();
        poll_op(
            cx,
            source,
            |cx| source.poll_ready(dir, cx),
            || op(io),
            drained,
        )
    }

    /// `poll_io` with `&mut T`, for the generic `AsyncRead`/`AsyncWrite`.
    pub(crate) fn poll_io_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.io.as_mut().expect("Async used after into_inner");
        let source = self.registration.source();
        poll_op(
            cx,
            source,
            |cx| source.poll_ready(dir, cx),
            || op(io),
            |_| false,
        )
    }

    /// The readiness futures' poll: see [`Source::mark_reported`].
    fn poll_reported(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut wait: impl FnMut(&mut Context<'_>) -> Poll<io::Result<ReadyEvent>>,
    ) -> Poll<io::Result<()>> {
        let mut budget = std::task::ready!(coop::poll_proceed(cx));
        loop {
            let event = std::task::ready!(wait(cx))?;
            if self.source().mark_reported(event) || fd_still_ready(self.get_ref().as_fd(), dir) {
                budget.made_progress();
                return Poll::Ready(Ok(()));
            }
            // The caller already heard of this event and the fd is not
            // ready any more: it drained it. Drop the stale readiness (unless
            // a newer event arrived) and wait for the next edge.
            self.source().clear_readiness(event);
        }
    }
}

/// The loop every operation runs: budget, readiness, syscall, and on
/// `WouldBlock` a tick-checked clear and another wait.
pub(crate) fn poll_op<R>(
    cx: &mut Context<'_>,
    source: &Source,
    mut wait: impl FnMut(&mut Context<'_>) -> Poll<io::Result<ReadyEvent>>,
    mut op: impl FnMut() -> io::Result<R>,
    drained: impl FnOnce(&R) -> bool,
) -> Poll<io::Result<R>> {
    // Spend one unit of the task's budget; it is given back if we end up
    // returning `Pending` (the guard is dropped without `made_progress`).
    let mut budget = std::task::ready!(coop::poll_proceed(cx));
    loop {
        let event = std::task::ready!(wait(cx))?;
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                source.clear_readiness(event);
            }
            result => {
                if let Ok(value) = &result {
                    if drained(value) {
                        source.clear_drained(event);
                    }
                }
                budget.made_progress();
                return Poll::Ready(result);
            }
        }
    }
}

/// Whether `fd` is ready for `dir` right now (a zero-timeout `poll(2)`).
/// Errors count as ready: the caller's own syscall will report them.
#[cold]
fn fd_still_ready(fd: BorrowedFd<'_>, dir: Direction) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let flags = match dir {
        Direction::Read => PollFlags::IN,
        Direction::Write => PollFlags::OUT,
    };
    let mut fds = [PollFd::from_borrowed_fd(fd, flags)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&zero)) {
        Ok(n) => n > 0 && !fds[0].revents().is_empty(),
        Err(_) => true,
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Delete from the poller first, then let `io` close the fd.
            self.registration.deregister(io.as_fd());
            drop(io);
        }
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async")
            .field("io", &self.io)
            .field("state", &self.source().state())
            .finish()
    }
}
