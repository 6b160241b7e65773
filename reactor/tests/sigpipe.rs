//! Writing to a peer that is gone is an `EPIPE` error, not a `SIGPIPE`.
//! Rust binaries ignore SIGPIPE by default, but a host process embedding
//! weft may not: this test restores the default action (terminate) first,
//! so a `writev` without `MSG_NOSIGNAL` would kill the test binary. Alone in
//! its binary because signal dispositions are process-wide.

mod common;

use futures_util::AsyncWriteExt;
use std::io::ErrorKind;
use weft_reactor::net::{TcpListener, TcpStream};

#[test]
fn write_to_closed_peer_is_broken_pipe_not_sigpipe() {
    // SAFETY: setting a signal disposition to the default action; no
    // handler runs Rust code, and no other test in this binary cares.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let rt = common::Rt::new();
    let kind = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        drop(s);
        // The first writes may be accepted before the reset comes back;
        // keep writing (single and vectored) until the error shows.
        for _ in 0..1000 {
            let r = if rand_bool() {
                c.write(b"data").await
            } else {
                let bufs = [std::io::IoSlice::new(b"da"), std::io::IoSlice::new(b"ta")];
                c.write_vectored(&bufs).await
            };
            if let Err(e) = r {
                return e.kind();
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("writes to a closed peer kept succeeding");
    });
    assert!(
        matches!(kind, ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
        "{kind:?}"
    );
}

fn rand_bool() -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Relaxed) % 2 == 0
}
