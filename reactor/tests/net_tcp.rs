//! TCP over loopback through the reactor.

#![cfg(not(loom))]

mod common;

use std::io::{ErrorKind, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::thread;

use common::Rt;
use futures_util::future::join;
use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft_reactor::net::{TcpListener, TcpStream};

const LOCALHOST: &str = "127.0.0.1:0";

/// Echoes every byte of one connection back until end-of-file.
async fn echo(stream: TcpStream) -> std::io::Result<u64> {
    let (mut reader, mut writer) = stream.split();
    let n = futures_util::io::copy(&mut reader, &mut writer).await?;
    writer.close().await?;
    Ok(n)
}

/// A server on its own thread that echoes `connections` connections, each
/// on a thread of its own.
fn echo_server(rt: &Rt, connections: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = rt.block_on(TcpListener::bind(LOCALHOST)).unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = rt.handle();
    let server = thread::spawn(move || {
        let _guard = weft_reactor::context::enter(handle.clone());
        let mut workers = Vec::new();
        for _ in 0..connections {
            let (stream, peer) = common::block_on(listener.accept()).unwrap();
            assert_eq!(peer, stream.peer_addr().unwrap());
            let handle = handle.clone();
            workers.push(thread::spawn(move || {
                let _guard = weft_reactor::context::enter(handle);
                common::block_on(echo(stream)).unwrap();
            }));
        }
        for w in workers {
            w.join().unwrap();
        }
    });
    (addr, server)
}

#[test]
fn echo_round_trips() {
    let rt = Rt::new();
    let (addr, server) = echo_server(&rt, 1);
    rt.block_on(async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        assert!(stream.nodelay().unwrap());
        assert_eq!(stream.peer_addr().unwrap(), addr);
        let mut buf = [0u8; 64];
        for i in 0..1000u32 {
            let msg = [(i % 251) as u8; 64];
            stream.write_all(&msg).await.unwrap();
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, msg);
        }
        stream.close().await.unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
    server.join().unwrap();
    let stats = rt.driver.stats();
    assert!(
        stats.turns > 0 && stats.events > 0 && stats.wakes > 0,
        "{stats:?}"
    );
}

#[test]
fn transfer_32_mib_intact() {
    const LEN: usize = 32 << 20;
    let rt = Rt::new();
    let (addr, server) = echo_server(&rt, 1);
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 + i / 4099) as u8).collect();
    let received = rt.block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut reader, mut writer) = stream.split();
        let send = async {
            // Half through writev, half through plain writes.
            let (a, b) = data.split_at(LEN / 2);
            let mut sent = 0;
            while sent < a.len() {
                let (x, y) = a[sent..].split_at((a.len() - sent) / 2);
                let bufs = [IoSlice::new(x), IoSlice::new(y)];
                sent += writer.write_vectored(&bufs).await.unwrap();
            }
            writer.write_all(b).await.unwrap();
            writer.close().await.unwrap();
        };
        let recv = async {
            let mut out = Vec::with_capacity(LEN);
            reader.read_to_end(&mut out).await.unwrap();
            out
        };
        join(send, recv).await.1
    });
    server.join().unwrap();
    assert_eq!(received.len(), LEN);
    assert!(received == data, "the echoed bytes differ");
}

#[test]
fn sixty_four_concurrent_clients() {
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 100;
    let rt = Rt::new();
    let (addr, server) = echo_server(&rt, CLIENTS);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            rt.spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let mut buf = [0u8; 64];
                for r in 0..ROUNDS {
                    let msg = [(c * 31 + r) as u8; 64];
                    stream.write_all(&msg).await.unwrap();
                    stream.read_exact(&mut buf).await.unwrap();
                    assert_eq!(buf, msg);
                }
                stream.shutdown(Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    assert_eq!(
        rt.handle().source_count(),
        0,
        "every source was deregistered"
    );
}

#[test]
fn refused_connection() {
    let rt = Rt::new();
    let addr = {
        // A port that was free a moment ago and has no listener now.
        let l = std::net::TcpListener::bind(LOCALHOST).unwrap();
        l.local_addr().unwrap()
    };
    let err = rt.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn peer_vanishing_costs_one_failed_read() {
    let rt = Rt::new();
    let listener = rt.block_on(TcpListener::bind(LOCALHOST)).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = rt.spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&[1u8; 10]).await.unwrap();
        // Vanish mid-message with a reset (linger 0), not a clean FIN.
        rustix::net::sockopt::set_socket_linger(&stream, Some(std::time::Duration::ZERO)).unwrap();
    });
    rt.block_on(async {
        let (mut stream, _) = listener.accept().await.unwrap();
        client.join().unwrap();
        let mut buf = [0u8; 100];
        let mut got = 0;
        let mut failures = 0;
        let mut reads = 0;
        loop {
            reads += 1;
            match stream.read(&mut buf[got..]).await {
                Ok(0) => {
                    failures += 1;
                    break;
                }
                Ok(n) => got += n,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
                    failures += 1;
                    break;
                }
            }
            assert!(reads < 10, "the server is spinning on a dead peer");
        }
        assert_eq!(failures, 1);
        assert!(got <= 10);
        assert!(
            reads <= 2,
            "one read of data (maybe), then one failed read: {reads}"
        );
    });
}

#[test]
fn half_close() {
    let rt = Rt::new();
    let listener = rt.block_on(TcpListener::bind(LOCALHOST)).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt.spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap(); // ends at the client's FIN
        assert_eq!(request, b"hello");
        stream.write_all(b"bye").await.unwrap(); // our direction still works
        stream.close().await.unwrap();
    });
    rt.block_on(async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"hello").await.unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"bye");
        // Writing after our own shutdown is a broken pipe, with its OS kind.
        let err = stream.write_all(b"more").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    });
    server.join().unwrap();
}

#[test]
fn owned_halves_move_to_different_threads_and_reunite() {
    let rt = Rt::new();
    let (addr, server) = echo_server(&rt, 1);
    let stream = rt.block_on(TcpStream::connect(addr)).unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let reader_thread = rt.spawn(async move {
        let mut buf = [0u8; 5];
        reader.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"split");
        reader
    });
    rt.block_on(writer.write_all(b"split")).unwrap();
    let reader = reader_thread.join().unwrap();
    let stream = reader.reunite(writer).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    drop(stream);
    server.join().unwrap();
}

#[test]
fn poll_accept_and_peek() {
    let rt = Rt::new();
    // IPv6 loopback where the machine has it.
    let listener = rt.block_on(async {
        match TcpListener::bind("[::1]:0").await {
            Ok(l) => l,
            Err(_) => TcpListener::bind(LOCALHOST).await.unwrap(),
        }
    });
    let addr = listener.local_addr().unwrap();
    let client = rt.spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"peekaboo").await.unwrap();
    });
    rt.block_on(async {
        let (stream, _) = std::future::poll_fn(|cx| listener.poll_accept(cx))
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        let mut n = 0;
        while n < 8 {
            n = stream.peek(&mut buf).await.unwrap();
        }
        assert_eq!(&buf, b"peekaboo");
        let mut all = Vec::new();
        (&stream).read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"peekaboo");
    });
    client.join().unwrap();
}
