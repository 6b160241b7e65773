//! weft::net::TcpSocket, and the backlog of TcpListener::bind.

use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddr, TcpListener as StdListener};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpSocket, TcpStream};

fn runtime() -> weft::Runtime {
    weft::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("/proc/sys/net/core/somaxconn")
        .trim()
        .parse()
        .expect("a number")
}

/// The backlog a listening socket was given, as the kernel keeps it:
/// Linux's `TCP_INFO` reports `sk_max_ack_backlog` in `tcpi_sacked` for a
/// socket in the LISTEN state (and the current queue length in
/// `tcpi_unacked`). This is what `ss -ltn` shows as Send-Q.
fn listen_backlog(fd: impl AsFd) -> u32 {
    // SAFETY: all-zero bytes are a valid `tcp_info` (plain integers).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the fd is open for the call (borrowed); `info` and `len` are
    // live, writable, and `len` holds the size of `info`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            std::ptr::from_mut(&mut info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info.tcpi_sacked
}

#[test]
fn bind_listens_with_a_backlog_of_1024_or_somaxconn() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(listen_backlog(&listener), 1024.min(somaxconn()));
        assert_eq!(weft::net::DEFAULT_BACKLOG, 1024);
        // The same read-back of a std listener shows what we replaced.
        let std_listener = StdListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(listen_backlog(&std_listener), 128.min(somaxconn()));
    });
}

#[test]
fn tcp_socket_listen_uses_the_given_backlog() {
    let rt = runtime();
    rt.block_on(async {
        for backlog in [5, 300, 2000] {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(backlog).unwrap();
            assert_eq!(listen_backlog(&listener), backlog.min(somaxconn()));
        }
    });
}

/// With nobody accepting, 700 connections in a row all complete the
/// handshake: they fit in the accept queue. With std's backlog of 128 the
/// 130th would not (the kernel drops its SYN; it would retry after a
/// second, and again, and time out below).
#[test]
fn a_burst_of_700_connections_fits_the_backlog() {
    const CONNECTIONS: usize = 700;
    if somaxconn() < CONNECTIONS as u32 {
        eprintln!("skipped: net.core.somaxconn is below {CONNECTIONS}");
        return;
    }
    let rt = runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().unwrap();
    // Plain blocking connects from this (non-runtime) thread: each returns
    // once the handshake completed, i.e. the connection was queued.
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let client = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connection {i} did not complete: {e}"));
        clients.push(client);
    }
    // They are really queued on our listener: accept them all now.
    rt.block_on(async {
        for _ in 0..CONNECTIONS {
            let (_stream, peer) = listener.accept().await.unwrap();
            assert_eq!(peer.ip(), addr.ip());
        }
    });
}

#[test]
fn reuseaddr_allows_rebinding_a_port_with_connections_in_time_wait() {
    let rt = runtime();
    rt.block_on(async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        assert!(socket.reuseaddr().unwrap());
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        // One connection, closed by the server first: its socket on `addr`'s
        // port lingers (FIN_WAIT / TIME_WAIT) after the listener is gone.
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(server);
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).await.unwrap(), 0, "server closed");
        drop(client);
        drop(listener);

        // Without SO_REUSEADDR the port is still taken...
        let plain = TcpSocket::new_v4().unwrap();
        assert!(!plain.reuseaddr().unwrap());
        let err = plain.bind(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        // ...with it, binding and listening succeed.
        let again = TcpSocket::new_v4().unwrap();
        again.set_reuseaddr(true).unwrap();
        again.bind(addr).unwrap();
        let listener = again.listen(16).unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        listener.accept().await.unwrap();
    });
}

#[test]
fn reuseport_lets_two_listeners_share_a_port() {
    let rt = runtime();
    rt.block_on(async {
        let first = TcpSocket::new_v4().unwrap();
        first.set_reuseport(true).unwrap();
        assert!(first.reuseport().unwrap());
        first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let first = first.listen(64).unwrap();

        let without = TcpSocket::new_v4().unwrap();
        let err = without.bind(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

        let second = TcpSocket::new_v4().unwrap();
        second.set_reuseport(true).unwrap();
        second.bind(addr).unwrap();
        let second = second.listen(64).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);

        // The kernel spreads connections over both (by a hash of the
        // client's port): connect until each listener got one, bounded.
        let (mut on_first, mut on_second) = (0, 0);
        let mut clients = Vec::new();
        for _ in 0..200 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            let accepted =
                futures_util::future::select(Box::pin(first.accept()), Box::pin(second.accept()))
                    .await;
            match accepted {
                futures_util::future::Either::Left((res, _)) => {
                    res.unwrap();
                    on_first += 1;
                }
                futures_util::future::Either::Right((res, _)) => {
                    res.unwrap();
                    on_second += 1;
                }
            }
            if on_first > 0 && on_second > 0 {
                break;
            }
        }
        assert!(
            on_first > 0 && on_second > 0,
            "200 connections all went to one listener ({on_first}, {on_second})"
        );
    });
}

#[test]
fn buffer_sizes_and_options_read_back() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.set_recv_buffer_size(96 * 1024).unwrap();
    // Linux doubles the request (its bookkeeping), within wmem_max/rmem_max
    // (212992 by default, above both requests).
    let send = socket.send_buffer_size().unwrap();
    let recv = socket.recv_buffer_size().unwrap();
    assert!(send >= 64 * 1024, "SO_SNDBUF {send}");
    assert!(recv >= 96 * 1024, "SO_RCVBUF {recv}");
    assert_ne!(send, recv, "the two setters must reach different options");

    socket.set_nodelay(true).unwrap();
    assert!(socket.nodelay().unwrap());
    socket.set_keepalive(true).unwrap();
    assert!(socket.keepalive().unwrap());
    socket.set_linger(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(3)));
    assert!(socket.take_error().unwrap().is_none());
    assert_eq!(socket.local_addr().unwrap().port(), 0, "not bound yet");
}

async fn echo_once(listener: TcpListener) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).await.unwrap();
    stream.write_all(&buf).await.unwrap();
}

#[test]
fn connect_v4() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(echo_once(listener));
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_nodelay(true).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        stream.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.await.unwrap();
    });
}

#[test]
fn connect_v6() {
    if StdListener::bind((Ipv6Addr::LOCALHOST, 0)).is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("[::1]:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let server = weft::spawn(echo_once(listener));
        let mut stream = TcpSocket::new_v6().unwrap().connect(addr).await.unwrap();
        stream.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.await.unwrap();
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let rt = runtime();
    rt.block_on(async {
        // A port that was just free: bound, then closed.
        let addr: SocketAddr = {
            let l = StdListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect(addr)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn listen_outside_a_runtime_panics_with_advice() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let panic = std::panic::catch_unwind(move || socket.listen(8)).expect_err("must panic");
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("runtime"), "{msg}");
}
