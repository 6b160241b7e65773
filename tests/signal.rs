//! weft::signal: ctrl_c and unix::signal.
//!
//! Signals are process-wide, and a handler once installed stays, so most
//! scenarios run in a child process: the test binary re-runs itself with
//! `WEFT_SIGNAL_SCENARIO` naming the scenario and only the `child_entry`
//! test selected. The child prints `ready N` when it listens for signal
//! `N` and wants one; the parent then sends it with `kill(2)`. The child
//! prints `done` and exits 0 when every expectation held. The parent bounds
//! the whole exchange in time and kills a child that overruns.

use std::future::{poll_fn, Future};
use std::io::{BufRead, BufReader};
use std::pin::pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::Poll;
use std::time::{Duration, Instant};

use weft::signal::unix::{signal, SignalKind};

const SCENARIO: &str = "WEFT_SIGNAL_SCENARIO";
/// How long a child may take, start to finish. Generous: the machine may
/// be building other crates on every core.
const CHILD_DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// The parent side.

/// Runs `scenario` in a child, answering each `ready N` with signal `N`,
/// and asserts that it printed `done` and exited successfully.
fn run_child(scenario: &str) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the child");
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + CHILD_DEADLINE;
    let mut transcript = Vec::new();
    let mut done = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                // The harness's own "test child_entry ... " may precede it.
                if let Some(at) = line.find("ready ") {
                    let n = line[at + "ready ".len()..].split_whitespace().next();
                    let signum: libc::c_int =
                        n.and_then(|n| n.parse().ok()).expect("a signal number");
                    // SAFETY: kill(2) takes plain integers and touches no memory
                    // of ours.
                    let sent = unsafe { libc::kill(pid, signum) };
                    assert_eq!(sent, 0, "kill({pid}, {signum}) failed");
                }
                done |= line.trim_end().ends_with("done");
                transcript.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_and_reap(&mut child);
                panic!(
                    "scenario {scenario:?} did not finish within {CHILD_DEADLINE:?}; \
                     its output:\n{}",
                    transcript.join("\n")
                );
            }
        }
    }
    let status = wait_bounded(&mut child, deadline);
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
    }
    assert!(
        status.success() && done,
        "scenario {scenario:?} failed ({status}); stdout:\n{}\nstderr:\n{stderr}",
        transcript.join("\n")
    );
}

fn wait_bounded(child: &mut Child, deadline: Instant) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            return status;
        }
        if Instant::now() >= deadline {
            kill_and_reap(child);
            panic!("the child closed its stdout but did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------
// The child side.

/// The child's entry point. In the parent's own run (no scenario in the
/// environment) it has nothing to do.
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return;
    };
    match scenario.as_str() {
        "ctrl_c" => ctrl_c_scenario(),
        "kinds" => kinds_scenario(),
        "two_listeners" => two_listeners_scenario(),
        "two_runtimes" => two_runtimes_scenario(),
        "runtime_after_drop" => runtime_after_drop_scenario(),
        "before_recv" => before_recv_scenario(),
        "busy_workers" => busy_workers_scenario(),
        "hogged_worker" => hogged_worker_scenario(),
        other => panic!("unknown scenario {other:?}"),
    }
    println!("done");
}

/// Tells the parent to send `kind` now.
fn ready(kind: SignalKind) {
    println!("ready {}", kind.as_raw_value());
}

fn runtime(workers: usize) -> weft::Runtime {
    weft::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("runtime")
}

/// Polls `future` once; `Some` if it completed.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    poll_fn(|cx| match std::pin::Pin::new(&mut *future).poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

fn ctrl_c_scenario() {
    let rt = runtime(2);
    rt.block_on(async {
        let mut ctrl_c = pin!(weft::signal::ctrl_c());
        // The handler is installed at the first poll; only then is a
        // SIGINT safe to send (before it, SIGINT would end the process).
        assert!(poll_once(&mut ctrl_c).await.is_none());
        ready(SignalKind::interrupt());
        ctrl_c.await.expect("ctrl_c");
    });
}

