//! Every fd the reactor or its sockets open is closed again: sources are
//! deregistered before they close, and the poller's own fds go with the
//! last handle. Alone in its binary so no other test opens fds meanwhile.

#![cfg(not(loom))]

mod common;

use std::net::Shutdown;

use common::Rt;
use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft_reactor::net::{TcpListener, TcpStream, UdpSocket, UnixStream};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn fd_count_returns_to_baseline() {
    // Warm up anything lazily opened by std or the test harness.
    drop(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let baseline = open_fds();
    {
        let rt = Rt::new();
        let handle = rt.handle();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for _ in 0..20 {
                let mut client = TcpStream::connect(addr).await.unwrap();
                let (mut server, _) = listener.accept().await.unwrap();
                client.write_all(b"ping").await.unwrap();
                let mut buf = [0u8; 4];
                server.read_exact(&mut buf).await.unwrap();
                client.shutdown(Shutdown::Both).unwrap();
            }
            let (split_r, split_w) = TcpStream::connect(addr).await.unwrap().into_split();
            drop((split_r, split_w));
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            udp.send_to(b"x", udp.local_addr().unwrap()).await.unwrap();
            let (a, b) = UnixStream::pair().unwrap();
            drop((a, b, udp, listener));
            // A refused connect must not leak its socket either.
            let dead = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            assert!(TcpStream::connect(dead).await.is_err());
        });
        assert_eq!(handle.source_count(), 0, "every source deregistered itself");
        assert!(open_fds() > baseline, "the poller itself is still open");
    }
    assert_eq!(open_fds(), baseline, "fds leaked");
}
