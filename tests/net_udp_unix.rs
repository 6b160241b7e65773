//! UDP and Unix sockets through the runtime.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::io::ErrorKind;
use weft::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};
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

/// A directory of this test's own (tests run in parallel in one process).
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn unix_datagram_pair_keeps_order_through_a_full_queue() {
    // The receiver's queue holds only a few datagrams, so the sender keeps
    // finding it full and must wait for write readiness; every datagram
    // arrives, in order, intact.
    const COUNT: u32 = 5_000;
    let rt = rt();
    rt.block_on(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let sender = weft::spawn(async move {
            for i in 0..COUNT {
                let mut msg = [0u8; 1024];
                msg[..4].copy_from_slice(&i.to_le_bytes());
                msg[1023] = i as u8;
                assert_eq!(a.send(&msg).await.unwrap(), 1024);
            }
            a
        });
        let mut buf = [0u8; 2048];
        for i in 0..COUNT {
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(n, 1024);
            assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()), i);
            assert_eq!(buf[1023], i as u8);
        }
        // And back the other way.
        let a = sender.await.unwrap();
        b.send(b"done").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"done");
    });
}

#[test]
fn unix_datagram_bound_sockets_reply_by_address() {
    let rt = rt();
    let dir = scratch_dir("unix-dgram");
    let (server_path, client_path) = (dir.join("server.sock"), dir.join("client.sock"));
    rt.block_on(async {
        let server = UnixDatagram::bind(&server_path).unwrap();
        assert_eq!(
            server.local_addr().unwrap().as_pathname(),
            Some(server_path.as_path())
        );
        let echo = weft::spawn(async move {
            let mut buf = [0u8; 64];
            for _ in 0..3 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                let to = from.as_pathname().expect("a bound sender").to_owned();
                server.send_to(&buf[..n], to).await.unwrap();
            }
            // An unbound sender's address is unnamed: nothing to reply to.
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"anonymous");
            assert!(from.is_unnamed());
        });
        let client = UnixDatagram::bind(&client_path).unwrap();
        let mut buf = [0u8; 64];
        for word in [&b"one"[..], b"two", b"three"] {
            client.send_to(word, &server_path).await.unwrap();
            let (n, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], word);
            assert_eq!(from.as_pathname(), Some(server_path.as_path()));
        }
        let anon = UnixDatagram::unbound().unwrap();
        anon.send_to(b"anonymous", &server_path).await.unwrap();
        echo.await.unwrap();
        // Connected mode.
        let c = UnixDatagram::unbound().unwrap();
        c.connect(&client_path).unwrap();
        assert_eq!(
            c.peer_addr().unwrap().as_pathname(),
            Some(client_path.as_path())
        );
        c.send(b"direct").await.unwrap();
        let (n, _) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"direct");
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unix_datagram_errors_have_os_kinds() {
    let rt = rt();
    let dir = scratch_dir("unix-dgram-err");
    let path = dir.join("taken.sock");
    rt.block_on(async {
        let s = UnixDatagram::unbound().unwrap();
        let err = s
            .send_to(b"x", "/nonexistent/weft/dgram")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(
            s.connect("/nonexistent/weft/dgram").unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            s.send(b"x").await.unwrap_err().kind(),
            ErrorKind::NotConnected
        );
        let _bound = UnixDatagram::bind(&path).unwrap();
        assert_eq!(
            UnixDatagram::bind(&path).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        // Shut for writing: sends fail with the OS's kind, nothing hangs.
        let (a, _b) = UnixDatagram::pair().unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(
            a.send(b"x").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unix_stream_halves_work_in_separate_tasks_and_reunite() {
    // 1 MiB each way at once: each half in its own task, through buffers
    // small enough that both directions block and wake independently.
    const LEN: usize = 1 << 20;
    let rt = rt();
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut a_read, mut a_write) = a.into_split();
        let (mut b_read, mut b_write) = b.into_split();
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let d = data.clone();
        let writer_a = weft::spawn(async move {
            a_write.write_all(&d).await.unwrap();
            a_write
        });
        let d = data.clone();
        let writer_b = weft::spawn(async move {
            b_write.write_all(&d).await.unwrap();
            // Dropping the owned write half shuts the direction down.
        });
        let reader_b = weft::spawn(async move {
            let mut got = vec![0u8; LEN];
            b_read.read_exact(&mut got).await.unwrap();
            (got, b_read)
        });
        let mut got = Vec::new();
        a_read.read_to_end(&mut got).await.unwrap();
        assert!(got == data, "a read back something else");
        writer_b.await.unwrap();
        let (got_b, b_read) = reader_b.await.unwrap();
        assert!(got_b == data, "b read back something else");
        let a_write = writer_a.await.unwrap();
        // Halves of different streams are refused and handed back ...
        let err = a_read.reunite(weft::net::UnixStream::pair().unwrap().0.into_split().1);
        let err = err.unwrap_err();
        assert!(err.to_string().contains("UnixStream"), "{err}");
        // A tuple struct, matched as with tokio.
        let weft::net::unix::ReuniteError(a_read, _other) = err;
        assert!(b_read.peer_addr().is_ok());
        // ... and matching ones give the stream back.
        let mut a = a_read.reunite(a_write).unwrap();
        a.write_all(b"still open").await.unwrap();
    });
}

#[test]
fn unix_stream_borrowed_halves_run_concurrently() {
    let rt = rt();
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        let echo = weft::spawn(async move {
            let (mut r, mut w) = b.split();
            futures_util::io::copy(&mut r, &mut w).await.unwrap()
        });
        let (mut r, mut w) = a.split();
        let send = async {
            for i in 0..200u32 {
                w.write_all(&i.to_le_bytes()).await.unwrap();
            }
            w.close().await.unwrap();
        };
        let recv = async {
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        };
        let ((), back) = futures_util::future::join(send, recv).await;
        let expect: Vec<u8> = (0..200u32).flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(back, expect);
        assert_eq!(echo.await.unwrap(), 800);
    });
}

