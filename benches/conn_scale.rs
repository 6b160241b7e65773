//! 10,000 idle keep-alive HTTP connections: weft against tokio.
//!
//! **This benchmark is a regression test** (issue 11, goal 3): weft's bytes
//! per idle connection, its time to accept a crowd, and its requests per
//! second with a crowd of idle connections open should stay within tokio's.
//! CI only builds this file.
//!
//! ```text
//! cd benches && cargo bench --bench conn_scale
//! WEFT_CONN_N=2000 WEFT_CONN_ROUNDS=1 cargo bench --bench conn_scale   # a quick look
//! ```
//!
//! # The servers
//!
//! The same hyper HTTP/1.1 hello server twice, 2 worker threads each
//! (`WEFT_BENCH_WORKERS`), on 127.0.0.1, hyper's default `http1::Builder`
//! (no header-read timer, so an idle keep-alive connection stays open), with
//! `TCP_NODELAY` and one task per connection:
//!
//! - weft: `weft::compat::hyper::WeftIo` over weft's `TcpStream`, the
//!   connection task spawned through `weft::compat::hyper::WeftExecutor`;
//! - tokio: hyper-util's `TokioIo` over tokio's `TcpStream`, `tokio::spawn`.
//!
//! Both listen with a backlog of 1024 ([`BACKLOG`], which says why). In
//! both, the accept loop is itself a task on the workers (the thread that
//! called `block_on` only waits), so each server runs on exactly 2 threads.
//!
//! Each server runs in a **child process** of its own (this binary re-run
//! with `WEFT_CONN_SERVER=weft|tokio`), so its memory is its own: the parent
//! reads the child's `VmRSS` from `/proc/PID/status`. The child prints
//! `listening ADDR` once bound, and exits when its stdin reaches end of file,
//! that is as soon as the parent is gone, however it went. The parent also
//! kills it from a guard's `Drop` (normal exit and panics) and from the
//! watchdog (the whole run is bounded by `WEFT_CONN_TIMEOUT_SECS`, default
//! 900 s).
//!
//! # The load generator
//!
//! The parent is the client: one tokio **current-thread** runtime (one
//! thread, epoll, so 10,000 idle client sockets cost it nothing per turn and
//! it does not compete with the server for more than one core), speaking a
//! minimal HTTP/1.1 by hand: `GET / HTTP/1.1` with a `Host` header, and a
//! response read up to its `content-length`. Both servers face the same
//! client, so where the client is the bottleneck both ratios say so.
//!
//! # One round, per server (rounds alternate weft/tokio; `WEFT_CONN_ROUNDS`, default 3)
//!
//! 1. start the server; open 64 connections (`ACTIVE`), run them for 1 s
//!    (warm-up), then for `WEFT_CONN_SECS` (default 3) s, each connection
//!    doing request/response back to back: **requests/s with 64 open**;
//!    close them and let the server settle;
//! 2. read the server's RSS and malloc's bytes in use; open N connections
//!    (`WEFT_CONN_N`, default 10,000), at most 256 (`IN_FLIGHT`) in flight,
//!    each doing a connect and one request/response (so the server holds a
//!    live hyper connection task for it): **time to open N**; settle, read
//!    both again: **bytes per connection** = RSS delta / N, and **malloc'd
//!    bytes per connection** = delta of glibc's `mallinfo2` (in-use chunks
//!    plus mmapped blocks, asked of the child over its stdin) / N. The RSS
//!    is what the machine pays, but it moves by a few hundred bytes per
//!    connection between rounds: most of a connection's bytes are hyper's
//!    two 8 KiB buffers, of which only the first bytes are touched, so the
//!    RSS depends on how those buffers fall across pages. The malloc'd
//!    figure counts every byte handed out, touched or not, and barely moves;
//!    it shows the runtimes' own share reliably;
//! 3. 64 of the N connections run request/response for the same time while
//!    the other N - 64 stay idle: **requests/s with N open**;
//! 4. the N - 64 idle ones close; after a settle the same 64 run once more.
//!    Requests/s with 64 open is the mean of steps 1 and 4, which bracket
//!    step 3 in time (so warm-up and drift cancel to first order); the
//!    ratio of step 3 to it shows a throughput cliff if there is one (1.0 =
//!    none).
//!
//! Every connect and every exchange has a timeout (`IO_TIMEOUT`).
//!
//! # File descriptors
//!
//! Parent and child each hold one socket per connection. The parent raises
//! its `RLIMIT_NOFILE` soft limit to the hard limit before starting the
//! child (which inherits it, and raises its own again in case it was run by
//! hand). If the hard limit leaves fewer than N + `FD_RESERVE` descriptors,
//! N is lowered to what fits and the run says so.
//!
//! # Where the bytes go
//!
//! `WEFT_CONN_HEAP=1` prints, per server, the live allocations one
//! connection adds, by size (see the [`heap`] module); docs/benchmarks.md
//! has the table.
//!
//! The table gives medians over the rounds and weft/tokio ratios; every
//! round's figures (both 64-open runs apart) go to
//! `target/bench-results/conn_scale.csv`. On a machine shared with other
//! work the requests/s figures move by tens of percent between rounds: read
//! them with the load average the run prints, and prefer more rounds.

