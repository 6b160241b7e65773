//! No file descriptor outlives the runtime and the sockets. Alone in its
//! test binary so nothing else opens fds meanwhile.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::time::Duration;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn runtime_and_sockets_close_every_fd() {
    let before = open_fds();
    {
        let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let l = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let server = weft::spawn(async move {
                for _ in 0..10 {
                    let (mut s, _) = l.accept().await.unwrap();
                    let mut b = [0u8; 3];
                    s.read_exact(&mut b).await.unwrap();
                    s.write_all(&b).await.unwrap();
                }
            });
            for _ in 0..10 {
                let mut c = weft::net::TcpStream::connect(addr).await.unwrap();
                c.write_all(b"abc").await.unwrap();
                let mut b = [0u8; 3];
                c.read_exact(&mut b).await.unwrap();
            }
            server.await.unwrap();
            // Refused connects, UDP, and a task left pending on a socket.
            let dead = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            assert!(weft::net::TcpStream::connect(dead).await.is_err());
            let u = weft::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            weft::spawn(async move {
                let mut b = [0u8; 8];
                let _ = u.recv_from(&mut b).await;
            });
            weft::time::sleep(Duration::from_millis(10)).await;
            // A blocking thread that uses the runtime (it holds a handle).
            let v = weft::spawn_blocking(|| weft::Handle::current().metrics().num_workers())
                .await
                .unwrap();
            assert_eq!(v, 2);
        });
        drop(rt);
    }
    assert_eq!(open_fds(), before, "file descriptors leaked");
}
