//! `weft::compat::hyper`: hyper's HTTP/1 and HTTP/2 servers and clients,
//! both sides on weft, over TCP and Unix sockets, with weft's timer and
//! executor; the direct (uninitialised-buffer) read of weft's streams and
//! the generic path for any other `futures_io` stream.
//!
//! Every test runs under a 30 s timeout and binds to 127.0.0.1 or a
//! socket file in a fresh temporary directory.

#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::{Read as _, ReadBuf, Timer as _, Write as _};
use hyper::{Request, Response};
use weft::compat::hyper::{WeftExecutor, WeftIo, WeftTimer};
use weft::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// Runs `test` on a 2-worker runtime, failing it after 30 s.
fn run<F: Future<Output = ()> + Send + 'static>(test: F) {
    let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        weft::time::timeout(Duration::from_secs(30), test)
            .await
            .expect("the test finished within 30 s");
    });
}

/// Echoes the request body back, with the path in `x-path`.
async fn echo(req: Request<Incoming>) -> Result<Response<Incoming>, Infallible> {
    let path = req.uri().path().to_owned();
    let mut res = Response::new(req.into_body());
    res.headers_mut()
        .insert("x-path", path.parse().expect("a valid header value"));
    Ok(res)
}

/// Serves HTTP/1.1 with [`echo`] on every connection `listener` accepts;
/// counts the connections.
fn spawn_h1_server(listener: TcpListener, connections: Arc<AtomicUsize>) {
    weft::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            connections.fetch_add(1, Relaxed);
            weft::spawn(
                hyper::server::conn::http1::Builder::new()
                    .timer(WeftTimer)
                    .serve_connection(WeftIo::new(stream), hyper::service::service_fn(echo)),
            );
        }
    });
}

async fn h1_client<I>(io: I) -> hyper::client::conn::http1::SendRequest<Full<Bytes>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    weft::spawn(conn);
    sender
}

fn post(path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "localhost")
        .body(Full::new(body.into()))
        .unwrap()
}

/// Sends `req`, returns the `x-path` header and the body.
async fn exchange(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> (String, Bytes) {
    // The connection takes the next request only once it has finished the
    // last one (hyper's "connection was not ready" otherwise).
    sender.ready().await.unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let path = res.headers()["x-path"].to_str().unwrap().to_owned();
    (path, res.into_body().collect().await.unwrap().to_bytes())
}

/// `len` bytes of a pattern that no off-by-one or reordering survives.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn h1_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    spawn_h1_server(listener, connections.clone());
    (addr, connections)
}

#[test]
fn http1_server_and_client() {
    run(async {
        let (addr, _) = h1_server().await;
        let mut sender = h1_client(WeftIo::new(TcpStream::connect(addr).await.unwrap())).await;
        let (path, body) = exchange(&mut sender, post("/hello", "ping")).await;
        assert_eq!((path.as_str(), &body[..]), ("/hello", &b"ping"[..]));
    });
}

#[test]
fn http1_many_requests_on_one_keep_alive_connection() {
    run(async {
        let (addr, connections) = h1_server().await;
        let mut sender = h1_client(WeftIo::new(TcpStream::connect(addr).await.unwrap())).await;
        for i in 0..500 {
            let (path, body) = exchange(&mut sender, post(&format!("/{i}"), i.to_string())).await;
            assert_eq!(path, format!("/{i}"));
            assert_eq!(body, i.to_string());
        }
        assert_eq!(connections.load(Relaxed), 1, "one connection for all");
    });
}

#[test]
fn http1_large_body_both_ways() {
    run(async {
        let (addr, _) = h1_server().await;
        let mut sender = h1_client(WeftIo::new(TcpStream::connect(addr).await.unwrap())).await;
        // 8 MiB up and the same 8 MiB streamed back: many reads of hyper's
        // buffer at every size it grows through.
        let data = pattern(8 << 20);
        let (_, body) = exchange(&mut sender, post("/big", data.clone())).await;
        assert_eq!(body.len(), data.len());
        assert!(body == data, "the echoed body differs");
    });
}

