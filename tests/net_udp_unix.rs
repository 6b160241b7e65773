//! UDP and Unix sockets through the runtime.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft::net::{UdpSocket, UnixListener, UnixStream};
use weft::Runtime;

fn rt() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

#[test]
fn udp_send_to_recv_from_and_connected() {
    let rt = rt();
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let server = weft::spawn(async move {
            let mut buf = [0u8; 64];
            for _ in 0..10 {
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                b.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..10u8 {
            a.send_to(&[i; 7], ba).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (7, ba));
            assert_eq!(&buf[..7], &[i; 7]);
        }
        server.await.unwrap();
        // Connected mode.
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.connect(aa).await.unwrap();
        c.send(b"hi").await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], c.local_addr().unwrap()));
        a.send_to(b"yo", from).await.unwrap();
        let n = c.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"yo");
    });
}

#[test]
fn unix_stream_echo_and_half_close() {
    let rt = rt();
    let dir = std::env::temp_dir().join(format!("weft-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    rt.block_on(async {
        let l = UnixListener::bind(&path).unwrap();
        let server = weft::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            s.write_all(&got).await.unwrap();
        });
        let mut c = UnixStream::connect(&path).await.unwrap();
        c.write_all(b"over unix").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"over unix");
        server.await.unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unix_connect_to_missing_path_fails_cleanly() {
    let rt = rt();
    rt.block_on(async {
        let err = UnixStream::connect("/nonexistent/weft/socket")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    });
}
