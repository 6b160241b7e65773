//! The snippets of `docs/guide.md`, compiled and run (see
//! `tests/concepts.rs` for how the docs are kept in step with them).

mod doc_snippets;

#[test]
fn docs_show_these_snippets() {
    doc_snippets::check(include_str!("guide.rs"), &["docs/guide.md"]);
}

mod setup {
    // snippet: setup
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn main() -> std::io::Result<()> {
        let started = Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        let rt = weft::Runtime::builder()
            .worker_threads(2) // default: one per core, or WEFT_WORKER_THREADS
            .thread_name("app-worker")
            .on_thread_start(move || {
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .max_blocking_threads(64) // default: 512
            .build()?;

        // From synchronous code: run a future to completion on this thread.
        let answer = rt.block_on(async { weft::spawn(async { 6 * 7 }).await.unwrap() });
        assert_eq!(answer, 42);

        // From another thread: a Handle is cheap to clone and Send + Sync.
        let handle = rt.handle().clone();
        let from_thread = std::thread::spawn(move || {
            let task = handle.spawn(async { "spawned from a plain thread" });
            handle.block_on(task).unwrap()
        });
        println!("{}", from_thread.join().unwrap());

        // `enter` makes `weft::spawn` work here without a block_on.
        let _guard = rt.enter();
        let detached = weft::spawn(async { /* runs on a worker */ });
        drop(detached); // dropping a JoinHandle detaches, it does not cancel
        println!(
            "threads started so far: {}",
            started.load(Ordering::Relaxed)
        );
        Ok(())
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod server {
    // snippet: server
    use std::io;
    use std::time::Duration;

    use futures_util::{AsyncReadExt, AsyncWriteExt};
    use weft::net::{TcpListener, TcpStream};
    use weft::task::JoinSet;

    /// Serves one connection: answers each request in upper case, and hangs
    /// up on a client that stays silent for 30 s.
    async fn handle(mut stream: TcpStream) -> io::Result<()> {
        let mut buf = vec![0u8; 4096];
        loop {
            let read = weft::time::timeout(Duration::from_secs(30), stream.read(&mut buf));
            let n = match read.await {
                Ok(result) => result?,
                Err(_elapsed) => return Ok(()),
            };
            if n == 0 {
                return Ok(()); // the client closed
            }
            let request = buf[..n].to_vec();
            // Heavy or blocking work leaves the worker threads alone.
            let reply = weft::spawn_blocking(move || request.to_ascii_uppercase())
                .await
                .expect("the blocking task panicked");
            stream.write_all(&reply).await?;
        }
    }

    /// Accepts connections forever, one task each. Dropping (or aborting)
    /// this future drops the JoinSet, which aborts every connection task.
    async fn serve(listener: TcpListener) -> io::Result<()> {
        let mut connections = JoinSet::new();
        loop {
            let (stream, _peer) = listener.accept().await?;
            stream.set_nodelay(true)?;
            connections.spawn(handle(stream));
            while let Some(finished) = connections.try_join_next() {
                if let Ok(Err(e)) = finished {
                    eprintln!("connection failed: {e}");
                }
            }
        }
    }

    fn main() -> io::Result<()> {
        let rt = weft::Runtime::new()?;
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = weft::spawn(serve(listener));

            let mut client = TcpStream::connect(addr).await?;
            client.write_all(b"hello").await?;
            let mut reply = [0u8; 5];
            client.read_exact(&mut reply).await?;
            assert_eq!(&reply, b"HELLO");

            server.abort(); // stop accepting, and close every connection
            assert!(server.await.unwrap_err().is_cancelled());
            io::Result::Ok(())
        })?;
        rt.shutdown_timeout(Duration::from_secs(5));
        Ok(())
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod timeouts {
    // snippet: timeouts
    use std::time::{Duration, Instant};

    use weft::time::{interval, sleep, sleep_until, timeout, MissedTickBehavior};

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        rt.block_on(async {
            // Bound any future; the error is `weft::time::Elapsed`.
            let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(60)));
            assert!(slow.await.is_err());
            let fast = timeout(Duration::from_secs(1), async { "in time" });
            assert_eq!(fast.await.unwrap(), "in time");

            // Deadlines are std Instants, and a timer never fires early.
            let deadline = Instant::now() + Duration::from_millis(5);
            sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);

            // A periodic job. After a stall, Skip (the default) drops the
            // missed ticks; Burst catches up; Delay restarts the period.
            let mut every = interval(Duration::from_millis(5));
            every.set_missed_tick_behavior(MissedTickBehavior::Delay);
            for _ in 0..3 {
                every.tick().await; // the first tick completes at once
            }
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod sockets {
    // snippet: sockets
    use std::io;

    use futures_util::{AsyncReadExt, AsyncWriteExt};
    use weft::net::{TcpListener, TcpStream, UdpSocket, UnixStream};

    fn main() -> io::Result<()> {
        let rt = weft::Runtime::new()?;
        rt.block_on(async {
            // TCP: split a stream to read in one task and write in another.
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let client = TcpStream::connect(listener.local_addr()?).await?;
            let (server, _) = listener.accept().await?;
            let (mut rx, _tx) = server.into_split();
            let reader = weft::spawn(async move {
                let mut line = String::new();
                rx.read_to_string(&mut line).await.map(|_| line)
            });
            let mut client = client;
            client.write_all(b"over tcp").await?;
            client.close().await?; // shuts down the write side: EOF for the reader
            assert_eq!(reader.await.unwrap()?, "over tcp");

            // UDP
            let a = UdpSocket::bind("127.0.0.1:0").await?;
            let b = UdpSocket::bind("127.0.0.1:0").await?;
            a.send_to(b"over udp", b.local_addr()?).await?;
            let mut buf = [0u8; 16];
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!((&buf[..n], from), (&b"over udp"[..], a.local_addr()?));

            // Unix-domain sockets
            let (mut left, mut right) = UnixStream::pair()?;
            left.write_all(b"over unix").await?;
            let mut buf = [0u8; 9];
            right.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"over unix");
            Ok(())
        })
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod async_fd {
    // snippet: async_fd
    use std::io::{self, Read, Write};
    use std::os::unix::net::UnixStream as StdUnixStream;

    use weft::io::Async;

    fn main() -> io::Result<()> {
        let rt = weft::Runtime::new()?;
        rt.block_on(async {
            // Any file descriptor: Async<T> makes it non-blocking and
            // registers it with the reactor.
            let (a, b) = StdUnixStream::pair()?;
            let a = Async::new(a)?;
            let b = Async::new(b)?;
            a.write_with(|mut s| s.write(b"ping")).await?;
            let mut buf = [0u8; 4];
            let n = b.read_with(|mut s| s.read(&mut buf)).await?;
            assert_eq!(&buf[..n], b"ping");
            Ok(())
        })
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod shutdown {
    // snippet: shutdown
    use std::time::Duration;

    use futures_util::FutureExt;

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        let forever = rt.spawn(async {
            loop {
                weft::time::sleep(Duration::from_secs(1)).await;
            }
        });
        // Cancels every task (its future is dropped), wakes every socket and
        // timer waiter with an error, joins the threads; returns as soon as
        // that is done, or after the timeout.
        rt.shutdown_timeout(Duration::from_secs(5));
        let result = forever.now_or_never().expect("finished: it was cancelled");
        assert!(result.unwrap_err().is_cancelled());
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod metrics {
    // snippet: metrics
    fn main() {
        let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let mut set = weft::task::JoinSet::new();
            for i in 0..1000u64 {
                set.spawn(async move { i * i });
            }
            while set.join_next().await.is_some() {}
        });
        let m = rt.metrics();
        for w in 0..m.num_workers() {
            println!(
                "worker {w}: {} polls, {} stolen in {} steals, {} parks, busy {:?}",
                m.worker_poll_count(w),
                m.worker_steal_count(w),
                m.worker_steal_operations(w),
                m.worker_park_count(w),
                m.worker_total_busy_duration(w),
            );
        }
        println!(
            "spawned {}, alive {}, global queue {}, blocking threads {}",
            m.spawned_tasks_count(),
            m.num_alive_tasks(),
            m.global_queue_depth(),
            m.num_blocking_threads(),
        );
        println!("event loop: {:?}", rt.driver_stats());
        assert_eq!(m.spawned_tasks_count(), 1000);
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}