#[test]
fn http2_server_and_client_need_the_executor() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        weft::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            hyper::server::conn::http2::Builder::new(WeftExecutor)
                .timer(WeftTimer)
                .serve_connection(WeftIo::new(stream), hyper::service::service_fn(echo))
                .await
                .unwrap();
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http2::Builder::new(WeftExecutor)
            .timer(WeftTimer)
            .handshake(WeftIo::new(stream))
            .await
            .unwrap();
        weft::spawn(conn);

        // 32 concurrent streams on the one connection, one of them large.
        let mut set = weft::task::JoinSet::new();
        for i in 0..32usize {
            let mut sender = sender.clone();
            set.spawn(async move {
                let body = if i == 0 {
                    pattern(4 << 20)
                } else {
                    pattern(i * 100)
                };
                let req = Request::post(format!("http://localhost/{i}"))
                    .body(Full::new(Bytes::from(body.clone())))
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                assert_eq!(res.version(), hyper::Version::HTTP_2);
                assert_eq!(res.headers()["x-path"], format!("/{i}").as_str());
                let got = res.into_body().collect().await.unwrap().to_bytes();
                assert!(got == body, "stream {i}: the echoed body differs");
            });
        }
        let mut done = 0;
        while let Some(res) = set.join_next().await {
            res.unwrap();
            done += 1;
        }
        assert_eq!(done, 32);
    });
}

#[test]
fn header_read_timeout_closes_a_stalled_client() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            hyper::server::conn::http1::Builder::new()
                .timer(WeftTimer)
                .header_read_timeout(Duration::from_millis(200))
                .serve_connection(WeftIo::new(stream), hyper::service::service_fn(echo))
                .await
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        // Half a request: the headers never end.
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        // The server gives up: the connection future fails with a timeout
        // and the socket closes (a 408 may come first; then end-of-file).
        let err = server.await.unwrap().expect_err("the server timed out");
        assert!(err.is_timeout(), "{err:?}");
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        let rest = String::from_utf8_lossy(&rest);
        assert!(
            rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
            "{rest}"
        );
        // Not early: the timer never fires before its deadline.
        assert!(started.elapsed() >= Duration::from_millis(150));
    });
}

#[test]
fn unix_socket_server() {
    let dir = std::env::temp_dir().join(format!("weft-hyper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    let _ = std::fs::remove_file(&path);
    let server_path = path.clone();
    run(async move {
        let listener = UnixListener::bind(&server_path).unwrap();
        weft::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                weft::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(WeftIo::new(stream), hyper::service::service_fn(echo)),
                );
            }
        });
        let stream = UnixStream::connect(&server_path).await.unwrap();
        let mut sender = h1_client(WeftIo::new(stream)).await;
        for i in 0..50 {
            let (_, body) = exchange(&mut sender, post("/unix", i.to_string())).await;
            assert_eq!(body, i.to_string());
        }
        let (_, body) = exchange(&mut sender, post("/big", pattern(2 << 20))).await;
        assert!(body == pattern(2 << 20));
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `futures_io` stream that is not one of weft's: `WeftIo` must take the
/// generic path (zeroed chunk) for it and not claim vectored writes.
struct Foreign(TcpStream);

impl futures_io::AsyncRead for Foreign {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for Foreign {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[test]
fn any_futures_io_stream_works_through_the_generic_path() {
    run(async {
        let (addr, _) = h1_server().await;
        let io = WeftIo::new(Foreign(TcpStream::connect(addr).await.unwrap()));
        assert!(!io.is_write_vectored());
        let mut sender = h1_client(io).await;
        let (_, small) = exchange(&mut sender, post("/a", "generic")).await;
        assert_eq!(small, "generic");
        // Larger than the generic path's chunk: several reads.
        let data = pattern(1 << 20);
        let (_, big) = exchange(&mut sender, post("/b", data.clone())).await;
        assert!(big == data);
    });
}

/// One `hyper::rt::Read::poll_read` of `io` into a fresh uninitialised
/// buffer of `cap` bytes; returns what was read.
async fn read_once<T>(io: &mut WeftIo<T>, cap: usize) -> Vec<u8>
where
    WeftIo<T>: hyper::rt::Read + Unpin,
{
    let mut storage = vec![MaybeUninit::<u8>::uninit(); cap];
    let mut buf = ReadBuf::uninit(&mut storage);
    poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf.unfilled()))
        .await
        .unwrap();
    buf.filled().to_vec()
}

/// Like [`read_once`], into a buffer pre-filled with `0xAA`; returns the
/// count read and the whole buffer, so a test can see what else was
/// written.
async fn read_into_marked<T>(io: &mut WeftIo<T>, cap: usize) -> (usize, Vec<u8>)
where
    WeftIo<T>: hyper::rt::Read + Unpin,
{
    let mut storage = vec![MaybeUninit::new(0xAAu8); cap];
    let n = {
        let mut buf = ReadBuf::uninit(&mut storage);
        poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf.unfilled()))
            .await
            .unwrap();
        buf.filled().len()
    };
    // SAFETY: every byte was initialised (to 0xAA, or by the read).
    let bytes = storage.iter().map(|b| unsafe { b.assume_init() }).collect();
    (n, bytes)
}