mod common;

use common::{env_or, median, write_result};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::{self, BufRead as _, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Chooses the server in a child process.
const SERVER_ENV: &str = "WEFT_CONN_SERVER";
/// Set to 1: the heap breakdown mode (see [`heap`]).
const HEAP_ENV: &str = "WEFT_CONN_HEAP";
/// The connections that carry requests in the throughput phases: as many
/// as examples/http.rs's self-test opens.
const ACTIVE: usize = 64;
/// Connections being opened at once: well under the listeners' backlog
/// ([`BACKLOG`]), so no SYN is dropped and retried after a second, which
/// would measure the kernel.
const IN_FLIGHT: usize = 256;
/// Both listeners' backlog: weft's `TcpListener::bind` default (DESIGN.md
/// section 3a). tokio's `bind` takes mio's, 128 (mio 1.2), which 256
/// connects in flight overflow: dropped SYNs are retried after a second, and
/// tokio's time to open N was then ~1 s of kernel retry, not tokio's work. So
/// both servers listen through `TcpSocket` with this backlog.
const BACKLOG: u32 = 1024;
/// Where both servers listen: 127.0.0.1, a port the kernel picks.
const LOCALHOST: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    0,
));
/// Descriptors each process keeps for itself besides the connections
/// (listener, epoll, eventfds, stdio, the runtime's pipes), with room to spare.
const FD_RESERVE: libc::rlim_t = 256;
/// Bound on one connect or one request/response; a server that misses it
/// has hung, and the round fails with that message.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before reading the RSS, so the server has finished the work the
/// last response started (its connection tasks parked, closed ones freed).
const SETTLE: Duration = Duration::from_millis(300);
/// Warm-up before the first measured load: thread-locals, allocator arenas.
const WARM_UP: Duration = Duration::from_secs(1);
/// What the servers answer.
const BODY: &[u8] = b"Hello from weft\n";
/// What the client sends.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

