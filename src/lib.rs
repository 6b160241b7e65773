//! weft: a multi-threaded, work-stealing async runtime.
//!
//! A tour, mirroring the README:
//!
//! - [`Runtime`] / [`Builder`]: worker threads (one per core by default),
//!   each with its own run queue, stealing from each other when idle; one
//!   reactor on `polling` (epoll) that wakes them when sockets are ready and
//!   timers fire; a blocking pool.
//! - [`spawn`], [`spawn_blocking`], [`task`]: tasks, join handles, abort,
//!   [`task::JoinSet`], [`task::yield_now`].
//! - [`time`]: `sleep`, `timeout`, `interval` on a hierarchical timer wheel
//!   with exact deadlines.
//! - [`net`]: TCP, UDP and Unix sockets implementing `futures_io`'s
//!   `AsyncRead` / `AsyncWrite`; [`io::Async`] for any other file descriptor.
//! - [`io`]: `AsyncReadExt`, `AsyncWriteExt`, `BufReader`, `copy`, ... (from
//!   futures-util), one import for a server's I/O code: `read`, `write_all`
//!   and friends come from its extension traits.
//! - [`signal`]: `ctrl_c` and Unix signals, delivered by the same reactor.
//! - [`RuntimeMetrics`]: per-worker polls, steals, parks, busy time.
//! - [`trace`]: execution traces (`Runtime::start_trace`), written as
//!   Chrome/Perfetto JSON or one self-contained HTML file.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = weft::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let mut set = weft::task::JoinSet::new();
//!     for i in 0..10u64 {
//!         set.spawn(async move {
//!             weft::time::sleep(Duration::from_millis(10)).await;
//!             i
//!         });
//!     }
//!     let mut sum = 0;
//!     while let Some(res) = set.join_next().await {
//!         sum += res.unwrap();
//!     }
//!     assert_eq!(sum, 45);
//! });
//! ```
//!
//! The crates behind it: `weft-executor` (tasks, scheduler, blocking pool,
//! metrics), `weft-reactor` (the event loop, sockets, the driver),
//! `weft-timer` (the timer wheel). Use them through `weft`: every example
//! in these pages is written with `weft::` paths.
//!
//! More in the repository's `docs/` folder: `docs/guide.md` (a user's
//! guide: a server, timers, sockets, shutdown, metrics, coming from tokio), `docs/concepts.md`
//! (callbacks, coroutines, the event loop, concurrency and parallelism, and
//! where weft does each), `docs/benchmarks.md` (weft against tokio and
//! async-executor, measured), `docs/architecture.md` and
//! `docs/scheduler.md` (the design, and the sleep protocol's proof sketch).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod handle;
mod runtime;
pub mod signal;
pub mod trace;

pub use handle::{EnterGuard, Handle, TryCurrentError};
pub use runtime::{Builder, DriverStats, Runtime};
pub use weft_executor::RuntimeMetrics;
/// What a panic in a spawned task does to its runtime; see
/// [`Builder::unhandled_panic`].
///
/// ```
/// use weft::UnhandledPanic;
///
/// let rt = weft::Runtime::builder()
///     .worker_threads(1)
///     .unhandled_panic(UnhandledPanic::ShutdownRuntime)
///     .build()
///     .unwrap();
/// let task = rt.spawn(async { panic!("boom") });
/// // The task's panic shut the runtime down: this `block_on` panics too.
/// let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
///     rt.block_on(std::future::pending::<()>())
/// }));
/// assert!(result.is_err());
/// # drop(task);
/// ```
pub use weft_executor::UnhandledPanic;

