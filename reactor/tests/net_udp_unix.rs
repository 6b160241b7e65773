//! UDP and Unix-domain sockets through the reactor.

#![cfg(not(loom))]

mod common;

use std::io::ErrorKind;
use std::sync::Arc;

use common::Rt;
use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft_reactor::net::{UdpSocket, UnixListener, UnixStream};

#[test]
fn udp_send_to_recv_from() {
    let rt = Rt::new();
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0u8; 64];
        for i in 0..100u8 {
            assert_eq!(a.send_to(&[i; 10], b_addr).await.unwrap(), 10);
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (10, a_addr));
            assert_eq!(&buf[..n], &[i; 10]);
            b.send_to(&buf[..n], from).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (10, b_addr));
        }
        // Several datagrams queued before the first receive: each receive
        // takes one, none is stranded by edge-triggered readiness.
        for i in 0..5u8 {
            a.send_to(&[i], b_addr).await.unwrap();
        }
        for i in 0..5u8 {
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[i]);
        }
    });
}

#[test]
fn udp_connect_send_recv() {
    let rt = Rt::new();
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0u8; 16];
        a.send(b"ping").await.unwrap();
        assert_eq!(b.recv(&mut buf).await.unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        b.send(b"pong").await.unwrap();
        let n = a.peek_from(&mut buf).await.unwrap().0;
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(a.recv(&mut buf).await.unwrap(), 4);

        // Nobody listens on b's port any more: ICMP port unreachable comes
        // back as ConnectionRefused, with its OS kind.
        drop(b);
        a.send(b"anyone?").await.unwrap();
        let err = a.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn udp_many_tasks_wait_on_one_socket() {
    const WAITERS: usize = 4;
    let rt = Rt::new();
    let socket = Arc::new(rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
    let addr = socket.local_addr().unwrap();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let socket = socket.clone();
            rt.spawn(async move {
                let mut buf = [0u8; 8];
                socket.recv_from(&mut buf).await.unwrap().0
            })
        })
        .collect();
    // Give every waiter time to register (not needed for correctness).
    std::thread::sleep(std::time::Duration::from_millis(50));
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..WAITERS {
        sender.send_to(b"x", addr).unwrap();
    }
    for w in waiters {
        assert_eq!(w.join().unwrap(), 1);
    }
}

fn socket_path(name: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("weft-reactor-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn unix_listener_and_stream() {
    let rt = Rt::new();
    let path = socket_path("echo");
    let listener = rt.block_on(async { UnixListener::bind(&path) }).unwrap();
    let server = rt.spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = (&stream, &stream);
        futures_util::io::copy(&mut r, &mut w).await.unwrap();
        w.close().await.unwrap();
    });
    rt.block_on(async {
        let mut stream = UnixStream::connect(&path).await.unwrap();
        let mut buf = [0u8; 32];
        for i in 0..200u8 {
            stream.write_all(&[i; 32]).await.unwrap();
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, [i; 32]);
        }
        // Half-close, and the FIN arrives with the last data: still EOF.
        stream.write_all(b"last").await.unwrap();
        stream.close().await.unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"last");
    });
    server.join().unwrap();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn unix_connect_errors_have_os_kinds() {
    let rt = Rt::new();
    let missing = socket_path("missing");
    let err = rt.block_on(UnixStream::connect(&missing)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    // A socket file nobody listens on any more.
    let stale = socket_path("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = rt.block_on(UnixStream::connect(&stale)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    let _ = std::fs::remove_file(&stale);
}

#[test]
fn unix_pair_write_then_close_reaches_eof() {
    let rt = Rt::new();
    rt.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"hello").await.unwrap();
        drop(a); // data and hang-up before b ever looks
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        let err = b.write_all(b"x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    });
}