fn main() {
    if let Ok(which) = std::env::var(SERVER_ENV) {
        server_main(&which);
    }

    let rounds: usize = env_or("WEFT_CONN_ROUNDS", 3);
    let wanted: usize = env_or("WEFT_CONN_N", 10_000);
    let secs: f64 = env_or("WEFT_CONN_SECS", 3.0);
    let workers: usize = env_or("WEFT_BENCH_WORKERS", 2);
    let timeout = Duration::from_secs(env_or("WEFT_CONN_TIMEOUT_SECS", 900));
    assert!(
        rounds > 0 && wanted > ACTIVE && secs > 0.0,
        "WEFT_CONN_ROUNDS must be > 0, WEFT_CONN_N > {ACTIVE}, WEFT_CONN_SECS > 0"
    );
    let load_time = Duration::from_secs_f64(secs);

    let limit = raise_nofile_limit();
    let fits = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
    let n = wanted.min(fits);
    println!(
        "weft conn_scale: {n} keep-alive connections, {workers} server workers, \
         {rounds} rounds, {secs} s of load per phase, {}",
        common::machine()
    );
    println!("RLIMIT_NOFILE raised to {limit} (the hard limit)");
    if n < wanted {
        println!(
            "NOTE: the hard limit {limit} leaves room for {n} connections per process, \
             not the {wanted} asked for: measuring {n}"
        );
    }
    let load_before = loadavg();
    println!("load average before: {load_before}");

    let _watchdog = Watchdog::start(timeout);
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the client's tokio runtime");

    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        // Alternate who goes first, so a drift in the machine's load does
        // not always favour the same server.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let name = SERVERS[i];
            let s = measure(&client, name, workers, n, load_time);
            println!(
                "round {}: {name:5}  {:7.0} B/conn RSS  {:7.0} B/conn malloc'd  open {:.3} s  \
                 {:8.0} req/s with 64 open  {:8.0} req/s with {n} open",
                round + 1,
                s.bytes_per_conn,
                s.malloc_per_conn,
                s.open_secs,
                s.rps_64(),
                s.rps_n
            );
            samples[i].push(s);
        }
    }
    let load_after = loadavg();

    let med =
        |i: usize, f: fn(&Sample) -> f64| median(&samples[i].iter().map(f).collect::<Vec<_>>());
    let rows: [Row; 6] = [
        ("RSS bytes per idle connection", |s| s.bytes_per_conn, 0),
        (
            "malloc'd bytes per idle connection",
            |s| s.malloc_per_conn,
            0,
        ),
        ("time to open N (s)", |s| s.open_secs, 3),
        ("requests/s, 64 open", Sample::rps_64, 0),
        ("requests/s, N open (64 active)", |s| s.rps_n, 0),
        ("N-open / 64-open throughput", |s| s.rps_n / s.rps_64(), 3),
    ];
    let mut table = format!(
        "\nN = {n}, medians of {rounds} rounds; load average {load_before} before, \
         {load_after} after\n\n| | weft | tokio | weft/tokio |\n|---|---:|---:|---:|\n"
    );
    for (label, f, decimals) in rows {
        let (w, t) = (med(0, f), med(1, f));
        let _ = writeln!(
            table,
            "| {label} | {w:.decimals$} | {t:.decimals$} | {:.2} |",
            w / t
        );
    }
    println!("{table}");

    let mut csv = String::from(
        "server,round,connections,workers,rss_bytes_per_conn,malloc_bytes_per_conn,open_secs,rps_64_open_before,\
         rps_n_open,rps_64_open_after,loadavg_before,loadavg_after\n",
    );
    for (i, name) in SERVERS.iter().enumerate() {
        for (round, s) in samples[i].iter().enumerate() {
            let _ = writeln!(
                csv,
                "{name},{},{n},{workers},{:.1},{:.1},{:.4},{:.1},{:.1},{:.1},{load_before},{load_after}",
                round + 1,
                s.bytes_per_conn,
                s.malloc_per_conn,
                s.open_secs,
                s.rps_64_before,
                s.rps_n,
                s.rps_64_after
            );
        }
    }
    write_result("conn_scale.csv", &csv);
}

const SERVERS: [&str; 2] = ["weft", "tokio"];

