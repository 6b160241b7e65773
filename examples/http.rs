//! An HTTP/1.1 server: hyper on weft through `weft::compat::hyper`, with a
//! graceful shutdown.
//!
//! ```sh
//! cargo run --release --example http                          # 127.0.0.1:8080, until Ctrl-C
//! cargo run --release --example http -- --addr 127.0.0.1:3000 --workers 2
//! cargo run --release --example http -- --requests 1000       # stop after 1000 answers
//! cargo run --release --example http -- --header-timeout 5     # drop clients stalling 5 s in the headers
//! cargo run --release --example http -- --selftest            # 64 clients x 100 requests, then exit
//! wrk -t2 -c64 -d10s http://127.0.0.1:8080/                   # load it (apt-get install wrk)
//! ```
//!
//! Shutting down: the accept loop stops, every open connection finishes the
//! request it is serving and closes (idle keep-alive connections at once;
//! hyper-util's `GracefulShutdown`, which uses only tokio's `sync` module,
//! no tokio runtime), and the server waits for them, at most
//! [`DRAIN_TIMEOUT`].

use futures_util::future::{self, Either};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use weft::compat::hyper::{WeftIo, WeftTimer};

/// How long a shutdown waits for open connections to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What every request gets back.
pub const BODY: &[u8] = b"Hello from weft\n";

/// Resolves when the process is asked to stop.
///
/// Completes at the first SIGINT (Ctrl-C) or SIGTERM: the server then stops
/// accepting and drains its open connections (hyper-util's graceful
/// shutdown). If the handlers cannot be installed, it says so and never
/// completes: the server then runs until killed.
async fn shutdown_signal() {
    use weft::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut terminate), Ok(mut interrupt)) => {
            future::select(pin!(terminate.recv()), pin!(interrupt.recv())).await;
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("http: cannot install the SIGINT/SIGTERM handlers ({e}); Ctrl-C kills");
            future::pending::<()>().await
        }
    }
}

/// Serves HTTP/1.1 on `listener`, one task per connection, until `shutdown`
/// resolves; then stops accepting and drains the open connections. `served`
/// counts the answered requests. With `header_timeout`, a client that takes
/// longer than that to send a request's headers is disconnected (hyper's
/// timer is then weft's, `WeftTimer`; it costs a timer per request, which is
/// why it is off by default, as in `benches/http_server.rs`).
pub async fn serve(
    listener: weft::net::TcpListener,
    served: Arc<AtomicUsize>,
    header_timeout: Option<Duration>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    if let Some(timeout) = header_timeout {
        builder.timer(WeftTimer).header_read_timeout(timeout);
    }
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = match future::select(pin!(listener.accept()), shutdown.as_mut()).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(((), _)) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors, a connection reset before accept:
            // not the listener's fault, keep serving.
            Err(e) => {
                eprintln!("accept: {e}");
                weft::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        stream.set_nodelay(true)?;
        let served = served.clone();
        let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
            served.fetch_add(1, Relaxed);
            async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY)))) }
        });
        let conn = builder.serve_connection(WeftIo::new(stream), service);
        let conn = graceful.watch(conn);
        weft::spawn(async move {
            if let Err(e) = conn.await {
                if !is_client_gone(&e) {
                    eprintln!("connection error: {e}");
                }
            }
        });
    }
    drop(listener);
    if weft::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("gave up waiting for connections after {DRAIN_TIMEOUT:?}");
    }
    Ok(())
}

