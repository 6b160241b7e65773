//! An HTTP/1.1 server: hyper running on weft.
//!
//! ```sh
//! cargo run --release --example http                      # serve on 127.0.0.1:8080
//! cargo run --release --example http -- --addr 127.0.0.1:3000
//! cargo run --release --example http -- --selftest        # 64 clients x 100 requests, then exit
//! wrk -t2 -c64 -d10s http://127.0.0.1:8080/               # load it (apt-get install wrk)
//! ```
//!
//! hyper 1 speaks its own I/O traits (`hyper::rt::Read` / `Write`); weft's
//! sockets implement the ecosystem's `futures_io` traits. The adapter below
//! is all it takes: about 60 lines, no unsafe.

use futures_io::{AsyncRead, AsyncWrite};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A weft TCP stream seen through hyper's I/O traits, with a read buffer of
/// its own: hyper hands out uninitialised memory, `futures_io` wants
/// initialised memory, so we read into a buffer initialised once per
/// connection and copy what arrived (no unsafe, no per-read zeroing).
pub struct HyperIo {
    stream: weft::net::TcpStream,
    buf: Box<[u8]>,
}

impl HyperIo {
    pub fn new(stream: weft::net::TcpStream) -> HyperIo {
        HyperIo {
            stream,
            buf: vec![0u8; 16 * 1024].into_boxed_slice(),
        }
    }
}

impl hyper::rt::Read for HyperIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(this.buf.len());
        let n = ready!(Pin::new(&mut this.stream).poll_read(cx, &mut this.buf[..want]))?;
        buf.put_slice(&this.buf[..n]);
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for HyperIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello from weft\n",
    ))))
}

/// Serves HTTP/1.1 on `listener`, one task per connection, until `max`
/// connections were accepted (`None`: forever).
pub async fn serve(listener: weft::net::TcpListener, max: Option<usize>) -> io::Result<()> {
    let mut accepted = 0;
    while max.is_none_or(|m| accepted < m) {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        accepted += 1;
        weft::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello));
            if let Err(e) = conn.await {
                eprintln!("connection error: {e}");
            }
        });
    }
    Ok(())
}

/// `clients` concurrent keep-alive connections, `requests` GETs each;
/// returns how many responses carried the expected body.
pub async fn load(addr: SocketAddr, clients: usize, requests: usize) -> usize {
    let mut set = weft::task::JoinSet::new();
    for _ in 0..clients {
        set.spawn(async move {
            let stream = weft::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
                .await
                .unwrap();
            weft::spawn(conn);
            let mut ok = 0;
            for _ in 0..requests {
                let req = Request::get("/")
                    .header("host", "localhost")
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                let body = res.into_body().collect().await.unwrap().to_bytes();
                if &body[..] == b"Hello from weft\n" {
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

/// Starts a server on an ephemeral port, loads it, and checks every answer.
pub fn selftest(clients: usize, requests: usize) -> usize {
    let rt = weft::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(serve(listener, Some(clients)));
        let ok = load(addr, clients, requests).await;
        server.await.unwrap().unwrap();
        ok
    })
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--selftest") {
        let (clients, requests) = (64, 100);
        let ok = selftest(clients, requests);
        println!("{ok} of {} requests answered correctly", clients * requests);
        if ok != clients * requests {
            std::process::exit(1);
        }
        return Ok(());
    }
    let addr = args
        .iter()
        .position(|a| a == "--addr")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:8080", String::as_str)
        .to_owned();
    let rt = weft::Runtime::new()?;
    rt.block_on(async move {
        let listener = weft::net::TcpListener::bind(addr.as_str()).await?;
        println!(
            "serving http://{}/ (Ctrl-C to stop)",
            listener.local_addr()?
        );
        serve(listener, None).await
    })
}