/// A poll that blocked a worker for longer than the threshold of
/// [`Builder::on_long_poll`], reported while it still ran.
///
/// ```
/// use std::time::Duration;
///
/// let (tx, rx) = std::sync::mpsc::channel();
/// let tx = std::sync::Mutex::new(tx);
/// let rt = weft::Runtime::builder()
///     .worker_threads(1)
///     .on_long_poll(Duration::from_millis(20), move |stall: &weft::LongPoll| {
///         let _ = tx.lock().unwrap().send(stall.clone());
///     })
///     .build()
///     .unwrap();
/// let task = rt.spawn(async {
///     // Blocking code inside async code: this is what gets reported.
///     std::thread::sleep(Duration::from_millis(200));
/// });
/// let stall = rx.recv_timeout(Duration::from_secs(10)).unwrap();
/// assert_eq!(stall.worker, 0);
/// assert_eq!(stall.task_id, task.id());
/// assert!(stall.elapsed >= Duration::from_millis(20));
/// rt.block_on(task).unwrap();
/// ```
pub use weft_executor::LongPoll;

#[cfg(feature = "macros")]
#[doc(inline)]
pub use weft_macros::{main, test};

#[cfg(feature = "hyper")]
pub mod compat;

use std::future::Future;

/// Tasks: handles, errors, sets, yielding.
pub mod task {
    pub use crate::{spawn, spawn_blocking};
    pub use weft_executor::task::{yield_now, AbortHandle, Id, JoinError, JoinHandle, JoinSet};
}

/// Timers: sleeping, deadlines, intervals.
///
/// Created inside a runtime (a task, `block_on`, or after `enter`), polled
/// on any thread. A timer never fires early; on an idle machine it fires a
/// fraction of a millisecond late.
pub mod time {
    pub use weft_timer::{
        interval, interval_at, sleep, sleep_until, timeout, timeout_at, Elapsed, Interval,
        MissedTickBehavior, Sleep, Timeout,
    };
}

/// Non-blocking sockets: TCP, UDP, Unix.
///
/// # Configuring a socket before it listens
///
/// [`TcpListener::bind`](net::TcpListener::bind) sets `SO_REUSEADDR` and
/// listens with a backlog of 1024 (or `net.core.somaxconn` if lower). For
/// anything else, [`TcpSocket`](net::TcpSocket):
///
/// ```
/// use weft::net::{TcpSocket, TcpStream};
///
/// let rt = weft::Runtime::new().unwrap();
/// rt.block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.set_reuseport(true)?; // several listeners, one port
///     socket.set_recv_buffer_size(256 * 1024)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(4096)?;
///
///     let addr = listener.local_addr()?;
///     let client = TcpSocket::new_v4()?;
///     client.set_nodelay(true)?;
///     let _stream: TcpStream = client.connect(addr).await?;
///     let (_peer, _) = listener.accept().await?;
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub mod net {
    pub use weft_reactor::net::*;
}

