//! One hyper HTTP/1.1 "hello" server, on weft or on tokio: the two halves of
//! the side-by-side load test `scripts/http_compare.sh` (docs/benchmarks.md,
//! "HTTP under wrk").
//!
//! ```sh
//! cd benches && cargo run --release --bin http_server -- --runtime weft --addr 127.0.0.1:8080
//! cd benches && cargo run --release --bin http_server -- --runtime tokio --addr 127.0.0.1:8081
//! ```
//!
//! Everything but the runtime is shared, so that the comparison measures
//! the runtimes: the same service function, the same hyper builder (no
//! header-read timer), `TCP_NODELAY`, one task per connection, the accept
//! loop inside `block_on`, no graceful-shutdown wrapper, no shared counter.
//! The only differences are each runtime's own I/O glue: weft's
//! `weft::compat::hyper::WeftIo` over `weft::net::TcpStream`, and
//! hyper-util's `TokioIo` over `tokio::net::TcpStream`. `--runtime
//! weft-fio` is weft through the generic futures-io path instead (the
//! stream hidden behind futures-io's traits, so `WeftIo` zeroes and reads
//! as it must for any `AsyncRead`, the way smol's glue does).
//! `examples/http.rs` is the fuller weft server (graceful shutdown, signals,
//! a request counter) that a user would start from; it costs a little more
//! per request than this one, which is why the comparison does not use it.
//!
//! Workers: `WEFT_WORKER_THREADS` for both (default: one per CPU). With
//! `WEFT_HTTP_STATS=SECS` the weft server prints its scheduler counters
//! (polls, steals, parks, LIFO hits, remote schedules, driver turns) to
//! stderr every SECS seconds, as deltas: what the profile of a run looks
//! like from inside the runtime.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello from weft\n",
    ))))
}

fn arg(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = arg(&args, "--runtime").unwrap_or_else(|| "weft".to_owned());
    let addr = arg(&args, "--addr").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let workers = std::env::var("WEFT_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    match runtime.as_str() {
        "weft" => serve_weft(&addr, workers, false),
        "weft-fio" => serve_weft(&addr, workers, true),
        "tokio" => serve_tokio(&addr, workers),
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("--runtime {other}: expected weft or tokio"),
        )),
    }
}

fn serve_weft(addr: &str, workers: usize, futures_io: bool) -> std::io::Result<()> {
    let rt = weft::Runtime::builder().worker_threads(workers).build()?;
    let stats_every = std::env::var("WEFT_HTTP_STATS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map(std::time::Duration::from_secs_f64);
    std::thread::scope(|scope| {
        if let Some(every) = stats_every {
            let rt = &rt;
            scope.spawn(move || print_stats(rt, every));
        }
        rt.block_on(async move {
            let listener = weft::net::TcpListener::bind(addr).await?;
            println!("serving http://{}/ on weft", listener.local_addr()?);
            loop {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                weft::spawn(async move {
                    let result = if futures_io {
                        let io = weft::compat::hyper::WeftIo::new(FuturesIo(stream));
                        http1::Builder::new()
                            .serve_connection(io, service_fn(hello))
                            .await
                    } else {
                        let io = weft::compat::hyper::WeftIo::new(stream);
                        http1::Builder::new()
                            .serve_connection(io, service_fn(hello))
                            .await
                    };
                    if let Err(e) = result {
                        eprintln!("connection error: {e}");
                    }
                });
            }
        })
    })
}

/// A weft stream seen only through futures-io's traits: `WeftIo` then takes
/// its generic path (zero the spare buffer, read into it, write unvectored),
/// the path any futures-io stream gets, as smol's hyper glue does.
struct FuturesIo(weft::net::TcpStream);

impl futures_io::AsyncRead for FuturesIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for FuturesIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_close(cx)
    }
}

/// `WEFT_HTTP_STATS`: the weft server's counters, as deltas, every `every`.
fn print_stats(rt: &weft::Runtime, every: std::time::Duration) {
    let metrics = rt.metrics();
    let n = metrics.num_workers();
    let sum = |f: &dyn Fn(usize) -> u64| (0..n).map(f).sum::<u64>();
    let mut last = [0u64; 7];
    loop {
        std::thread::sleep(every);
        let driver = rt.driver_stats();
        let now = [
            sum(&|i| metrics.worker_poll_count(i)),
            sum(&|i| metrics.worker_steal_count(i)),
            sum(&|i| metrics.worker_park_count(i)),
            sum(&|i| metrics.worker_lifo_hits(i)),
            metrics.remote_schedule_count(),
            driver.turns,
            driver.wakes,
        ];
        let d: Vec<u64> = now.iter().zip(last).map(|(a, b)| a - b).collect();
        last = now;
        eprintln!(
            "polls {} steals {} parks {} lifo {} remote {} turns {} io-wakes {}",
            d[0], d[1], d[2], d[3], d[4], d[5], d[6]
        );
    }
}

fn serve_tokio(addr: &str, workers: usize) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("serving http://{}/ on tokio", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let conn = http1::Builder::new().serve_connection(io, service_fn(hello));
                if let Err(e) = conn.await {
                    eprintln!("connection error: {e}");
                }
            });
        }
    })
}
