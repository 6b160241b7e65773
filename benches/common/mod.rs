//! Shared harness of weft's benchmarks: one [`Rt`] interface over the three
//! runtimes under comparison, the statistics, and the result files.
//!
//! Benchmarks are regression tests: a workload whose weft/tokio ratio grows
//! between two runs on the same machine is a performance regression. They
//! are never timed in CI (CI only builds them).
//!
//! The three runtimes, with the same number of worker threads:
//!
//! - weft: `weft::Runtime::builder().worker_threads(n)`;
//! - tokio: the multi-thread runtime with `worker_threads(n)` and all drivers;
//! - async-executor: one `Executor` run by `n` threads, each in
//!   `async_io::block_on(ex.run(..))` so an idle thread drives async-io's
//!   reactor (timers and sockets), the usual smol setup.
//!
//! `block_on` runs the root future on the calling (non-worker) thread for all
//! three, and every workload spawns its work from inside tasks, so the
//! measured work runs on the workers.

#![allow(dead_code)]

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

/// A runtime under test, seen through a cheap, cloneable handle.
///
/// Cloning the handle never keeps the runtime alive: the runtime is owned by
/// the [`Owned`] value that `build` returns, so it is always dropped on the
/// benchmark's main thread, never inside one of its tasks.
pub trait Rt: Clone + Send + Sync + 'static {
    /// Name in tables and CSV files.
    const NAME: &'static str;

    /// Starts a runtime with `workers` worker threads.
    fn build(workers: usize) -> Owned<Self>;

    /// Runs `f` to completion on the calling thread, inside the runtime.
    fn block_on<F: Future>(&self, f: F) -> F::Output;

    /// Spawns `f`; the returned future yields its output.
    fn spawn<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `f` without keeping a join handle.
    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime's own `yield_now` (futures-lite's for async-executor).
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// The runtime's sleep (async-io's `Timer` for async-executor).
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    /// `timeout(d, f)`: `None` when the deadline passed first.
    fn timeout<F>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send;

    /// Loopback echo: `clients` connections, each doing `rounds` round
    /// trips of `msg` bytes; returns the time for the round trips only
    /// (connections are set up before the clock starts).
    fn tcp_echo(&self, clients: usize, rounds: usize, msg: usize) -> Duration;

    /// Per-worker (polls, steals), for runtimes that expose them.
    fn worker_counts(&self) -> Option<Vec<(u64, u64)>> {
        None
    }
}

/// A running runtime and its handle. Dropping it shuts the runtime down.
pub struct Owned<R> {
    pub handle: R,
    _owner: Box<dyn Send>,
}

impl<R> std::ops::Deref for Owned<R> {
    type Target = R;
    fn deref(&self) -> &R {
        &self.handle
    }
}

// ---------------------------------------------------------------- weft --

#[derive(Clone)]
pub struct Weft(pub weft::Handle);

impl Rt for Weft {
    const NAME: &'static str = "weft";

    fn build(workers: usize) -> Owned<Self> {
        let rt = weft::Runtime::builder()
            .worker_threads(workers)
            .thread_name("weft-bench")
            .build()
            .expect("weft runtime");
        Owned {
            handle: Weft(rt.handle().clone()),
            _owner: Box::new(rt),
        }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn spawn<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let h = self.0.spawn(f);
        async move { h.await.expect("weft task failed") }
    }

    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.spawn(f));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        weft::task::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        weft::time::sleep(d)
    }

    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
    {
        weft::time::timeout(d, f).await.ok()
    }

    fn tcp_echo(&self, clients: usize, rounds: usize, msg: usize) -> Duration {
        let h = self.clone();
        self.block_on(async move {
            let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let h2 = h.clone();
            let acceptor = h.spawn(async move {
                for _ in 0..clients {
                    let (s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    h2.spawn_detached(echo_server_fio(s, msg));
                }
            });
            let mut streams = Vec::with_capacity(clients);
            for _ in 0..clients {
                let s = weft::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                streams.push(s);
            }
            acceptor.await;
            let start = Instant::now();
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|s| h.spawn(echo_client_fio(s, rounds, msg)))
                .collect();
            for t in tasks {
                t.await;
            }
            start.elapsed()
        })
    }

    fn worker_counts(&self) -> Option<Vec<(u64, u64)>> {
        let m = self.0.metrics();
        Some(
            (0..m.num_workers())
                .map(|i| (m.worker_poll_count(i), m.worker_steal_count(i)))
                .collect(),
        )
    }
}