/// A row of the table: its label, its figure, the decimals shown.
type Row = (&'static str, fn(&Sample) -> f64, usize);

/// One round's figures for one server.
struct Sample {
    bytes_per_conn: f64,
    malloc_per_conn: f64,
    open_secs: f64,
    /// 64 open, before the N are opened and after the idle ones closed.
    rps_64_before: f64,
    rps_64_after: f64,
    rps_n: f64,
}

impl Sample {
    /// Requests/s with 64 open: the mean of the runs before and after the
    /// one with N open, so a warm-up or a drift in the machine's load
    /// between them does not pass for a cliff (or for a gain).
    fn rps_64(&self) -> f64 {
        (self.rps_64_before + self.rps_64_after) / 2.0
    }
}

/// One round against one server, in a fresh child process.
fn measure(
    client: &tokio::runtime::Runtime,
    name: &str,
    workers: usize,
    n: usize,
    load_time: Duration,
) -> Sample {
    let mut server = ServerProcess::start(name, workers);
    let addr = server.addr;
    client.block_on(async move {
        let mut active = open_many(addr, ACTIVE).await.0;
        run_load(&mut active, WARM_UP).await;
        let rps_64_before = run_load(&mut active, load_time).await;
        drop(active);
        tokio::time::sleep(SETTLE).await;

        let rss_before = server.rss();
        let malloc_before = server.malloc_in_use();
        server.heap_report(0);
        let (mut conns, open_time) = open_many(addr, n).await;
        tokio::time::sleep(SETTLE).await;
        let rss_after = server.rss();
        let malloc_after = server.malloc_in_use();
        server.heap_report(n);

        let rps_n = run_load(&mut conns[..ACTIVE], load_time).await;

        // Only the 64 again: the idle ones close, the server ends their
        // tasks, the same 64 connections run once more.
        conns.truncate(ACTIVE);
        tokio::time::sleep(SETTLE).await;
        let rps_64_after = run_load(&mut conns, load_time).await;
        // The server goes first (the guard kills it), so closing the
        // client's sockets leaves it no work.
        drop(server);
        drop(conns);
        Sample {
            bytes_per_conn: (rss_after as f64 - rss_before as f64) / n as f64,
            malloc_per_conn: (malloc_after as f64 - malloc_before as f64) / n as f64,
            open_secs: open_time.as_secs_f64(),
            rps_64_before,
            rps_64_after,
            rps_n,
        }
    })
}

// ------------------------------------------------------------- client --

/// Opens `n` connections, at most [`IN_FLIGHT`] at once, each with one
/// request answered; returns them and the time it took.
async fn open_many(addr: SocketAddr, n: usize) -> (Vec<tokio::net::TcpStream>, Duration) {
    let start = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    let mut started = 0;
    while conns.len() < n {
        while started < n && pending.len() < IN_FLIGHT {
            pending.spawn(open_one(addr));
            started += 1;
        }
        let opened = pending
            .join_next()
            .await
            .expect("a connection is being opened")
            .expect("the connecting task");
        conns.push(opened.unwrap_or_else(|e| {
            panic!(
                "connection {} of {n} to {addr} failed: {e}",
                conns.len() + 1
            )
        }));
    }
    (conns, start.elapsed())
}

/// Connects and makes one request, within [`IO_TIMEOUT`].
async fn open_one(addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
    bounded("connect", async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        exchange(&mut stream, &mut [0; 512]).await?;
        Ok(stream)
    })
    .await
}

/// Every connection in `conns` makes requests back to back for `time`;
/// returns the requests answered per second.
async fn run_load(conns: &mut [tokio::net::TcpStream], time: Duration) -> f64 {
    let start = Instant::now();
    let deadline = start + time;
    let loops = conns.iter_mut().map(|stream| async move {
        let mut buf = [0; 512];
        let mut done = 0u64;
        while Instant::now() < deadline {
            bounded("request", exchange(stream, &mut buf))
                .await
                .unwrap_or_else(|e| panic!("a request under load failed: {e}"));
            done += 1;
        }
        done
    });
    // join_all polls every loop on this one thread: no task per connection,
    // so the connections can be borrowed rather than moved.
    let total: u64 = futures_util::future::join_all(loops).await.iter().sum();
    total as f64 / start.elapsed().as_secs_f64()
}

/// `f`, or a `TimedOut` error after [`IO_TIMEOUT`].
async fn bounded<T>(
    what: &str,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what}: no answer within {IO_TIMEOUT:?}"),
            ))
        })
}

/// One request and its response, read up to the end of its body.
async fn exchange(stream: &mut tokio::net::TcpStream, buf: &mut [u8; 512]) -> io::Result<()> {
    stream.write_all(REQUEST).await?;
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(bad("a response longer than 512 bytes"));
        }
        let read = stream.read(&mut buf[len..]).await?;
        if read == 0 {
            return Err(bad("the server closed the connection"));
        }
        len += read;
        if let Some(total) = response_len(&buf[..len])? {
            if len > total {
                return Err(bad("bytes after the response (none were asked for)"));
            }
            if len == total {
                return Ok(());
            }
        }
    }
}

/// The length of the response at the start of `bytes` once its head is
/// complete (`None` before); checks the status and the body's length.
fn response_len(bytes: &[u8]) -> io::Result<Option<usize>> {
    let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| bad("a non-UTF-8 head"))?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(bad("a status other than 200"));
    }
    let body_len = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| bad("no content-length"))?;
    if body_len != BODY.len() {
        return Err(bad("a body of the wrong length"));
    }
    Ok(Some(head_end + 4 + body_len))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

// ------------------------------------------------------------ servers --

