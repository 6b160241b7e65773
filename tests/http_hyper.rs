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