// --------------------------------------------------------------- tokio --

#[derive(Clone)]
pub struct Tokio(pub tokio::runtime::Handle);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";

    fn build(workers: usize) -> Owned<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("tokio-bench")
            .enable_all()
            .build()
            .expect("tokio runtime");
        Owned {
            handle: Tokio(rt.handle().clone()),
            _owner: Box::new(rt),
        }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn spawn<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let h = self.0.spawn(f);
        async move { h.await.expect("tokio task failed") }
    }

    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.spawn(f));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
    {
        tokio::time::timeout(d, f).await.ok()
    }

    fn tcp_echo(&self, clients: usize, rounds: usize, msg: usize) -> Duration {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let h = self.clone();
        self.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let h2 = h.clone();
            let acceptor = h.spawn(async move {
                for _ in 0..clients {
                    let (mut s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    h2.spawn_detached(async move {
                        let mut buf = vec![0u8; msg];
                        loop {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if s.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    });
                }
            });
            let mut streams = Vec::with_capacity(clients);
            for _ in 0..clients {
                let s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                streams.push(s);
            }
            acceptor.await;
            let start = Instant::now();
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|mut s| {
                    h.spawn(async move {
                        let out = vec![7u8; msg];
                        let mut buf = vec![0u8; msg];
                        for _ in 0..rounds {
                            s.write_all(&out).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
            start.elapsed()
        })
    }
}

// ------------------------------------------------------ async-executor --

#[derive(Clone)]
pub struct AsyncExecutor(pub Arc<async_executor::Executor<'static>>);

/// Owns async-executor's threads: dropping it stops and joins them.
struct AeThreads {
    stop: Vec<futures_channel::oneshot::Sender<()>>,
    threads: Vec<ThreadHandle<()>>,
}

impl Drop for AeThreads {
    fn drop(&mut self) {
        for s in self.stop.drain(..) {
            let _ = s.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Rt for AsyncExecutor {
    const NAME: &'static str = "async-executor";

    fn build(workers: usize) -> Owned<Self> {
        let ex = Arc::new(async_executor::Executor::new());
        let mut stop = Vec::new();
        let mut threads = Vec::new();
        for i in 0..workers {
            let (tx, rx) = futures_channel::oneshot::channel::<()>();
            let ex = ex.clone();
            stop.push(tx);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("ae-bench-{i}"))
                    .spawn(move || {
                        let _ = async_io::block_on(ex.run(rx));
                    })
                    .expect("async-executor thread"),
            );
        }
        Owned {
            handle: AsyncExecutor(ex),
            _owner: Box::new(AeThreads { stop, threads }),
        }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        async_io::block_on(f)
    }

    fn spawn<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(f)
    }

    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(f).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    async fn sleep(d: Duration) {
        async_io::Timer::after(d).await;
    }

    fn timeout<F>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
    {
        // The timer is created up front, as tokio's and weft's `timeout`
        // create their `Sleep` (reading the clock for the deadline); `or`
        // polls `f` first, so a ready future never registers it with the
        // reactor (neither do the other two).
        let timer = async_io::Timer::after(d);
        futures_lite::future::or(async move { Some(f.await) }, async move {
            timer.await;
            None
        })
    }

    fn tcp_echo(&self, clients: usize, rounds: usize, msg: usize) -> Duration {
        use async_io::Async;
        use std::net::{TcpListener, TcpStream};
        let h = self.clone();
        self.block_on(async move {
            let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
            let addr = listener.get_ref().local_addr().unwrap();
            let h2 = h.clone();
            let acceptor = h.spawn(async move {
                for _ in 0..clients {
                    let (s, _) = listener.accept().await.unwrap();
                    s.get_ref().set_nodelay(true).unwrap();
                    h2.spawn_detached(echo_server_fio(s, msg));
                }
            });
            let mut streams = Vec::with_capacity(clients);
            for _ in 0..clients {
                let s = Async::<TcpStream>::connect(addr).await.unwrap();
                s.get_ref().set_nodelay(true).unwrap();
                streams.push(s);
            }
            acceptor.await;
            let start = Instant::now();
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|s| h.spawn(echo_client_fio(s, rounds, msg)))
                .collect();
            for t in tasks {
                t.await;
            }
            start.elapsed()
        })
    }
}

// ------------------------------------------------- shared echo halves --

async fn echo_server_fio<S>(mut s: S, msg: usize)
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    use futures_util::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; msg];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
}

async fn echo_client_fio<S>(mut s: S, rounds: usize, msg: usize)
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    use futures_util::io::{AsyncReadExt, AsyncWriteExt};
    let out = vec![7u8; msg];
    let mut buf = vec![0u8; msg];
    for _ in 0..rounds {
        s.write_all(&out).await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
    }
}