fn kinds_scenario() {
    let rt = runtime(2);
    rt.block_on(async {
        for kind in [
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::user_defined1(),
            SignalKind::user_defined2(),
        ] {
            let mut listener = signal(kind).expect("signal");
            ready(kind);
            assert_eq!(listener.recv().await, Some(()), "{kind:?}");
        }
    });
}

fn two_listeners_scenario() {
    let rt = runtime(2);
    rt.block_on(async {
        let mut a = signal(SignalKind::user_defined1()).unwrap();
        let mut b = signal(SignalKind::user_defined1()).unwrap();
        // One on another task, one here: both hear the one delivery.
        let other = weft::spawn(async move { a.recv().await });
        ready(SignalKind::user_defined1());
        assert_eq!(b.recv().await, Some(()));
        assert_eq!(other.await.unwrap(), Some(()));
    });
}

fn two_runtimes_scenario() {
    let first = runtime(1);
    let second = runtime(1);
    let mut a = first
        .block_on(async { signal(SignalKind::terminate()) })
        .unwrap();
    let mut b = second
        .block_on(async { signal(SignalKind::terminate()) })
        .unwrap();
    let on_first = first.spawn(async move { a.recv().await });
    let on_second = second.spawn(async move { b.recv().await });
    ready(SignalKind::terminate());
    assert_eq!(first.block_on(on_first).unwrap(), Some(()));
    assert_eq!(second.block_on(on_second).unwrap(), Some(()));
}

fn runtime_after_drop_scenario() {
    for round in 0..3 {
        let rt = runtime(2);
        rt.block_on(async {
            let mut hup = signal(SignalKind::hangup()).unwrap();
            ready(SignalKind::hangup());
            assert_eq!(hup.recv().await, Some(()), "round {round}");
        });
        drop(rt);
    }
}

fn before_recv_scenario() {
    let rt = runtime(2);
    rt.block_on(async {
        let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
        // raise(3) returns only after the handler ran: both deliveries are
        // complete before `recv` is first polled.
        for _ in 0..2 {
            // SAFETY: raise(3) takes a plain integer; our handler for SIGUSR2
            // is installed (by `signal` above), so it does not end us.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
        }
        assert_eq!(usr2.recv().await, Some(()));
        // The two coalesced into one: nothing more is pending. (A bounded
        // look: nothing can arrive, so the timer decides.)
        let more = weft::time::timeout(Duration::from_millis(200), usr2.recv()).await;
        assert!(more.is_err(), "two deliveries before recv reported twice");
        // And the stream goes on.
        ready(SignalKind::user_defined2());
        assert_eq!(usr2.recv().await, Some(()));
    });
}

/// Every worker runs CPU-bound tasks (yielding between slices, as a busy
/// server's tasks do); the listener awaits on the `block_on` thread.
fn busy_workers_scenario() {
    const WORKERS: usize = 2;
    let rt = runtime(WORKERS);
    let stop = Arc::new(AtomicBool::new(false));
    let (started_tx, mut started_rx) = futures_channel::mpsc::unbounded();
    let spinners: Vec<_> = (0..WORKERS * 2)
        .map(|_| {
            let stop = stop.clone();
            let started_tx = started_tx.clone();
            rt.spawn(async move {
                let _ = started_tx.unbounded_send(());
                let mut slices = 0u64;
                while !stop.load(SeqCst) {
                    spin_for(Duration::from_micros(200));
                    slices += 1;
                    weft::task::yield_now().await;
                }
                slices
            })
        })
        .collect();
    rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).unwrap();
        // Every spinner runs before the signal is sent.
        for _ in 0..WORKERS * 2 {
            futures_util::StreamExt::next(&mut started_rx)
                .await
                .unwrap();
        }
        ready(SignalKind::terminate());
        assert_eq!(term.recv().await, Some(()));
        stop.store(true, SeqCst);
        for spinner in spinners {
            assert!(spinner.await.unwrap() > 0);
        }
    });
}

