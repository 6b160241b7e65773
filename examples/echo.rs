//! A TCP echo server on weft, built as a server should be: a cap on open
//! connections, an idle timeout, bounded buffers, and a graceful shutdown on
//! SIGINT or SIGTERM (stop accepting, let open connections finish until a
//! deadline, then cut the rest, exit 0).
//!
//! ```text
//! cargo run --release --example echo                      # serve on 127.0.0.1:7878
//! cargo run --release --example echo -- --addr 127.0.0.1:9000 --max-connections 100
//! cargo run --release --example echo -- --connections 3   # serve 3, then exit
//! cargo run --release --example echo -- --selftest        # 8 clients, verify, exit
//! ```
//!
//! Try it with `nc 127.0.0.1 7878`: every line you type comes back; Ctrl-C
//! stops the server gracefully. `tests/demo.rs` runs [`self_test`] and
//! `tests/echo_server.rs` the limits and the shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use weft::io::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};
use weft::task::JoinSet;

/// What each self-test client sends, over and over.
pub const SELF_TEST_MESSAGE: &[u8] = b"the quick brown fox jumps over the lazy dog\n";

/// Each connection's buffer: the most memory one client can hold, however
/// fast it sends (the echo of one read is written before the next read).
pub const BUFFER_SIZE: usize = 16 * 1024;

/// How the server treats its clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; the next ones wait in the kernel's
    /// backlog until one closes.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// After a shutdown signal, how long open connections may go on
    /// before they are cut.
    pub drain_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            idle_timeout: Duration::from_secs(60),
            drain_deadline: Duration::from_secs(5),
        }
    }
}

/// What [`serve`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// Connections accepted.
    pub accepted: usize,
    /// Connections still open at the drain deadline, and cut.
    pub cut: usize,
}

/// Echoes everything `stream` sends until it closes, errs, or idles for
/// `idle_timeout`. Returns the bytes echoed.
async fn echo(mut stream: TcpStream, idle_timeout: Duration) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUFFER_SIZE];
    let mut total = 0;
    loop {
        // A read that waits parks this task, never the worker thread.
        let n = match weft::time::timeout(idle_timeout, stream.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_elapsed) => return Ok(total), // idle too long: hang up
        };
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Accepts connections and serves each in a task of its own, at most
/// `limits.max_connections` at once, until `shutdown` completes or `limit`
/// connections were accepted. Then it stops accepting and waits for the open
/// connections, at most `limits.drain_deadline`, and cuts what is left.
/// `log`: report each connection on stderr.
///
/// # Errors
///
/// An error of `accept` that is not about one connection (those are logged
/// and skipped: a client that resets before we accept it, or the process out
/// of file descriptors, must not stop the server).
pub async fn serve(
    listener: TcpListener,
    limits: Limits,
    limit: Option<usize>,
    shutdown: impl Future<Output = ()>,
    log: bool,
) -> io::Result<Served> {
    let mut shutdown = pin!(shutdown);
    let mut connections = JoinSet::new();
    let mut served = Served::default();
    while limit.is_none_or(|l| served.accepted < l) {
        // At the cap, wait for a connection to end (or for the signal)
        // before accepting the next one.
        if connections.len() >= limits.max_connections {
            match select(pin!(connections.join_next()), shutdown.as_mut()).await {
                Either::Left(_) => continue,
                Either::Right(((), _)) => break,
            }
        }
        let (stream, peer) = match select(pin!(listener.accept()), shutdown.as_mut()).await {
            Either::Left((Ok(accepted), _)) => accepted,
            Either::Left((Err(e), _)) if is_transient(&e) => {
                if log {
                    eprintln!("accept: {e} (going on)");
                }
                // Out of file descriptors: give open connections a moment
                // to close rather than spinning on the error.
                weft::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            Either::Left((Err(e), _)) => return Err(e),
            Either::Right(((), _)) => break,
        };
        served.accepted += 1;
        let idle = limits.idle_timeout;
        connections.spawn(async move {
            let result = echo(stream, idle).await;
            if log {
                match result {
                    Ok(bytes) => eprintln!("{peer}: closed after {bytes} bytes"),
                    Err(e) => eprintln!("{peer}: {e}"),
                }
            }
        });
        // Reap finished connections as we go, so the set stays small.
        while connections.try_join_next().is_some() {}
    }
    drop(listener); // new clients are refused from here on
    let drain = async { while connections.join_next().await.is_some() {} };
    if weft::time::timeout(limits.drain_deadline, drain)
        .await
        .is_err()
    {
        served.cut = connections.len();
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(served)
}

/// Errors of `accept` that concern one connection or a passing shortage,
/// not the listener.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(e.raw_os_error(), Some(code) if code == 24 || code == 23) // EMFILE, ENFILE
}

/// Completes at the first SIGINT (Ctrl-C) or SIGTERM.
///
/// # Errors
///
/// If the handlers cannot be installed.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    use weft::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let _ = select(pin!(terminate.recv()), pin!(interrupt.recv())).await;
    })
}