/// In the child: serve until stdin closes.
fn server_main(which: &str) -> ! {
    raise_nofile_limit();
    let workers: usize = env_or("WEFT_BENCH_WORKERS", 2);
    let heap_mode = std::env::var(HEAP_ENV).is_ok_and(|v| v == "1");
    if heap_mode {
        heap::start_counting();
    }
    // The parent holds our stdin's other end: end of file means it is gone.
    // In the heap mode it also sends `heap N` lines (see [`heap`]).
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut stdin = io::stdin().lock();
        loop {
            line.clear();
            if matches!(stdin.read_line(&mut line), Ok(0) | Err(_)) {
                std::process::exit(0);
            }
            if let Some(n) = line.trim().strip_prefix("heap ") {
                heap::report(n.parse().unwrap_or(1));
            } else if line.trim() == "malloc" {
                let mut out = io::stdout().lock();
                writeln!(out, "malloc {}", heap::malloc_in_use()).expect("write to the parent");
                out.flush().expect("write to the parent");
            }
        }
    });
    match which {
        "weft" => weft_server(workers),
        "tokio" => tokio_server(workers),
        other => panic!("{SERVER_ENV}={other:?}: expected \"weft\" or \"tokio\""),
    }
    unreachable!("the accept loops never return");
}

/// Tells the parent where to connect.
fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    writeln!(out, "listening {addr}").expect("write to the parent");
    out.flush().expect("write to the parent");
}

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

/// A failed accept (out of descriptors, a reset): say so, wait, go on, as
/// examples/http.rs does.
fn accept_failed(e: io::Error) -> Duration {
    eprintln!("accept: {e}");
    Duration::from_millis(10)
}

fn weft_server(workers: usize) {
    use weft::compat::hyper::{WeftExecutor, WeftIo};
    let rt = weft::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("the weft server's runtime");
    let accept_loop = rt.spawn(async {
        let socket = weft::net::TcpSocket::new_v4().expect("a socket");
        socket.bind(LOCALHOST).expect("bind 127.0.0.1:0");
        let listener = socket.listen(BACKLOG).expect("listen");
        announce(listener.local_addr().expect("the listener's address"));
        let http = hyper::server::conn::http1::Builder::new();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    weft::time::sleep(accept_failed(e)).await;
                    continue;
                }
            };
            stream.set_nodelay(true).expect("TCP_NODELAY");
            let conn =
                http.serve_connection(WeftIo::new(stream), hyper::service::service_fn(hello));
            let task = async move {
                let _ = conn.await;
            };
            heap::note_task_size(std::mem::size_of_val(&task));
            hyper::rt::Executor::execute(&WeftExecutor, task);
        }
    });
    let _ = rt.block_on(accept_loop);
}

fn tokio_server(workers: usize) {
    use hyper_util::rt::TokioIo;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("the tokio server's runtime");
    let accept_loop = rt.spawn(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.bind(LOCALHOST).expect("bind 127.0.0.1:0");
        let listener = socket.listen(BACKLOG).expect("listen");
        announce(listener.local_addr().expect("the listener's address"));
        let http = hyper::server::conn::http1::Builder::new();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tokio::time::sleep(accept_failed(e)).await;
                    continue;
                }
            };
            stream.set_nodelay(true).expect("TCP_NODELAY");
            let conn =
                http.serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello));
            let task = async move {
                let _ = conn.await;
            };
            heap::note_task_size(std::mem::size_of_val(&task));
            tokio::spawn(task);
        }
    });
    let _ = rt.block_on(accept_loop);
}

// ---------------------------------------------------- child processes --

/// Children alive, for the watchdog (which cannot run their guards).
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A server child process; dropping it kills and reaps the child.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    /// The child's stdout, line by line.
    lines: Option<mpsc::Receiver<String>>,
}