/// One task spins inside a single poll (never yielding) until the signal
/// arrives; the listener is a task of the same runtime. The hog is woken by
/// a timer, i.e. by the worker that owned the driver, which then leaves the
/// driver to run it while the other worker sleeps on its condvar: the
/// runtime's monitor must hand the driver on for the delivery to be
/// noticed (tokio's issue 4730).
fn hogged_worker_scenario() {
    let rt = runtime(2);
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
        let stopper = stop.clone();
        let listener = weft::spawn(async move {
            let got = usr1.recv().await;
            stopper.store(true, SeqCst);
            got
        });
        let (started_tx, started_rx) = futures_channel::oneshot::channel();
        let hog = {
            let stop = stop.clone();
            weft::spawn(async move {
                weft::time::sleep(Duration::from_millis(20)).await;
                let _ = started_tx.send(());
                let start = Instant::now();
                // Bounded, so a failure ends instead of hanging.
                while !stop.load(SeqCst) && start.elapsed() < Duration::from_secs(30) {
                    std::hint::spin_loop();
                }
                stop.load(SeqCst)
            })
        };
        started_rx.await.unwrap();
        ready(SignalKind::user_defined1());
        assert_eq!(listener.await.unwrap(), Some(()));
        assert!(
            hog.await.unwrap(),
            "the hog gave up before the signal arrived"
        );
    });
}

fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn ctrl_c_completes_on_sigint() {
    run_child("ctrl_c");
}

#[test]
fn sigterm_sighup_sigusr1_sigusr2_are_delivered() {
    run_child("kinds");
}

#[test]
fn two_listeners_in_one_runtime_both_see_one_delivery() {
    run_child("two_listeners");
}

#[test]
fn listeners_in_two_runtimes_both_see_one_delivery() {
    run_child("two_runtimes");
}

#[test]
fn a_runtime_built_after_another_was_dropped_still_hears_signals() {
    run_child("runtime_after_drop");
}

#[test]
fn a_delivery_before_the_first_recv_is_kept_and_coalesced() {
    run_child("before_recv");
}

#[test]
fn a_signal_is_delivered_while_every_worker_is_busy() {
    run_child("busy_workers");
}

#[test]
fn a_signal_is_delivered_while_a_task_hogs_its_worker() {
    run_child("hogged_worker");
}

// These need no delivery, so they run in the test process itself.

#[test]
fn forbidden_and_invalid_signals_give_invalid_input() {
    let rt = runtime(1);
    rt.block_on(async {
        for signum in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            0,
            -1,
            65,
            1000,
        ] {
            let err = signal(SignalKind::from_raw(signum)).expect_err("must be refused");
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::InvalidInput,
                "{signum}: {err}"
            );
        }
    });
}

#[test]
fn recv_returns_none_once_the_runtime_shut_down() {
    let rt = runtime(1);
    // A signal nothing in this binary sends; its handler is harmless.
    let mut alarm = rt.block_on(async { signal(SignalKind::alarm()) }).unwrap();
    let mut waiting = rt.block_on(async { signal(SignalKind::alarm()) }).unwrap();
    // One listener is parked in `recv` on another thread while the runtime
    // shuts down (or polls after; either way the answer is `None`).
    let (tx, rx) = mpsc::channel();
    let other = runtime(1);
    std::thread::spawn(move || {
        let _ = tx.send(other.block_on(waiting.recv()));
    });
    drop(rt);
    assert_eq!(rx.recv_timeout(CHILD_DEADLINE).expect("recv hung"), None);
    let again = runtime(1);
    assert_eq!(again.block_on(alarm.recv()), None);
}

#[test]
fn outside_a_runtime_the_panic_says_how_to_get_into_one() {
    let panic =
        std::panic::catch_unwind(|| signal(SignalKind::user_defined1())).expect_err("must panic");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("outside a weft runtime"), "{msg}");
    assert!(msg.contains("block_on"), "{msg}");

    let panic = std::panic::catch_unwind(|| {
        let mut fut = pin!(weft::signal::ctrl_c());
        let waker = std::task::Waker::noop();
        let _ = fut
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
    })
    .expect_err("must panic at the first poll");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("weft::signal::ctrl_c"), "{msg}");
}