#[test]
fn unix_datagram_try_and_poll_forms() {
    let rt = rt();
    let dir = scratch_dir("unix-dgram-try");
    let path = dir.join("target.sock");
    rt.block_on(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0u8; 64];
        // Nothing queued: the try form says so at once.
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert_eq!(a.try_send(b"now").unwrap(), 3);
        assert_eq!(b.try_recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"now");
        // Fill the peer's queue: try_send reports WouldBlock instead of
        // waiting (bounded: the queue holds far fewer than this).
        let mut sent = 0;
        let full = loop {
            match a.try_send(&[1u8; 512]) {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 100_000, "the queue never filled");
        };
        assert_eq!(full.kind(), ErrorKind::WouldBlock);
        // The async send now waits for write readiness, which Linux
        // reports once the peer drained enough (a quarter of the buffer
        // free, not one datagram); a poll_recv loop in another task drains.
        let b = std::sync::Arc::new(b);
        let b2 = b.clone();
        let drain = weft::spawn(async move {
            let mut buf = [0u8; 64];
            for _ in 0..=sent {
                let n = std::future::poll_fn(|cx| b2.poll_recv(cx, &mut buf))
                    .await
                    .unwrap();
                assert_eq!(n, 64, "truncated to the buffer");
            }
        });
        a.send(&[2u8; 512]).await.unwrap();
        drain.await.unwrap();
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // By address.
        let target = UnixDatagram::bind(&path).unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        sender.try_send_to(b"addressed", &path).unwrap();
        let n = std::future::poll_fn(|cx| sender.poll_send_to(cx, b"polled", &path))
            .await
            .unwrap();
        assert_eq!(n, 6);
        let (n, from) = target.try_recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.is_unnamed()), (&b"addressed"[..], true));
        let (n, _) = target.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"polled");
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn owned_write_half_reunites_too() {
    let rt = rt();
    rt.block_on(async {
        let (a, _b) = UnixStream::pair().unwrap();
        let (r, w) = a.into_split();
        let mut a = w.reunite(r).unwrap();
        a.write_all(b"whole again").await.unwrap();
    });
}