/// The result of [`self_test`].
#[derive(Debug)]
pub struct Report {
    pub clients: usize,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Starts a runtime and a server on an ephemeral port of 127.0.0.1, runs
/// `clients` concurrent clients that each send [`SELF_TEST_MESSAGE`]
/// `messages` times and check every echo, then shuts down.
///
/// # Errors
///
/// Any socket error, or an echo that differs from what was sent.
pub fn self_test(clients: usize, messages: usize) -> io::Result<Report> {
    let rt = weft::Runtime::new()?;
    let started = Instant::now();
    let bytes = rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let never = std::future::pending();
        let server = weft::spawn(serve(
            listener,
            Limits::default(),
            Some(clients),
            never,
            false,
        ));

        let mut set = JoinSet::new();
        for _ in 0..clients {
            set.spawn(client(addr, messages));
        }
        let mut bytes = 0;
        while let Some(res) = set.join_next().await {
            bytes += res.map_err(io::Error::other)??;
        }
        server.await.map_err(io::Error::other)??;
        io::Result::Ok(bytes)
    })?;
    // Nothing is left running; this returns as soon as the workers exit.
    let elapsed = started.elapsed();
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(Report {
        clients,
        bytes,
        elapsed,
    })
}

async fn client(addr: SocketAddr, messages: usize) -> io::Result<u64> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut echo = vec![0u8; SELF_TEST_MESSAGE.len()];
    for _ in 0..messages {
        stream.write_all(SELF_TEST_MESSAGE).await?;
        stream.read_exact(&mut echo).await?;
        if echo != SELF_TEST_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the echo differs from what was sent",
            ));
        }
    }
    stream.close().await?; // the server sees end-of-file and hangs up
    Ok((messages * SELF_TEST_MESSAGE.len()) as u64)
}

const USAGE: &str = "\
usage: cargo run --release --example echo -- [OPTIONS]

  --addr ADDR            where to listen (default 127.0.0.1:7878)
  --max-connections N    serve at most N connections at once (default 1024)
  --idle-timeout SECS    close a connection silent this long (default 60)
  --drain SECS           on SIGINT/SIGTERM, wait this long for open connections (default 5)
  --connections N        serve N connections, then exit
  --selftest             run 8 clients against a server on a free port, verify, exit";

fn main() {
    let mut addr = String::from("127.0.0.1:7878");
    let mut limits = Limits::default();
    let mut limit = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> u64 {
            args.next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| usage_error(&format!("{what} needs a number")))
        };
        match arg.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .unwrap_or_else(|| usage_error("--addr needs a value"))
            }
            "--max-connections" => {
                limits.max_connections = number("--max-connections").max(1) as usize
            }
            "--idle-timeout" => limits.idle_timeout = Duration::from_secs(number("--idle-timeout")),
            "--drain" => limits.drain_deadline = Duration::from_secs(number("--drain")),
            "--connections" => limit = Some(number("--connections") as usize),
            "--selftest" => {
                match self_test(8, 100) {
                    Ok(r) => println!(
                        "self-test passed: {} clients echoed {} bytes in {:.1} ms",
                        r.clients,
                        r.bytes,
                        r.elapsed.as_secs_f64() * 1e3
                    ),
                    Err(e) => {
                        eprintln!("self-test failed: {e}");
                        std::process::exit(1);
                    }
                }
                return;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => usage_error(&format!("unknown argument `{other}`")),
        }
    }

    let rt = weft::Runtime::new().unwrap_or_else(|e| {
        eprintln!("echo: cannot start the runtime: {e}");
        std::process::exit(1);
    });
    let result = rt.block_on(async {
        let shutdown = shutdown_signal()?;
        let listener = TcpListener::bind(addr.as_str()).await?;
        let local = listener.local_addr()?;
        println!(
            "echo server listening on {local}; try: nc {} {}",
            local.ip(),
            local.port()
        );
        let served = serve(listener, limits, limit, shutdown, true).await?;
        println!(
            "echo server stopped: {} connections served, {} cut at the drain deadline",
            served.accepted, served.cut
        );
        io::Result::Ok(())
    });
    if let Err(e) = result {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}

fn usage_error(msg: &str) -> ! {
    eprintln!("echo: {msg}\n\n{USAGE}");
    std::process::exit(2);
}
