//! The HTTP example (hyper on `weft::compat::hyper`), as tests: its
//! self-test, its `--requests` mode, its argument parsing.

#[path = "../examples/http.rs"]
#[allow(dead_code)]
mod http;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

#[test]
fn hyper_serves_keep_alive_clients_and_shuts_down_gracefully() {
    assert_eq!(http::selftest(Some(2), 16, 50), 16 * 50);
}

#[test]
fn requests_mode_stops_after_n_answers() {
    let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let stop = http::served_reaches(served.clone(), Some(30));
        let timeout = Some(std::time::Duration::from_secs(5));
        let server = weft::spawn(http::serve(listener, served.clone(), timeout, stop));
        // 3 clients x 10 requests: exactly the 30 the server waits for. The
        // clients hang up when done, so the drain is immediate.
        assert_eq!(http::load(addr, 3, 10).await, 30);
        weft::time::timeout(std::time::Duration::from_secs(20), server)
            .await
            .expect("the server stops once 30 requests were answered")
            .unwrap()
            .unwrap();
        assert_eq!(served.load(Relaxed), 30);
        // The listener is closed: new connections are refused.
        assert!(weft::net::TcpStream::connect(addr).await.is_err());
    });
}

#[test]
fn arguments() {
    let parse = |args: &[&str]| http::Args::parse(args.iter().map(|s| s.to_string()));
    let args = parse(&[
        "--workers",
        "3",
        "--requests",
        "10",
        "--addr",
        "127.0.0.1:0",
    ])
    .unwrap();
    assert_eq!(args.workers, Some(3));
    assert_eq!(args.requests, Some(10));
    assert_eq!(args.addr.as_deref(), Some("127.0.0.1:0"));
    assert_eq!(args.header_timeout, None);
    let with_timeout = parse(&["--header-timeout", "5"]).unwrap();
    assert_eq!(
        with_timeout.header_timeout,
        Some(std::time::Duration::from_secs(5))
    );
    assert!(parse(&["--selftest"]).unwrap().selftest);
    assert!(parse(&["--workers", "0"])
        .unwrap_err()
        .contains("positive integer"));
    assert!(parse(&["--workers"]).unwrap_err().contains("needs a value"));
    assert!(parse(&["--bogus"])
        .unwrap_err()
        .contains("unknown argument"));
}

#[test]
fn shutdown_closes_idle_keep_alive_connections_and_returns() {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use weft::compat::hyper::WeftIo;

    let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = futures_channel::oneshot::channel::<()>();
        let server = weft::spawn(http::serve(listener, served.clone(), None, async {
            let _ = stopped.await;
        }));

        // One request, then the connection stays open and idle.
        let stream = weft::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(WeftIo::new(stream))
            .await
            .unwrap();
        let conn = weft::spawn(conn);
        let req = hyper::Request::get("/")
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        assert_eq!(
            res.into_body().collect().await.unwrap().to_bytes(),
            http::BODY
        );

        stop.send(()).unwrap();
        // The server closes the idle connection instead of waiting out
        // DRAIN_TIMEOUT for it, and returns.
        weft::time::timeout(http::DRAIN_TIMEOUT / 2, server)
            .await
            .expect("the server drained the idle connection promptly")
            .unwrap()
            .unwrap();
        // The client sees the connection end.
        weft::time::timeout(std::time::Duration::from_secs(5), conn)
            .await
            .expect("the client connection ended")
            .unwrap()
            .unwrap();
        assert_eq!(served.load(Relaxed), 1);
    });
}

// ------------------------------------------------------------------------
// Bad input (issue 9): garbage bytes, half requests, oversized headers,
// clients that never read, clients that vanish. Each gets a clean close or
// an error reply; the server never crashes, hangs or buffers without bound,
// and every connection task ends. The clients are raw blocking std sockets
// on the test thread; the server runs on its runtime's 2 workers.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Bound on every wait in these tests: reads, writes, tasks ending.
const WAIT: Duration = Duration::from_secs(20);

/// The example's `serve` on a runtime of its own, stopped by `finish`.
struct Server {
    rt: weft::Runtime,
    addr: SocketAddr,
    stop: futures_channel::oneshot::Sender<()>,
    task: weft::task::JoinHandle<std::io::Result<()>>,
    /// Tasks alive with the server running and no connection open.
    baseline: usize,
}