impl ServerProcess {
    fn start(name: &str, workers: usize) -> ServerProcess {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .env(SERVER_ENV, name)
            .env(HEAP_ENV, if heap::enabled() { "1" } else { "0" })
            .env("WEFT_BENCH_WORKERS", workers.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a server child");
        CHILDREN.lock().unwrap().push(child.id());
        let stdout = child.stdout.take().expect("the child's stdout");
        let mut server = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines: None,
        };
        // Read its lines on a thread of its own, so a child that never
        // answers cannot hang us: wait for each with a timeout.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        server.lines = Some(rx);
        let line = server
            .next_line()
            .unwrap_or_else(|| panic!("the {name} server did not start within {IO_TIMEOUT:?}"));
        server.addr = line
            .strip_prefix("listening ")
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("the {name} server said {line:?}, not `listening ADDR`"));
        server
    }

    /// The child's next line on stdout, or `None` after [`IO_TIMEOUT`] or
    /// once it closed stdout.
    fn next_line(&self) -> Option<String> {
        self.lines.as_ref()?.recv_timeout(IO_TIMEOUT).ok()
    }

    /// The bytes the child's malloc has handed out and not had back
    /// (`mallinfo2`: in-use chunks of every arena, plus mmapped blocks).
    fn malloc_in_use(&mut self) -> u64 {
        let stdin = self.child.stdin.as_mut().expect("the child's stdin");
        writeln!(stdin, "malloc").expect("write to the child");
        stdin.flush().expect("write to the child");
        let line = self.next_line().unwrap_or_default();
        line.strip_prefix("malloc ")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("the server answered {line:?} to `malloc`"))
    }

    /// In the heap mode, asks the child for its heap breakdown since the
    /// last request, per connection of `n` (0: only set the baseline), and
    /// gives it time to print it; otherwise does nothing.
    fn heap_report(&mut self, n: usize) {
        if !heap::enabled() {
            return;
        }
        let stdin = self.child.stdin.as_mut().expect("the child's stdin");
        writeln!(stdin, "heap {n}").expect("write to the child");
        stdin.flush().expect("write to the child");
        std::thread::sleep(SETTLE);
    }

    /// The child's resident set size in bytes (`VmRSS`).
    fn rss(&self) -> u64 {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{path} has no VmRSS line"));
        kib * 1024
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&p| p != self.child.id());
    }
}

/// Bounds the whole run: past the deadline it kills the children and exits
/// with status 2. Dropping it (the run finished) stops it.
struct Watchdog {
    _done: mpsc::Sender<()>,
}

impl Watchdog {
    fn start(timeout: Duration) -> Watchdog {
        let (done, wait) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout) {
                eprintln!("conn_scale: still running after {timeout:?} (WEFT_CONN_TIMEOUT_SECS); giving up");
                for &pid in CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    // SAFETY: kill(2) takes plain integers and touches no
                    // memory of ours; the pid is a child we have not reaped
                    // (guards remove theirs after `wait`), so it is not reused.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
                std::process::exit(2);
            }
        });
        Watchdog { _done: done }
    }
}

// ------------------------------------------------------ the machine --

