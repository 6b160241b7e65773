//! The snippets of `docs/concepts.md` and `docs/zh/concepts.md`, compiled
//! and run.
//!
//! Each snippet is a whole program (`fn main`) inside a module of its own,
//! between `// snippet: NAME` and `// end snippet`; the docs show the same
//! text, and `docs_show_these_snippets` fails if the two drift apart. Timings
//! are printed, never asserted (that is the benchmarks' job).

mod doc_snippets;

#[test]
fn docs_show_these_snippets() {
    doc_snippets::check(
        include_str!("concepts.rs"),
        &["docs/concepts.md", "docs/zh/concepts.md"],
    );
}

mod coroutine {
    // snippet: coroutine
    use std::time::Duration;

    // A coroutine: calling it builds a paused state machine; each `.await`
    // is a point where it can stop and later resume where it left off.
    async fn brew(name: &'static str, steps: u32) -> String {
        for step in 1..=steps {
            println!("{name}: step {step}");
            weft::time::sleep(Duration::from_millis(10)).await;
        }
        format!("{name} done")
    }

    fn main() {
        let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let tea = brew("tea", 3); // nothing has run yet
            println!("tea's saved state: {} bytes", std::mem::size_of_val(&tea));
            let tea = weft::spawn(tea); // now it is a task
            let coffee = weft::spawn(brew("coffee", 3));
            // One worker thread; the two tasks take turns at each `.await`.
            assert_eq!(tea.await.unwrap(), "tea done");
            assert_eq!(coffee.await.unwrap(), "coffee done");
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod callback {
    // snippet: callback
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    #[derive(Default)]
    struct State {
        done: bool,
        waker: Option<Waker>,
    }

    /// A future that completes when another thread sets a flag.
    struct Flag(Arc<Mutex<State>>);

    impl Future for Flag {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut state = self.0.lock().unwrap();
            if state.done {
                return Poll::Ready(());
            }
            // Leave a callback behind: whoever sets the flag calls it.
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let setter = state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut state = setter.lock().unwrap();
            state.done = true;
            if let Some(waker) = state.waker.take() {
                waker.wake(); // the callback: the task is queued to run again
            }
        });
        rt.block_on(async {
            weft::spawn(Flag(state)).await.unwrap();
            println!("the task ran again after the callback");
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod event_driven {
    // snippet: event_driven
    use std::time::Duration;

    use futures_util::{AsyncReadExt, AsyncWriteExt};
    use weft::net::UnixStream;

    fn main() {
        let rt = weft::Runtime::new().unwrap();
        let before = rt.driver_stats();
        rt.block_on(async {
            let (mut left, mut right) = UnixStream::pair().unwrap();
            let reader = weft::spawn(async move {
                let mut buf = [0u8; 5];
                // Nothing to read yet: the task parks until the reactor
                // hears from the OS that `right` is readable.
                right.read_exact(&mut buf).await.unwrap();
                buf
            });
            weft::time::sleep(Duration::from_millis(20)).await;
            left.write_all(b"event").await.unwrap(); // the event
            assert_eq!(&reader.await.unwrap(), b"event");
        });
        let after = rt.driver_stats();
        println!("I/O events handled: {}", after.events - before.events);
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod event_loop {
    // snippet: event_loop
    use std::time::Duration;

    fn main() {
        // One worker, so every turn of the event loop happens on it.
        let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
        let before = rt.driver_stats();
        rt.block_on(async {
            let mut ticks = weft::time::interval(Duration::from_millis(10));
            for _ in 0..5 {
                ticks.tick().await; // the first tick is immediate
            }
        });
        let after = rt.driver_stats();
        println!(
            "turns: {}, timers fired: {}, I/O events: {}, tasks woken by I/O: {}",
            after.turns - before.turns,
            after.timers_fired - before.timers_fired,
            after.events - before.events,
            after.wakes - before.wakes,
        );
        assert!(after.turns > before.turns);
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod blocking {
    // snippet: blocking
    use std::io::{ErrorKind, Read};
    use std::time::Duration;

    use futures_util::AsyncReadExt;

    fn main() {
        // The OS side: a non-blocking socket with nothing to read says
        // WouldBlock at once instead of putting the thread to sleep.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap(); // never writes
        client.set_nonblocking(true).unwrap();
        let err = client.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);

        // weft's side: in a task, WouldBlock becomes Pending. The task
        // parks; its only worker thread goes on with other tasks.
        let rt = weft::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async move {
            let mut client = weft::net::TcpStream::from_std(client).unwrap();
            let reader = weft::spawn(async move { client.read(&mut [0u8; 16]).await });
            weft::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(weft::spawn(async { 6 * 7 }).await.unwrap(), 42);
            assert!(!reader.is_finished()); // still waiting, thread not blocked
            reader.abort();

            // Code that must block goes to the blocking pool instead.
            let slept = weft::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(10));
                "slept on a blocking-pool thread"
            });
            println!("{}", slept.await.unwrap());
        });
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod sync_async {
    // snippet: sync_async
    use std::time::{Duration, Instant};

    fn fetch_sync(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms)); // the caller waits
        ms
    }

    async fn fetch_async(ms: u64) -> u64 {
        weft::time::sleep(Duration::from_millis(ms)).await; // the task waits
        ms
    }

    fn main() {
        // Synchronous: each call returns when its work is done, in order.
        let start = Instant::now();
        let total = fetch_sync(30) + fetch_sync(30);
        println!("sync:  {total} ms of work in {:?}", start.elapsed());

        // Asynchronous: spawning returns at once; the results come later.
        // `block_on` is the bridge from synchronous code into async code.
        let rt = weft::Runtime::new().unwrap();
        let start = Instant::now();
        let total = rt.block_on(async {
            let a = weft::spawn(fetch_async(30));
            let b = weft::spawn(fetch_async(30));
            a.await.unwrap() + b.await.unwrap()
        });
        println!("async: {total} ms of work in {:?}", start.elapsed());
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}

mod concurrency_parallelism {
    // snippet: concurrency_parallelism
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    use weft::task::JoinSet;

    fn main() {
        // Concurrency: 1,000 waits in progress at once on ONE thread.
        let one = weft::Runtime::builder().worker_threads(1).build().unwrap();
        let start = Instant::now();
        one.block_on(async {
            let mut set = JoinSet::new();
            for _ in 0..1000 {
                set.spawn(weft::time::sleep(Duration::from_millis(50)));
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
        });
        println!("1,000 waits of 50 ms on 1 thread: {:?}", start.elapsed());

        // Parallelism: computing on several threads at the same instant.
        let two = weft::Runtime::builder().worker_threads(2).build().unwrap();
        let threads = two.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..64u64 {
                set.spawn(async move {
                    let mut x = i;
                    for _ in 0..100_000 {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    }
                    std::hint::black_box(x);
                    std::thread::current().id()
                });
            }
            let mut ids = HashSet::new();
            while let Some(id) = set.join_next().await {
                ids.insert(id.unwrap());
            }
            ids.len()
        });
        println!("64 CPU-bound tasks ran on {threads} worker thread(s)");
        assert!(threads <= 2);
    }
    // end snippet

    #[test]
    fn run() {
        main();
    }
}