/// Whether `e` only says that the client went away (closed or reset the
/// connection mid-request, or between requests): normal on a server, and
/// under load thousands a second, so it is not worth a line on stderr.
pub fn is_client_gone(e: &hyper::Error) -> bool {
    use std::error::Error as _;
    if e.is_incomplete_message() || e.is_canceled() {
        return true;
    }
    let io = e.source().and_then(|s| s.downcast_ref::<io::Error>());
    io.is_some_and(|io| {
        matches!(
            io.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
    })
}

/// Resolves once `served` reaches `n` (`None`: never). Looks at the
/// counter every 10 ms: simple, and only the `--requests` mode uses it.
pub async fn served_reaches(served: Arc<AtomicUsize>, n: Option<usize>) {
    let Some(n) = n else {
        return future::pending().await;
    };
    while served.load(Relaxed) < n {
        weft::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `clients` concurrent keep-alive connections, `requests` GETs each;
/// returns how many responses carried the expected body.
pub async fn load(addr: SocketAddr, clients: usize, requests: usize) -> usize {
    let mut set = weft::task::JoinSet::new();
    for _ in 0..clients {
        set.spawn(async move {
            let stream = weft::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(WeftIo::new(stream))
                .await
                .unwrap();
            weft::spawn(conn);
            let mut ok = 0;
            for _ in 0..requests {
                let req = Request::get("/")
                    .header("host", "localhost")
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                // Wait until the connection has finished the last exchange.
                sender.ready().await.unwrap();
                let res = sender.send_request(req).await.unwrap();
                let body = res.into_body().collect().await.unwrap().to_bytes();
                if body == BODY {
                    ok += 1;
                }
            }
            ok
        });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        ok += r.unwrap();
    }
    ok
}

/// Starts a server on an ephemeral port, loads it, shuts it down gracefully
/// and returns how many answers were right.
///
/// # Panics
///
/// If the server cannot start or counts a different number of requests.
pub fn selftest(workers: Option<usize>, clients: usize, requests: usize) -> usize {
    let rt = runtime(workers).expect("runtime");
    rt.block_on(async move {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = futures_channel::oneshot::channel::<()>();
        let server = weft::spawn(serve(listener, served.clone(), None, async {
            let _ = stopped.await;
        }));
        let ok = load(addr, clients, requests).await;
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        assert_eq!(served.load(Relaxed), clients * requests);
        ok
    })
}

fn runtime(workers: Option<usize>) -> io::Result<weft::Runtime> {
    match workers {
        Some(n) => weft::Runtime::builder().worker_threads(n).build(),
        None => weft::Runtime::new(),
    }
}

/// The command line.
#[derive(Debug, Default)]
pub struct Args {
    pub addr: Option<String>,
    pub workers: Option<usize>,
    pub requests: Option<usize>,
    pub header_timeout: Option<Duration>,
    pub selftest: bool,
}

const USAGE: &str = "usage: http [--addr HOST:PORT] [--workers N] [--header-timeout SECS] \
                     [--requests N | --selftest]";

impl Args {
    /// Parses the arguments after the program name.
    ///
    /// # Errors
    ///
    /// A message naming the bad argument, with the usage line.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut out = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            let count = |name: &str, v: String| match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!(
                    "{name} takes a positive integer, not {v:?}\n{USAGE}"
                )),
            };
            match arg.as_str() {
                "--addr" => out.addr = Some(value("--addr")?),
                "--workers" => out.workers = Some(count("--workers", value("--workers")?)?),
                "--requests" => out.requests = Some(count("--requests", value("--requests")?)?),
                "--header-timeout" => {
                    let secs = count("--header-timeout", value("--header-timeout")?)?;
                    out.header_timeout = Some(Duration::from_secs(secs as u64));
                }
                "--selftest" => out.selftest = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(out)
    }
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if args.selftest {
        let (clients, requests) = (64, 100);
        let ok = selftest(args.workers, clients, requests);
        println!("{ok} of {} requests answered correctly", clients * requests);
        if ok != clients * requests {
            std::process::exit(1);
        }
        return Ok(());
    }
    let addr = args.addr.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let rt = runtime(args.workers)?;
    rt.block_on(async move {
        let listener = weft::net::TcpListener::bind(addr.as_str()).await?;
        let served = Arc::new(AtomicUsize::new(0));
        let stop_after = args.requests;
        println!(
            "serving http://{}/ on {} workers ({})",
            listener.local_addr()?,
            weft::Handle::current().metrics().num_workers(),
            match stop_after {
                Some(n) => format!("stops after {n} requests"),
                None => "Ctrl-C to stop".to_owned(),
            }
        );
        let shutdown = {
            let served = served.clone();
            async move {
                let enough = pin!(served_reaches(served, stop_after));
                future::select(pin!(shutdown_signal()), enough).await;
            }
        };
        serve(listener, served.clone(), args.header_timeout, shutdown).await?;
        println!("served {} requests, shut down", served.load(Relaxed));
        Ok(())
    })
}
