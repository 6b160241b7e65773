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

    use weft::io::{AsyncReadExt, AsyncWriteExt};
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

    use weft::io::{AsyncReadExt, AsyncWriteExt};
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

mod macros {
    // snippet: macros
    use weft::io::{AsyncReadExt, AsyncWriteExt};
    use weft::net::{TcpListener, TcpStream};

    /// Builds a runtime (here of 2 workers; without `worker_threads`, one
    /// per core or `WEFT_WORKER_THREADS`) and runs the body on it.
    #[weft::main(worker_threads = 2)]
    async fn main() -> std::io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        weft::spawn(async move {
            let (mut stream, _) = listener.accept().await?;
            stream.write_all(b"hi").await?;
            std::io::Result::Ok(())
        });
        let mut greeting = String::new();
        TcpStream::connect(addr)
            .await?
            .read_to_string(&mut greeting)
            .await?;
        assert_eq!(greeting, "hi");
        Ok(())
    }

    /// A test on a runtime of its own: 1 worker unless `worker_threads`
    /// says otherwise. It may return `()` or a `Result`.
    #[weft::test]
    async fn spawned_tasks_run() {
        assert_eq!(weft::spawn(async { 6 * 7 }).await.unwrap(), 42);
    }

    #[weft::test(worker_threads = 2)]
    async fn on_two_workers() -> Result<(), weft::task::JoinError> {
        let workers = weft::spawn(async { weft::Handle::current().metrics().num_workers() });
        assert_eq!(workers.await?, 2);
        Ok(())
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod signals {
    // snippet: signals
    use std::future::Future;
    use std::io;
    use std::pin::pin;
    use std::time::Duration;

    use futures_util::future::{select, Either};
    use weft::io::{AsyncReadExt, AsyncWriteExt};
    use weft::net::{TcpListener, TcpStream};
    use weft::signal::unix::{signal, SignalKind};
    use weft::task::JoinSet;

    /// Resolves on Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and
    /// Kubernetes send), whichever comes first.
    pub async fn shutdown_signal() -> io::Result<()> {
        // Install both handlers before waiting on either.
        let mut terminate = signal(SignalKind::terminate())?;
        let interrupt = pin!(weft::signal::ctrl_c());
        let terminated = pin!(terminate.recv());
        match select(interrupt, terminated).await {
            Either::Left((installed, _)) => installed,
            Either::Right(_) => Ok(()),
        }
    }

    /// Echoes until the client closes.
    async fn handle(mut stream: TcpStream) -> io::Result<()> {
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n]).await?;
        }
    }

    /// Serves until `stop` resolves, then stops accepting and gives the
    /// open connections `drain` to finish; aborts the rest. Returns how
    /// many connections it had to abort.
    pub async fn serve(
        listener: TcpListener,
        stop: impl Future<Output = ()>,
        drain: Duration,
    ) -> io::Result<usize> {
        let mut connections = JoinSet::new();
        let mut stop = pin!(stop);
        // Accept until `stop` wins the race.
        while let Either::Left((accepted, _)) = select(pin!(listener.accept()), stop.as_mut()).await
        {
            let (stream, _) = accepted?;
            connections.spawn(handle(stream));
        }
        drop(listener); // 1. stop accepting: new clients are refused
        let finished = weft::time::timeout(drain, async {
            // 2. let the open connections finish, for at most `drain`
            while connections.join_next().await.is_some() {}
        });
        let aborted = match finished.await {
            Ok(()) => 0,
            Err(_elapsed) => connections.len(),
        };
        connections.shutdown().await; // 3. abort the rest, and wait for them
        Ok(aborted)
    }

    fn main() -> io::Result<()> {
        let rt = weft::Runtime::new()?;
        let aborted = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:8080").await?;
            let stop = async {
                shutdown_signal()
                    .await
                    .expect("install the signal handlers");
                eprintln!("shutting down");
            };
            serve(listener, stop, Duration::from_secs(10)).await
        })?;
        eprintln!("{aborted} connections were cut off");
        rt.shutdown_timeout(Duration::from_secs(1));
        Ok(())
    }
    // end snippet

    use futures_channel::oneshot;

    /// The signal future installs its handlers and waits: it does not
    /// resolve on its own (nothing here sends a signal: other tests share
    /// this process). Raced against a timeout, which must win.
    #[test]
    fn shutdown_signal_waits_for_a_signal() {
        let _ = main; // the program's `main` waits for a real signal
        let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let raced = weft::time::timeout(Duration::from_millis(50), shutdown_signal());
            assert!(raced.await.is_err(), "no signal was sent, yet it resolved");
        });
    }

    /// `serve` with a oneshot in place of the signal: the open connection
    /// finishes its exchange during the drain, a new client is refused.
    #[test]
    fn stops_accepting_then_drains() {
        let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let stop = async {
                let _ = stop_rx.await;
            };
            let server = weft::spawn(serve(listener, stop, Duration::from_secs(30)));

            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"one").await.unwrap();
            let mut buf = [0u8; 3];
            client.read_exact(&mut buf).await.unwrap();
            stop_tx.send(()).unwrap(); // "Ctrl-C"
                                       // The open connection is still served while the server drains.
            let mut refused = None;
            for _ in 0..100_000 {
                match TcpStream::connect(addr).await {
                    // Queued before the listener closed: reset with it.
                    Ok(_queued) => weft::task::yield_now().await,
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                    Err(e) => {
                        refused = Some(e.kind());
                        break;
                    }
                }
            }
            assert_eq!(refused, Some(io::ErrorKind::ConnectionRefused));
            client.write_all(b"two").await.unwrap();
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"two");
            client.close().await.unwrap();
            assert_eq!(server.await.unwrap().unwrap(), 0, "nothing was aborted");
        });
    }

    /// A client that never hangs up is cut off when the drain time is up.
    #[test]
    fn aborts_what_the_drain_leaves() {
        let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let stop = async {
                let _ = stop_rx.await;
            };
            let server = weft::spawn(serve(listener, stop, Duration::from_millis(100)));
            let mut idle = TcpStream::connect(addr).await.unwrap();
            idle.write_all(b"x").await.unwrap();
            let mut buf = [0u8; 1];
            idle.read_exact(&mut buf).await.unwrap(); // it is being served
            stop_tx.send(()).unwrap();
            assert_eq!(
                server.await.unwrap().unwrap(),
                1,
                "the idle client was aborted"
            );
            // Its connection task was dropped: the client reads end-of-file.
            assert_eq!(idle.read(&mut buf).await.unwrap(), 0);
        });
    }
}