#[test]
fn weft_streams_read_without_zeroing_and_others_through_a_zeroed_chunk() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut direct = WeftIo::new(TcpStream::connect(addr).await.unwrap());
        let (mut peer, _) = listener.accept().await.unwrap();
        let mut generic = WeftIo::new(Foreign(TcpStream::connect(addr).await.unwrap()));
        let (mut generic_peer, _) = listener.accept().await.unwrap();
        peer.write_all(b"abc").await.unwrap();
        generic_peer.write_all(b"abc").await.unwrap();

        // weft's stream: the kernel wrote 3 bytes, nothing else was touched.
        let (n, bytes) = read_into_marked(&mut direct, 64).await;
        assert_eq!(n, 3);
        assert_eq!(&bytes[..3], b"abc");
        assert!(
            bytes[3..].iter().all(|&b| b == 0xAA),
            "the spare room was written"
        );

        // Any other stream: the chunk before the read was zeroed first.
        let (n, bytes) = read_into_marked(&mut generic, 64).await;
        assert_eq!(n, 3);
        assert_eq!(&bytes[..3], b"abc");
        assert!(
            bytes[3..].iter().all(|&b| b == 0),
            "the generic path zeroes"
        );
    });
}

#[test]
fn direct_reads_of_streams_and_owned_halves() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) =
            futures_util::future::join(TcpStream::connect(addr), listener.accept()).await;
        let mut client = client.unwrap();
        let (server, _) = accepted.unwrap();
        let (read_half, write_half) = server.into_split();
        let mut reader = WeftIo::new(read_half);
        let mut writer = WeftIo::new(write_half);
        assert!(writer.is_write_vectored());

        client.write_all(b"hello, hyper").await.unwrap();
        let mut got = Vec::new();
        while got.len() < 12 {
            got.extend(read_once(&mut reader, 5).await);
        }
        assert_eq!(got, b"hello, hyper");

        // The write half, vectored: two buffers, one message.
        let bufs = [io::IoSlice::new(b"ab"), io::IoSlice::new(b"cd")];
        let n = poll_fn(|cx| Pin::new(&mut writer).poll_write_vectored(cx, &bufs))
            .await
            .unwrap();
        assert_eq!(n, 4);
        poll_fn(|cx| Pin::new(&mut writer).poll_shutdown(cx))
            .await
            .unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"abcd");

        // End-of-file reads as an empty read.
        drop(client);
        assert!(read_once(&mut reader, 16).await.is_empty());

        // Unix pairs and their halves take the direct path too.
        let (a, b) = UnixStream::pair().unwrap();
        let (b_read, _b_write) = b.into_split();
        let mut a = WeftIo::new(a);
        let mut b_read = WeftIo::new(b_read);
        poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"unix"))
            .await
            .unwrap();
        assert_eq!(read_once(&mut b_read, 64).await, b"unix");
        assert_eq!(a.inner().local_addr().unwrap().as_pathname(), None);
        let _stream: UnixStream = a.into_inner();
    });
}

#[test]
fn timer_sleeps_resets_and_executor_spawns() {
    run(async {
        let timer = WeftTimer;
        let start = Instant::now();
        // A far deadline pulled in: `reset` moves the existing sleep.
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        timer.reset(&mut sleep, Instant::now() + Duration::from_millis(20));
        sleep.as_mut().await;
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(start.elapsed() < Duration::from_secs(3600));
        timer.sleep_until(Instant::now()).await;

        let (tx, rx) = futures_channel::oneshot::channel();
        hyper::rt::Executor::execute(&WeftExecutor, async move {
            tx.send(weft::Handle::current().metrics().num_workers())
                .unwrap();
        });
        assert_eq!(rx.await.unwrap(), 2, "ran on this runtime");
    });
}