impl Server {
    fn start() -> Server {
        let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
        let listener = rt
            .block_on(weft::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = futures_channel::oneshot::channel::<()>();
        let served = Arc::new(AtomicUsize::new(0));
        let task = rt.spawn(http::serve(listener, served, None, async {
            let _ = stopped.await;
        }));
        let baseline = rt.metrics().num_alive_tasks();
        Server {
            rt,
            addr,
            stop,
            task,
            baseline,
        }
    }

    /// Waits until exactly `extra` connection tasks are alive.
    fn wait_for_connections(&self, extra: usize, what: &str) {
        let want = self.baseline + extra;
        let deadline = Instant::now() + WAIT;
        loop {
            let alive = self.rt.metrics().num_alive_tasks();
            if alive == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {alive} tasks alive after {WAIT:?}, expected {want} \
                 ({} for the server, {extra} connections)",
                self.baseline
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A well-behaved client still gets its answer.
    fn assert_serves_a_good_client(&self) {
        let mut stream = connect(self.addr);
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let reply = read_until_closed(&mut stream);
        assert!(
            reply.starts_with(b"HTTP/1.1 200 ") && reply.ends_with(http::BODY),
            "a good request got {:?}",
            String::from_utf8_lossy(&reply)
        );
    }

    /// Shuts the server down; it must return, with no connection left.
    fn finish(self) {
        self.wait_for_connections(0, "before shutdown");
        self.stop.send(()).unwrap();
        let task = self.task;
        self.rt
            .block_on(async move { weft::time::timeout(WAIT, task).await })
            .expect("the server shut down")
            .unwrap()
            .unwrap();
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Everything the server sends until it closes the connection (an orderly
/// close or a reset both count as closed); panics if it neither answers nor
/// closes within [`WAIT`].
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return reply,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return reply,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => panic!(
                "the server neither closed the connection nor answered within {WAIT:?} \
                 (got {:?} so far)",
                String::from_utf8_lossy(&reply)
            ),
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// An error reply (4xx or 5xx) or none at all: a bare close.
fn assert_error_reply_or_close(reply: &[u8], input: &str) {
    let text = String::from_utf8_lossy(reply);
    assert!(
        reply.is_empty() || text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
        "{input}: expected an error reply or a close, got {text:?}"
    );
}

#[test]
fn garbage_gets_an_error_reply_or_a_close_and_the_server_keeps_serving() {
    let server = Server::start();
    let inputs: [(&str, &[u8]); 6] = [
        ("binary junk", b"\x00\xff\xfe\x01 junk\r\n\r\n"),
        // What an HTTPS client sends first (a TLS ClientHello's start).
        ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        ("bad version", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"),
        ("bad method", b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (
            "negative length",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        ),
        ("bare newlines", b"\r\n\r\n\r\n\r\n\x7f\x7f\r\n\r\n"),
    ];
    for (what, input) in inputs {
        let mut stream = connect(server.addr);
        stream.write_all(input).unwrap();
        let reply = read_until_closed(&mut stream);
        assert_error_reply_or_close(&reply, what);
        server.assert_serves_a_good_client();
    }
    server.wait_for_connections(0, "after the garbage");
    server.finish();
}

#[test]
fn a_half_request_whose_client_vanishes_ends_its_connection_task() {
    let server = Server::start();
    let mut stream = connect(server.addr);
    // The head never ends: no empty line.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n")
        .unwrap();
    server.wait_for_connections(1, "the half request's connection");
    drop(stream);
    server.wait_for_connections(0, "after the client vanished");
    server.assert_serves_a_good_client();
    server.finish();
}

#[test]
fn oversized_headers_are_refused_before_the_head_ends() {
    /// Header bytes offered: more than twice hyper's default read buffer
    /// limit (about 400 KiB), which is what bounds a head in memory.
    const OFFERED: usize = 1 << 20;
    let server = Server::start();
    let mut stream = connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    // Write from a thread of its own: once the server gives up it stops
    // reading, and a blocked write must not keep this thread from reading
    // the reply. The head is never finished (no empty line), so a server
    // that buffered without bound would wait for ever and never answer.
    let sender = std::thread::spawn(move || {
        let line = format!("X-Padding: {}\r\n", "a".repeat(1000));
        let mut sent = 0;
        if writer
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
            .is_err()
        {
            return sent;
        }
        while sent < OFFERED {
            if writer.write_all(line.as_bytes()).is_err() {
                break; // The server closed (reset) the connection.
            }
            sent += line.len();
        }
        sent
    });
    let reply = read_until_closed(&mut stream);
    let text = String::from_utf8_lossy(&reply);
    assert!(
        reply.is_empty() || text.starts_with("HTTP/1.1 431 ") || text.starts_with("HTTP/1.1 400 "),
        "oversized headers: expected 431, 400 or a close, got {text:?}"
    );
    let sent = sender.join().unwrap();
    assert!(sent > 0, "the client could not send anything");
    drop(stream);
    server.wait_for_connections(0, "after the oversized head");
    server.assert_serves_a_good_client();
    server.finish();
}

/// A slowloris reader. The example's one response is 16 bytes, so "a large
/// response nobody reads" is made of many small ones: the client pipelines
/// requests and never reads, until the server can write no more.
#[test]
fn a_client_that_never_reads_does_not_hold_up_the_others() {
    /// Pipelined requests the slow reader may send: about 40 bytes each,
    /// each answered by about 100 bytes nobody reads. The server's writes
    /// stall once its send buffer and the client's receive buffer are full
    /// (4 MiB and 128 KiB at most with Linux's defaults: the client never
    /// reads, so its buffer never grows), then it stops reading and the
    /// client's writes stall once the server's receive buffer (32 MiB at
    /// most) is full too; 2,000,000 requests are 74 MB. Seen here: about
    /// 180,000.
    const MAX_REQUESTS: usize = 2_000_000;
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let server = Server::start();
    let mut slow = connect(server.addr);
    // A write that makes no progress for this long means the server has
    // stopped reading because its own writes are stuck.
    slow.set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let batch = REQUEST.repeat(1000);
    let mut sent = 0;
    let stalled = loop {
        if sent >= MAX_REQUESTS {
            break false;
        }
        match slow.write_all(&batch) {
            Ok(()) => sent += 1000,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true
            }
            Err(e) => panic!("the server dropped the slow reader early: {e}"),
        }
    };
    assert!(
        stalled,
        "the server answered {sent} unread requests without its writes stalling"
    );
    // The slow reader's connection task is parked on a full socket: the
    // other clients are served meanwhile.
    server.wait_for_connections(1, "the slow reader");
    for _ in 0..3 {
        server.assert_serves_a_good_client();
    }
    drop(slow);
    server.wait_for_connections(0, "after the slow reader left");
    server.finish();
}

#[test]
fn two_hundred_clients_that_vanish_at_once_leave_no_task_behind() {
    const CLIENTS: usize = 200;
    let server = Server::start();
    let mut streams: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(server.addr)).collect();
    // Half say nothing, half start a request and stop mid-head.
    for stream in streams.iter_mut().step_by(2) {
        stream.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    }
    server.wait_for_connections(CLIENTS, "200 open connections");
    drop(streams);
    server.wait_for_connections(0, "after 200 clients vanished");
    server.assert_serves_a_good_client();
    server.finish();
}

/// One hyper connection on weft, served to a raw std client that `client`
/// drives; returns how the connection ended.
fn serve_one(client: impl FnOnce(TcpStream) + Send + 'static) -> Result<(), hyper::Error> {
    let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
    rt.block_on(async {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || client(connect(addr)));
        let (stream, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi")))
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(weft::compat::hyper::WeftIo::new(stream), service);
        let ended = weft::time::timeout(WAIT, conn)
            .await
            .expect("the connection ends");
        client.join().unwrap();
        ended
    })
}

#[test]
fn a_client_that_goes_away_is_not_logged_as_an_error_and_garbage_is() {
    // Half a request, then a close: hyper's "incomplete message".
    let half = serve_one(|mut s| {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    })
    .expect_err("a half request is an error");
    assert!(http::is_client_gone(&half), "{half:?}");
    // Half a request, then a reset (SO_LINGER 0): an I/O error.
    let reset = serve_one(|mut s| {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let socket = weft::net::TcpSocket::from_std_stream(s).unwrap();
        socket.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(socket); // closes with a reset
    })
    .expect_err("a half request is an error");
    assert!(http::is_client_gone(&reset), "{reset:?}");
    // A full request, then a close between requests: no error at all.
    serve_one(|mut s| {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let _ = read_until_closed_or_reply(&mut s);
    })
    .expect("a client that leaves between requests is not an error");
    // Garbage is the server's business: logged.
    let garbage = serve_one(|mut s| {
        s.write_all(b"\x01\x02 nonsense\r\n\r\n").unwrap();
        let _ = read_until_closed(&mut s);
    })
    .expect_err("garbage is an error");
    assert!(!http::is_client_gone(&garbage), "{garbage:?}");
}

/// Reads until a whole reply head has arrived or the server closes.
fn read_until_closed_or_reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    reply
}
