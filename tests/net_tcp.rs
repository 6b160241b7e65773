//! TCP through the runtime: echo under concurrency, bulk transfer, the
//! OS's errors, half-close.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::io::ErrorKind;
use std::time::Duration;
use weft::net::{TcpListener, TcpStream};
use weft::Runtime;

fn rt() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

async fn echo_server(l: TcpListener, conns: usize) {
    for _ in 0..conns {
        let (mut s, _) = l.accept().await.unwrap();
        weft::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
}

#[test]
fn sixty_four_concurrent_echo_clients() {
    let rt = rt();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = weft::spawn(echo_server(l, 64));
        let mut set = weft::task::JoinSet::new();
        for c in 0..64u32 {
            set.spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut msg = [0u8; 64];
                let mut back = [0u8; 64];
                for i in 0..200u32 {
                    msg[..4].copy_from_slice(&c.to_le_bytes());
                    msg[4..8].copy_from_slice(&i.to_le_bytes());
                    s.write_all(&msg).await.unwrap();
                    s.read_exact(&mut back).await.unwrap();
                    assert_eq!(msg, back);
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        server.await.unwrap();
    });
}

#[test]
fn thirty_two_mebibytes_arrive_intact() {
    let rt = rt();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        const LEN: usize = 32 << 20;
        let data: Vec<u8> = (0..LEN).map(|i| (i * 31 % 251) as u8).collect();
        let expected = data.clone();
        let sender = weft::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.write_all(&data).await.unwrap();
            s.close().await.unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::with_capacity(LEN);
        c.read_to_end(&mut got).await.unwrap();
        sender.await.unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got == expected, "payload corrupted");
    });
}

#[test]
fn connection_refused_is_reported() {
    let rt = rt();
    rt.block_on(async {
        // Bind then drop to get a port nobody listens on.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn vanished_peer_costs_one_failed_read() {
    let rt = rt();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"partial mess").unwrap();
            // Wait for the server's bytes, leave them unread, and close:
            // unread data makes the kernel send a reset.
            let mut one = [0u8; 1];
            s.read_exact(&mut one).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            drop(s);
        });
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(b"xyz").await.unwrap();
        client.join().unwrap();
        weft::time::sleep(Duration::from_millis(20)).await;
        // Exactly one failed read, with the OS's kind...
        let first = s.read(&mut buf).await.unwrap_err();
        assert_eq!(first.kind(), ErrorKind::ConnectionReset);
        // ...after which the socket reads as closed, without waiting.
        let second = weft::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("a read after the reset hung");
        assert!(matches!(second, Ok(0)), "{second:?}");
        // `shutdown(2)` now fails with ENOTCONN, but closing a connection
        // the peer already dropped succeeds (as in tokio; hyper would log
        // an error for every such client otherwise).
        let raw = s.shutdown(std::net::Shutdown::Write).unwrap_err();
        assert_eq!(raw.kind(), ErrorKind::NotConnected);
        s.close().await.unwrap();
        // The server goes on serving others.
        let c = weft::spawn(TcpStream::connect(addr));
        assert!(l.accept().await.is_ok());
        assert!(c.await.unwrap().is_ok());
    });
}

#[test]
fn half_close_reads_eof_and_can_still_answer() {
    let rt = rt();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap(); // until the client's FIN
            s.write_all(&got).await.unwrap();
            got.len()
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"question").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"question");
        assert_eq!(server.await.unwrap(), 8);
        // Writing after our own shutdown is a broken pipe.
        let err = c.write_all(b"more").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn split_halves_work_from_two_tasks() {
    let rt = rt();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        weft::spawn(echo_server(l, 1));
        let c = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = c.into_split();
        let writer = weft::spawn(async move {
            for i in 0..100u8 {
                w.write_all(&[i; 100]).await.unwrap();
            }
        });
        let mut got = vec![0u8; 10_000];
        r.read_exact(&mut got).await.unwrap();
        writer.await.unwrap();
        for (i, chunk) in got.chunks(100).enumerate() {
            assert!(chunk.iter().all(|&b| b == i as u8));
        }
    });
}

#[test]
fn ipv6_loopback() {
    let rt = rt();
    rt.block_on(async {
        let Ok(l) = TcpListener::bind("[::1]:0").await else {
            return; // no IPv6 on this machine
        };
        let addr = l.local_addr().unwrap();
        let c = weft::spawn(TcpStream::connect(addr));
        let mut a = l.accept().await.unwrap().0;
        let mut c = c.await.unwrap().unwrap();
        c.write_all(b"v6").await.unwrap();
        let mut b = [0u8; 2];
        a.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"v6");
    });
}

#[test]
fn host_names_are_resolved_on_the_blocking_pool() {
    // "localhost" needs getaddrinfo, which may block on DNS: it must run on
    // a blocking thread, not the worker. The listener is bound by name too.
    let rt = rt();
    assert_eq!(rt.metrics().num_blocking_threads(), 0);
    rt.block_on(async {
        let l = TcpListener::bind("localhost:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        assert!(addr.ip().is_loopback(), "{addr}");
        let server = weft::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.write_all(b"by name").await.unwrap();
        });
        let mut c = TcpStream::connect(("localhost", addr.port()))
            .await
            .unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"by name");
        server.await.unwrap();
        // IP literals and addresses never leave the task.
        let direct = TcpStream::connect(addr).await;
        assert!(direct.is_err(), "the listener is gone");
    });
    assert!(
        rt.metrics().num_blocking_threads() >= 1,
        "the lookups did not use the blocking pool"
    );
}