/// Raises `RLIMIT_NOFILE`'s soft limit to the hard limit; returns the new
/// soft limit.
fn raise_nofile_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the call's duration.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit: {}", io::Error::last_os_error());
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid `rlimit`, only read by the call.
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        assert_eq!(set, 0, "setrlimit: {}", io::Error::last_os_error());
    }
    limit.rlim_cur
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` has them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

// ------------------------------------------------- the heap breakdown --

/// `WEFT_CONN_HEAP=1`: where a connection's bytes go, by allocation size.
///
/// In this mode the server child counts its live heap allocations by
/// requested size through a counting global allocator (in the normal mode
/// the allocator only tests one flag and calls the system's). Right before
/// and right after opening the N connections the parent asks for a
/// breakdown (a `heap N` line on the child's stdin); the child prints to
/// stderr, per size, the live allocations gained per connection, the bytes
/// asked for, and the bytes glibc's malloc spends on them (16-byte rounding
/// plus its 8-byte header; over-aligned ones counted apart). The RSS figures
/// of a heap run are slightly off (the counters); use a normal run for those.
///
/// ```text
/// WEFT_CONN_HEAP=1 WEFT_CONN_ROUNDS=1 WEFT_CONN_SECS=1 cargo bench --bench conn_scale
/// ```
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::Relaxed};
    use std::sync::Mutex;

    /// Sizes counted one by one; larger ones share the last bucket.
    const EXACT: usize = 64 * 1024;

    static COUNTING: AtomicBool = AtomicBool::new(false);
    /// Live allocations per requested size (alignment <= 16).
    static LIVE: [AtomicI64; EXACT + 1] = [const { AtomicI64::new(0) }; EXACT + 1];
    /// Bytes in the last bucket of `LIVE`.
    static LARGE_BYTES: AtomicI64 = AtomicI64::new(0);
    /// The last bucket of `LIVE` and the over-aligned ones by size (marked
    /// with [`OVER_ALIGNED`]): open addressing on the size, for the first
    /// [`LARGE_SIZES`] sizes seen (the rest only in the totals).
    const LARGE_SIZES: usize = 64;
    static LARGE_SIZE: [AtomicUsize; LARGE_SIZES] = [const { AtomicUsize::new(0) }; LARGE_SIZES];
    static LARGE_COUNT: [AtomicI64; LARGE_SIZES] = [const { AtomicI64::new(0) }; LARGE_SIZES];
    const OVER_ALIGNED: usize = 1 << (usize::BITS - 1);
    /// Live over-aligned allocations (alignment > 16) and their bytes.
    static ALIGNED: AtomicI64 = AtomicI64::new(0);
    static ALIGNED_BYTES: AtomicI64 = AtomicI64::new(0);
    /// Every counter above, in the order [`snapshot`] lists them.
    const COUNTERS: usize = EXACT + 1 + 3 + LARGE_SIZES;
    /// The counters at the last report: static, so that keeping them
    /// allocates nothing that the next report would count.
    static BASELINE: [AtomicI64; COUNTERS] = [const { AtomicI64::new(0) }; COUNTERS];
    /// Serialises reports.
    static REPORTING: Mutex<()> = Mutex::new(());

    /// `mallinfo2`'s bytes in use: every arena's allocated chunks plus the
    /// mmapped blocks. Counts malloc's own chunk rounding and headers, not
    /// the pages the kernel backs (that is the RSS).
    pub(super) fn malloc_in_use() -> u64 {
        // SAFETY: mallinfo2 takes no arguments and returns a plain struct;
        // glibc makes it safe to call from any thread (it locks each arena).
        let info = unsafe { libc::mallinfo2() };
        (info.uordblks + info.hblkhd) as u64
    }

    /// Whether the parent runs in the heap mode.
    pub(super) fn enabled() -> bool {
        std::env::var(super::HEAP_ENV).is_ok_and(|v| v == "1")
    }

    pub(super) fn start_counting() {
        // Relaxed: counts are read only after the parent's request, long
        // after; allocations before the flag flips are simply not counted
        // (their frees may drive a bucket below zero, which the deltas
        // cancel out).
        COUNTING.store(true, Relaxed);
    }

    fn count(layout: Layout, sign: i64) {
        if layout.align() > 16 {
            ALIGNED.fetch_add(sign, Relaxed);
            ALIGNED_BYTES.fetch_add(sign * layout.size() as i64, Relaxed);
            count_large(layout.size() | OVER_ALIGNED, sign);
        } else {
            let size = layout.size().min(EXACT);
            LIVE[size].fetch_add(sign, Relaxed);
            if size == EXACT {
                LARGE_BYTES.fetch_add(sign * layout.size() as i64, Relaxed);
                count_large(layout.size(), sign);
            }
        }
    }

    fn count_large(size: usize, sign: i64) {
        let start = (size & !OVER_ALIGNED) / 16 % LARGE_SIZES;
        for i in (start..LARGE_SIZES).chain(0..start) {
            // Relaxed: a slot's size is claimed once and never changes; two
            // threads claiming at once both see the winner's size.
            let owner = match LARGE_SIZE[i].compare_exchange(0, size, Relaxed, Relaxed) {
                Ok(_) => size,
                Err(owner) => owner,
            };
            if owner == size {
                LARGE_COUNT[i].fetch_add(sign, Relaxed);
                return;
            }
        }
    }

    /// What glibc's malloc takes for a request of `size` bytes on a 64-bit
    /// target: the request plus its 8-byte size field, rounded up to 16,
    /// at least 32.
    fn glibc_chunk(size: usize) -> usize {
        ((size + 8 + 15) & !15).max(32)
    }

    struct Counting;

    // SAFETY: every method forwards to `System` with the caller's own
    // arguments, so `System`'s guarantees are ours; the counting touches
    // only atomics and allocates nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if COUNTING.load(Relaxed) {
                count(layout, 1);
            }
            // SAFETY: our caller's obligations are `System::alloc`'s.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if COUNTING.load(Relaxed) {
                count(layout, 1);
            }
            // SAFETY: as for `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if COUNTING.load(Relaxed) {
                count(layout, -1);
            }
            // SAFETY: as for `alloc`; `ptr` came from `System` with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if COUNTING.load(Relaxed) {
                count(layout, -1);
                // SAFETY: our caller promises `new_size` with `layout`'s
                // alignment is a valid layout.
                count(
                    unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) },
                    1,
                );
            }
            // SAFETY: as for `dealloc`.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    /// Every counter, read now. The vector is allocated before the counters
    /// are read, so each snapshot counts itself once, which cancels out.
    fn snapshot() -> Vec<i64> {
        let mut now = Vec::with_capacity(COUNTERS);
        now.extend(LIVE.iter().map(|c| c.load(Relaxed)));
        now.extend([&LARGE_BYTES, &ALIGNED, &ALIGNED_BYTES].map(|c| c.load(Relaxed)));
        now.extend(LARGE_COUNT.iter().map(|c| c.load(Relaxed)));
        now
    }

    /// Prints, once and in the heap mode only, the size of the future a
    /// connection task runs (the task cell holds it, plus the runtime's
    /// header).
    pub(super) fn note_task_size(size: usize) {
        static ONCE: std::sync::Once = std::sync::Once::new();
        if COUNTING.load(Relaxed) {
            ONCE.call_once(|| eprintln!("connection future: {size} bytes"));
        }
    }

    /// Prints the live allocations gained since the last report, per
    /// connection of `n`; `n == 0` only records the baseline.
    pub(super) fn report(n: usize) {
        let _one_at_a_time = REPORTING.lock().unwrap_or_else(|e| e.into_inner());
        let now = snapshot();
        let before: Vec<i64> = BASELINE.iter().map(|c| c.load(Relaxed)).collect();
        for (b, &v) in BASELINE.iter().zip(&now) {
            b.store(v, Relaxed);
        }
        if n == 0 {
            return;
        }
        let d = |i: usize| now[i] - before[i];
        let per = |x: i64| x as f64 / n as f64;
        let mut rows: Vec<(usize, f64, f64, f64)> = (0..EXACT)
            .filter(|&size| d(size) != 0)
            .map(|size| {
                let count = per(d(size));
                (
                    size,
                    count,
                    count * size as f64,
                    count * glibc_chunk(size) as f64,
                )
            })
            .collect();
        rows.sort_by(|a, b| b.3.abs().total_cmp(&a.3.abs()));
        let mut out = format!(
            "heap breakdown of the {} server, per connection of {n}:\n\
             | size (B) | allocations | bytes asked | bytes in glibc chunks |\n\
             |---:|---:|---:|---:|\n",
            std::env::var(super::SERVER_ENV).unwrap_or_default()
        );
        let (mut asked, mut chunks) = (0.0, 0.0);
        for &(size, count, bytes, chunk) in &rows {
            asked += bytes;
            chunks += chunk;
            if chunk.abs() >= 1.0 {
                out += &format!("| {size} | {count:.3} | {bytes:.0} | {chunk:.0} |\n");
            }
        }
        let large = (d(EXACT), d(EXACT + 1));
        let aligned = (d(EXACT + 2), d(EXACT + 3));
        for (label, (count, bytes)) in [(">= 64 KiB", large), ("align > 16", aligned)] {
            if count != 0 || bytes != 0 {
                asked += per(bytes);
                chunks += per(bytes);
                out += &format!(
                    "| {label} | {:.3} | {:.0} | {:.0} |\n",
                    per(count),
                    per(bytes),
                    per(bytes)
                );
            }
        }
        out += &format!("| total | | {asked:.0} | {chunks:.0} |\n");
        let large: Vec<String> = (0..LARGE_SIZES)
            .filter(|&i| d(EXACT + 4 + i) != 0)
            .map(|i| {
                let size = LARGE_SIZE[i].load(Relaxed);
                let what = if size & OVER_ALIGNED != 0 {
                    " (over-aligned)"
                } else {
                    ""
                };
                let count = d(EXACT + 4 + i);
                format!(
                    "{count} x {} B{what} ({:.3} per connection)",
                    size & !OVER_ALIGNED,
                    per(count)
                )
            })
            .collect();
        if !large.is_empty() {
            out += &format!("of which: {}\n", large.join(", "));
        }
        eprintln!("{out}");
    }
}
