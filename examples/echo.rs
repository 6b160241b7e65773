//! A TCP echo server on weft: one task per connection, an idle timeout per
//! read, and a bounded self-test.
//!
//! ```text
//! cargo run --release --example echo                      # serve on 127.0.0.1:7878
//! cargo run --release --example echo -- --addr 127.0.0.1:9000
//! cargo run --release --example echo -- --connections 3   # serve 3, then exit
//! cargo run --release --example echo -- --selftest        # 8 clients, verify, exit
//! ```
//!
//! Try it with `nc 127.0.0.1 7878`: every line you type comes back.
//! `tests/demo.rs` runs [`self_test`].

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};
use weft::task::JoinSet;

/// A connection that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What each self-test client sends, over and over.
pub const SELF_TEST_MESSAGE: &[u8] = b"the quick brown fox jumps over the lazy dog\n";

/// Echoes everything `stream` sends until it closes, errs, or idles for
/// [`IDLE_TIMEOUT`]. Returns the bytes echoed.
async fn echo(mut stream: TcpStream) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        // A read that waits parks this task, never the worker thread.
        let n = match weft::time::timeout(IDLE_TIMEOUT, stream.read(&mut buf)).await {
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

/// Accepts connections and serves each in a task of its own; stops after
/// `limit` connections (all of them served) if there is a limit. `log`:
/// report each connection on stderr.
async fn serve(listener: TcpListener, limit: Option<usize>, log: bool) -> io::Result<()> {
    let mut connections = JoinSet::new();
    let mut accepted = 0;
    while limit.is_none_or(|l| accepted < l) {
        let (stream, peer) = listener.accept().await?;
        accepted += 1;
        connections.spawn(async move {
            let result = echo(stream).await;
            if log {
                match result {
                    Ok(bytes) => eprintln!("{peer}: closed after {bytes} bytes"),
                    Err(e) => eprintln!("{peer}: {e}"),
                }
            }
        });
        // Reap finished connections as we go, so the set stays small.
        while connections.len() > 1024 {
            connections.join_next().await;
        }
    }
    while connections.join_next().await.is_some() {}
    Ok(())
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
        let server = weft::spawn(serve(listener, Some(clients), false));

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
usage: cargo run --release --example echo -- [--addr ADDR] [--connections N] [--selftest]

  --addr ADDR       where to listen (default 127.0.0.1:7878)
  --connections N   serve N connections, then exit
  --selftest        run 8 clients against a server on a free port, verify, exit";

fn main() {
    let mut addr = String::from("127.0.0.1:7878");
    let mut limit = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .unwrap_or_else(|| usage_error("--addr needs a value"))
            }
            "--connections" => {
                let n = args.next().and_then(|n| n.parse().ok());
                limit = Some(n.unwrap_or_else(|| usage_error("--connections needs a number")));
            }
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
        let listener = TcpListener::bind(addr.as_str()).await?;
        let local = listener.local_addr()?;
        println!(
            "echo server listening on {local}; try: nc {} {}",
            local.ip(),
            local.port()
        );
        serve(listener, limit, true).await
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