/// Async I/O: the traits and helpers a server writes with, and
/// [`Async`](io::Async) for readiness-based I/O on any file descriptor.
///
/// Everything but `Async` and [`split`](io::split) is re-exported from
/// [`futures-util`](https://docs.rs/futures-util) (its `io` module), the
/// crate behind the `futures` facade; weft's sockets implement its
/// `AsyncRead` / `AsyncWrite` (the `futures-io` traits), so the extension
/// traits work on them directly. The names are tokio's where tokio has
/// them: `AsyncReadExt::read_exact`, `AsyncWriteExt::write_all`,
/// `AsyncBufReadExt::read_line`, `BufReader`, `copy`, `split`. One
/// difference: `lines()` gives a `Stream` (iterate it with
/// `futures_util::StreamExt::next`), where tokio has `next_line()`.
///
/// Why futures-util and not futures-lite (either serves, DESIGN.md §3a):
/// futures-util has everything a tokio user reaches for here, `copy_buf`,
/// `LineWriter` and `split` halves that `reunite` included; futures-lite
/// lacks `copy_buf` and `LineWriter`. The cost, measured as a fresh debug
/// `cargo build` of an empty crate depending on each (2 shared cores, two
/// rounds): futures-util with `std` + `io` 2.1 s and 2.3 s (8 crates),
/// futures-lite 0.8 s and 1.0 s (7 crates): about 1.3 s once, and nothing
/// for a program that already builds hyper or `futures`, which pull
/// futures-util in anyway.
///
/// # Examples
///
/// A line server over weft's `TcpStream`: `read_line` from a `BufReader`,
/// `write_all` back, and `copy` to send a whole buffer.
///
/// ```
/// use weft::io::{copy, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Cursor};
/// use weft::net::{TcpListener, TcpStream};
///
/// let rt = weft::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///
///     // The server answers each line with its length.
///     let server = weft::spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         let mut reader = BufReader::new(&stream);
///         let mut writer = &stream;
///         let mut line = String::new();
///         while reader.read_line(&mut line).await? != 0 {
///             let answer = format!("{}\n", line.trim_end().len());
///             writer.write_all(answer.as_bytes()).await?;
///             line.clear();
///         }
///         weft::io::Result::Ok(())
///     });
///
///     let mut client = TcpStream::connect(addr).await?;
///     let sent = copy(Cursor::new(b"hello\nweft\n"), &mut client).await?;
///     assert_eq!(sent, 11);
///     client.shutdown(std::net::Shutdown::Write)?;
///     let mut answers = String::new();
///     client.read_to_string(&mut answers).await?;
///     assert_eq!(answers, "5\n4\n");
///     server.await.unwrap()
/// })
/// .unwrap();
/// ```
pub mod io {
    pub use futures_util::io::{
        copy, copy_buf, empty, repeat, sink, AllowStdIo, AsyncBufRead, AsyncBufReadExt, AsyncRead,
        AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
        Chain, Cursor, Empty, Error, ErrorKind, IoSlice, IoSliceMut, LineWriter, Lines, ReadHalf,
        Repeat, Result, ReuniteError, SeekFrom, Sink, Take, WriteHalf,
    };
    pub use weft_reactor::{Async, IoSafe};

    /// Splits a stream into a read half and a write half that may be used
    /// from different tasks (behind a lock shared by the two; `reunite`
    /// puts them back together). weft's own streams have lock-free halves:
    /// `TcpStream::split` / `into_split`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft::io::{split, AsyncReadExt, AsyncWriteExt, Cursor};
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (mut reader, mut writer) = split(Cursor::new(vec![0u8; 8]));
    ///     writer.write_all(b"weft").await.unwrap();
    ///     let mut rest = Vec::new();
    ///     reader.read_to_end(&mut rest).await.unwrap();
    ///     assert_eq!(rest, [0, 0, 0, 0]); // the cursor moved past what we wrote
    /// });
    /// ```
    pub fn split<T: AsyncRead + AsyncWrite>(stream: T) -> (ReadHalf<T>, WriteHalf<T>) {
        AsyncReadExt::split(stream)
    }
}

/// Spawns a future onto the current runtime.
///
/// # Panics
///
/// Outside a runtime, with a message saying how to get into one.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let v = rt.block_on(async { weft::spawn(async { 5 }).await.unwrap() });
/// assert_eq!(v, 5);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // Borrowed, not cloned: a clone would write the runtime's reference
    // count twice per spawn, a line shared by every spawning core.
    match weft_executor::Handle::with_current(|h| h.spawn(future)) {
        Ok(task) => task,
        Err(_) => panic!(
            "`weft::spawn` was called outside a weft runtime: call it from inside a task, \
             from inside `Runtime::block_on`, or after `Runtime::enter()`; \
             or spawn through a `weft::Handle` with `handle.spawn(..)`"
        ),
    }
}

/// Runs a blocking closure on the current runtime's blocking pool.
///
/// # Panics
///
/// Outside a runtime.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match weft_executor::Handle::with_current(|h| h.spawn_blocking(f)) {
        Ok(task) => task,
        Err(_) => panic!(
            "`weft::spawn_blocking` was called outside a weft runtime: call it from inside \
             a task, from inside `Runtime::block_on`, or after `Runtime::enter()`"
        ),
    }
}

/// The README's Rust example is compiled and run as a doctest, so it
/// cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