// ----------------------------------------------------------- fork-join --

/// The fork_join workload, shared by `compare` and `scaling`: fib(38) is
/// about 126 million calls, about 90 ms on one core here, long enough that
/// waking the second worker is noise (fib(35) took 20 ms); spawning above
/// the cutoff gives about 2,600 tasks, enough for stealing to balance.
pub const FIB_N: u32 = 38;
pub const FIB_CUTOFF: u32 = 22;
pub const FIB_RESULT: u64 = 39_088_169;

/// Plain recursive Fibonacci: the unit of CPU work.
pub fn fib_seq(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib_seq(n - 1) + fib_seq(n - 2)
    }
}

/// Parallel Fibonacci: above `cutoff` the `n - 1` branch is spawned and the
/// `n - 2` branch runs inline, then the spawned one is awaited.
pub fn fib_par<R: Rt>(
    h: R,
    n: u32,
    cutoff: u32,
) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n <= cutoff {
            return fib_seq(std::hint::black_box(n));
        }
        let left = h.spawn(fib_par(h.clone(), n - 1, cutoff));
        let right = fib_par(h, n - 2, cutoff).await;
        left.await + right
    })
}

// -------------------------------------------------------------- timers --

/// The timers workload's size, shared by `compare` and `timer_lateness`.
pub const TIMERS: usize = 100_000;
/// Sleep lengths are uniform in this range, in microseconds, from a fixed seed.
const TIMER_RANGE_US: (u64, u64) = (1_000, 10_000);
const TIMER_SEED: u64 = 0x005e_ed0f_7ea7;

/// The first `n` sleep lengths of the timers workload (fixed seed, so every
/// run and every runtime sleeps the same list).
pub fn timer_durations(n: usize) -> Vec<Duration> {
    let mut rng = fastrand::Rng::with_seed(TIMER_SEED);
    (0..n)
        .map(|_| Duration::from_micros(rng.u64(TIMER_RANGE_US.0..=TIMER_RANGE_US.1)))
        .collect()
}

// --------------------------------------------------------- statistics --

/// Median of a non-empty sample (mean of the middle two for even lengths).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The `q` quantile (nearest rank) of a sample.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Formats seconds with a unit that keeps three or four significant digits.
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "-".into()
    } else if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.2} us", s * 1e6)
    }
}

// ------------------------------------------------------ configuration --

/// An environment variable parsed as `T`, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// `WEFT_BENCH_QUICK=1`: fewer samples, for a smoke run.
pub fn quick() -> bool {
    env_or("WEFT_BENCH_QUICK", 0u32) != 0
}

/// The first command-line argument that is not a flag (cargo passes
/// `--bench`): a substring filter on workload names.
pub fn name_filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

/// Where result files go: `$WEFT_BENCH_OUT`, else `target/bench-results/`
/// under the main workspace's root (benches/ is a package of its own).
pub fn out_dir() -> PathBuf {
    let dir = std::env::var_os("WEFT_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("bench-results")
        });
    std::fs::create_dir_all(&dir).expect("create the bench-results directory");
    dir
}

/// Writes `text` to `name` in [`out_dir`] and says where.
pub fn write_result(name: &str, text: &str) {
    let path = out_dir().join(name);
    let mut f = std::fs::File::create(&path).expect("create a result file");
    f.write_all(text.as_bytes()).expect("write a result file");
    println!("wrote {}", path.display());
}

/// A one-line description of the machine, for result files.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs, {model}")
}