mod hyper_h1 {
    // snippet: hyper
    use std::convert::Infallible;
    use std::time::Duration;

    use http_body_util::{BodyExt, Empty, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response};
    use weft::compat::hyper::{WeftIo, WeftTimer};
    use weft::net::{TcpListener, TcpStream};

    type Error = Box<dyn std::error::Error + Send + Sync>;

    async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let text = format!("hello from weft, {}", req.uri().path());
        Ok(Response::new(Full::new(Bytes::from(text))))
    }

    /// One task per connection, as with any weft server.
    async fn serve(listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            let connection = http1::Builder::new()
                .timer(WeftTimer) // hyper's timeouts run on weft's timer
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(WeftIo::new(stream), service_fn(hello));
            weft::spawn(async move {
                if let Err(e) = connection.await {
                    eprintln!("connection: {e}");
                }
            });
        }
    }

    /// A client: hyper's connection runs in a task of its own, the
    /// `SendRequest` half sends requests over it.
    async fn get(addr: std::net::SocketAddr, path: &str) -> Result<String, Error> {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(WeftIo::new(stream)).await?;
        weft::spawn(connection);
        let request = Request::get(path)
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8(body.to_vec())?)
    }

    fn main() -> Result<(), Error> {
        let rt = weft::Runtime::new()?;
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = weft::spawn(serve(listener));
            assert_eq!(get(addr, "/guide").await?, "hello from weft, /guide");
            server.abort();
            Ok(())
        })
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod tcp_socket {
    // snippet: tcp_socket
    use std::io;
    use std::net::SocketAddr;
    use std::pin::pin;

    use futures_util::future::{select, Either};
    use weft::net::{TcpListener, TcpSocket};

    /// A listener configured before it listens: SO_REUSEPORT lets several
    /// listeners (threads, processes, a new version during a restart) share
    /// one port, and the kernel spreads the connections between them.
    fn listener(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?; // rebind at once after a restart
        socket.set_reuseport(true)?;
        socket.set_recv_buffer_size(256 * 1024)?; // the kernel may round it
        socket.bind(addr)?;
        socket.listen(4096) // the backlog (TcpListener::bind uses 1024)
    }

    fn main() -> io::Result<()> {
        let rt = weft::Runtime::new()?;
        rt.block_on(async {
            let first = listener("127.0.0.1:0".parse().unwrap())?;
            let addr = first.local_addr()?;
            let second = listener(addr)?; // the same port: SO_REUSEPORT

            // A client socket, configured before it connects.
            let client = TcpSocket::new_v4()?;
            client.set_send_buffer_size(64 * 1024)?;
            client.set_nodelay(true)?;
            let stream = client.connect(addr).await?;

            // Either listener may get the connection.
            let (accepted, _) = match select(pin!(first.accept()), pin!(second.accept())).await {
                Either::Left((accepted, _)) => accepted?,
                Either::Right((accepted, _)) => accepted?,
            };
            assert_eq!(accepted.peer_addr()?, stream.local_addr()?);
            Ok(())
        })
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod unhandled_panic {
    // snippet: unhandled_panic
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::Duration;

    use futures_util::FutureExt;
    use weft::UnhandledPanic;

    fn main() {
        // A panic in any task is a bug: stop everything rather than run on
        // without the task (the default, `Ignore`, hands the panic to the
        // task's JoinHandle and carries on).
        let rt = weft::Runtime::builder()
            .unhandled_panic(UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        let bystander = rt.spawn(async { weft::time::sleep(Duration::from_secs(3600)).await });
        let buggy = rt.spawn(async { panic!("a bug") });

        // `block_on` panics once the runtime has shut down.
        let run = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(std::future::pending::<()>())
        }));
        assert!(run.is_err());
        drop(rt);

        // The panicking task's handle has the panic; the others were cancelled.
        assert!(buggy.now_or_never().unwrap().unwrap_err().is_panic());
        assert!(bystander
            .now_or_never()
            .unwrap()
            .unwrap_err()
            .is_cancelled());
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod long_poll {
    // snippet: long_poll
    use std::sync::mpsc;
    use std::time::Duration;

    fn main() {
        let (stalls_tx, stalls) = mpsc::channel();
        let rt = weft::Runtime::builder()
            .worker_threads(2)
            // Report every poll that holds a worker for more than 20 ms,
            // while it still runs (from the runtime's monitor thread).
            .on_long_poll(Duration::from_millis(20), move |stall: &weft::LongPoll| {
                eprintln!(
                    "task {} has blocked worker {} for {:?}",
                    stall.task_id, stall.worker, stall.elapsed
                );
                let _ = stalls_tx.send(stall.task_id);
            })
            .build()
            .unwrap();

        // The bug: blocking code inside async code.
        let culprit = rt.spawn(async {
            std::thread::sleep(Duration::from_millis(300));
        });
        let reported = stalls.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(reported, culprit.id());
        rt.block_on(culprit).unwrap();

        let m = rt.metrics();
        let long_polls: u64 = (0..m.num_workers())
            .map(|w| m.worker_long_poll_count(w))
            .sum();
        assert!(long_polls >= 1);
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod channels {
    // snippet: channels
    use weft::task::JoinSet;

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        rt.block_on(async {
            // async-channel: bounded or unbounded, many senders and many
            // receivers (each message goes to one receiver).
            let (jobs_tx, jobs_rx) = async_channel::bounded::<u64>(16);
            let (results_tx, results_rx) = async_channel::unbounded::<u64>();

            let mut workers = JoinSet::new();
            for _ in 0..4 {
                let (jobs, results) = (jobs_rx.clone(), results_tx.clone());
                workers.spawn(async move {
                    // recv fails once every sender is gone and the queue is empty
                    while let Ok(n) = jobs.recv().await {
                        results.send(n * n).await.unwrap();
                    }
                });
            }
            drop(results_tx);

            for n in 1..=100 {
                jobs_tx.send(n).await.unwrap(); // waits while 16 are queued
            }
            drop(jobs_tx); // no more jobs: the workers' loops end

            let mut sum = 0;
            while let Ok(square) = results_rx.recv().await {
                sum += square;
            }
            assert_eq!(sum, (1..=100u64).map(|n| n * n).sum());
            while workers.join_next().await.is_some() {}
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod locks {
    // snippet: locks
    use std::sync::Arc;

    use async_lock::{Mutex, RwLock, Semaphore};
    use weft::task::JoinSet;

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        rt.block_on(async {
            // A Mutex whose guard may be held across an `.await`.
            let log = Arc::new(Mutex::new(Vec::new()));
            // Many readers or one writer.
            let config = Arc::new(RwLock::new(String::from("v1")));
            // At most 3 tasks in the "database" at once.
            let db_slots = Arc::new(Semaphore::new(3));

            let mut tasks = JoinSet::new();
            for i in 0..10 {
                let (log, config, db_slots) = (log.clone(), config.clone(), db_slots.clone());
                tasks.spawn(async move {
                    let _slot = db_slots.acquire_arc().await;
                    let version = config.read().await.clone();
                    weft::task::yield_now().await; // "the query"
                    log.lock().await.push((i, version));
                });
            }
            *config.write().await = String::from("v2");
            while tasks.join_next().await.is_some() {}

            let log = log.lock().await;
            assert_eq!(log.len(), 10);
            assert!(log.iter().all(|(_, v)| v == "v1" || v == "v2"));
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod tokio_sync {
    // snippet: tokio_sync
    use std::sync::Arc;

    use tokio::sync::{broadcast, mpsc, oneshot, watch, Notify, Semaphore};

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        rt.block_on(async {
            // mpsc: many senders, one receiver.
            let (tx, mut rx) = mpsc::channel::<u32>(8);
            for i in 0..3 {
                let tx = tx.clone();
                weft::spawn(async move { tx.send(i).await.unwrap() });
            }
            drop(tx);
            let mut got = Vec::new();
            while let Some(i) = rx.recv().await {
                got.push(i);
            }
            got.sort();
            assert_eq!(got, [0, 1, 2]);

            // oneshot: one value, once; a request/response pair.
            let (reply_tx, reply_rx) = oneshot::channel();
            weft::spawn(async move { reply_tx.send("pong").unwrap() });
            assert_eq!(reply_rx.await.unwrap(), "pong");

            // broadcast: every receiver sees every message.
            let (news, mut first) = broadcast::channel::<&str>(16);
            let mut second = news.subscribe();
            news.send("deploy").unwrap();
            assert_eq!(first.recv().await.unwrap(), "deploy");
            assert_eq!(second.recv().await.unwrap(), "deploy");

            // watch: the latest value, and a wake-up when it changes.
            let (config_tx, mut config_rx) = watch::channel(1);
            let watcher = weft::spawn(async move {
                config_rx.changed().await.unwrap();
                *config_rx.borrow_and_update()
            });
            config_tx.send(2).unwrap();
            assert_eq!(watcher.await.unwrap(), 2);

            // Notify: wake a waiting task without sending anything.
            let ready = Arc::new(Notify::new());
            let waiter = weft::spawn({
                let ready = ready.clone();
                async move { ready.notified().await }
            });
            ready.notify_one(); // stored if the waiter is not waiting yet
            waiter.await.unwrap();

            // Semaphore: bound the concurrency of something.
            let permits = Arc::new(Semaphore::new(2));
            let a = permits.clone().acquire_owned().await.unwrap();
            let _b = permits.clone().acquire_owned().await.unwrap();
            assert!(permits.try_acquire().is_err());
            drop(a);
            assert!(permits.try_acquire().is_ok());
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod files {
    // snippet: files
    use std::io;

    use futures_util::TryStreamExt;
    use weft::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    fn main() -> io::Result<()> {
        let rt = weft::Runtime::new()?;
        rt.block_on(async {
            let dir = std::env::temp_dir().join(format!("weft-guide-{}", std::process::id()));
            async_fs::create_dir_all(&dir).await?;
            let path = dir.join("notes.txt");

            // Whole files at once.
            async_fs::write(&path, "first\n").await?;
            assert_eq!(async_fs::read_to_string(&path).await?, "first\n");

            // A File is a futures-io stream: weft::io's helpers work on it.
            let mut file = async_fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .await?;
            file.write_all(b"second\n").await?;
            file.flush().await?; // writes are buffered until flushed
            let file = async_fs::File::open(&path).await?;
            let lines: Vec<String> = BufReader::new(file).lines().try_collect().await?;
            assert_eq!(lines, ["first", "second"]);

            // Or plain std::fs on weft's blocking pool.
            let size = weft::spawn_blocking({
                let path = path.clone();
                move || std::fs::metadata(path).map(|m| m.len())
            })
            .await
            .unwrap()?;
            assert_eq!(size, 13);

            async_fs::remove_dir_all(&dir).await
        })
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod process {
    // snippet: process
    use std::io;
    use std::process::Stdio;

    use futures_util::TryStreamExt;
    use weft::io::{Async, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    fn main() -> io::Result<()> {
        let rt = weft::Runtime::new()?;
        rt.block_on(async {
            // async-process: output() runs the child to the end.
            let out = async_process::Command::new("echo")
                .arg("hello")
                .output()
                .await?;
            assert!(out.status.success());
            assert_eq!(out.stdout, b"hello\n");

            // Talk to a child through its pipes while it runs.
            let mut child = async_process::Command::new("tr")
                .arg("a-z")
                .arg("A-Z")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"one\ntwo\n").await?;
            drop(stdin); // end-of-file for the child
            let stdout = BufReader::new(child.stdout.take().unwrap());
            let lines: Vec<String> = stdout.lines().try_collect().await?;
            assert_eq!(lines, ["ONE", "TWO"]);
            assert!(child.status().await?.success());

            // Without async-process: std's Command, its pipe in weft's
            // Async, and the wait on weft's blocking pool.
            let mut child = std::process::Command::new("printf")
                .arg("from std")
                .stdout(Stdio::piped())
                .spawn()?;
            let mut stdout = Async::new(child.stdout.take().unwrap())?;
            let mut text = String::new();
            stdout.read_to_string(&mut text).await?;
            assert_eq!(text, "from std");
            let status = weft::spawn_blocking(move || child.wait()).await.unwrap()?;
            assert!(status.success());
            Ok(())
        })
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}

mod select {
    // snippet: select
    use std::time::Duration;

    use futures_util::future::{self, Either};
    use futures_util::{pin_mut, select, FutureExt, StreamExt};
    use weft::time::sleep;

    async fn fetch() -> &'static str {
        sleep(Duration::from_millis(5)).await;
        "data"
    }

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        rt.block_on(async {
            // futures-util's select! (feature "async-await-macro"): its
            // futures must be fused, and pinned if they are not Unpin.
            let work = fetch().fuse();
            let deadline = sleep(Duration::from_secs(10)).fuse();
            pin_mut!(work, deadline); // or std::pin::pin!, one each
            let got = select! {
                data = work => Some(data),
                () = deadline => None,
            };
            assert_eq!(got, Some("data"));

            // In a loop: the fused, pinned futures survive the iterations,
            // and a finished branch is not polled again.
            let (tx, mut rx) = futures_channel::mpsc::unbounded::<u32>();
            weft::spawn(async move {
                for i in 1..=3 {
                    tx.unbounded_send(i).unwrap();
                }
            });
            let mut total = 0;
            loop {
                select! {
                    n = rx.next() => match n {
                        Some(n) => total += n,
                        None => break, // every sender is gone
                    },
                    () = deadline => panic!("no end in 10 s"),
                }
            }
            assert_eq!(total, 6);

            // Without the macro: future::select on two pinned futures gives
            // the winner and the other future, still running, to go on with.
            let slow = std::pin::pin!(sleep(Duration::from_secs(10)));
            let quick = std::pin::pin!(fetch());
            match future::select(slow, quick).await {
                Either::Left(((), _quick)) => unreachable!("the sleep lost"),
                Either::Right((data, _slow)) => assert_eq!(data, "data"),
            }
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}
