//! loom models of the readiness/waker handoff in [`crate::source`], and of
//! the signal handoff in [`crate::signal::listeners`] (at the end).
//!
//! The "kernel" is modelled by a counter of queued packets: the event
//! thread queues one and then dispatches the event (D1..D3 of the protocol),
//! as the OS makes data readable before epoll reports it. The task thread
//! runs the operation loop of `async_io::poll_op`: poll readiness, "read"
//! (take every queued packet, or `WouldBlock` if none), clear readiness.
//! Each model checks that no packet is stranded: when the task ends
//! `Pending`, it was woken, and its next poll finds the packet.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p weft-reactor loom`.

use std::task::{Context, Poll, Wake, Waker};

use loom::thread;

use crate::readiness::Direction;
use crate::source::Source;
use crate::sync::{Arc, AtomicBool, AtomicUsize, SeqCst};

/// A waker that records that it was called.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

impl Flag {
    fn new() -> (Arc<Flag>, Waker) {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        (flag.clone(), Waker::from(flag))
    }

    fn woken(&self) -> bool {
        self.0.load(SeqCst)
    }
}

/// The driver side: `readable`/`writable` event on `source`, wakers called
/// with no lock held.
fn dispatch(source: &Source, readable: bool, writable: bool) {
    let mut wakers = Vec::new();
    source.set_ready(readable, writable, false, &mut wakers);
    wakers.into_iter().for_each(Waker::wake);
}

/// How the task decides a successful read drained the socket.
#[derive(Clone, Copy)]
enum Clear {
    /// Only on `WouldBlock` (the generic path).
    OnWouldBlock,
    /// Also right after a successful read (the `TCP_INQ` / short-write path).
    Drained,
}

/// The task's operation loop; returns the packets it read, or `None` if it
/// ended `Pending`.
fn read_until_pending(
    source: &Source,
    queued: &AtomicUsize,
    cx: &mut Context<'_>,
    clear: Clear,
    read: &mut usize,
) -> Poll<()> {
    loop {
        let event = match source.poll_ready(Direction::Read, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(event) => event.expect("no shutdown in this model"),
        };
        let got = queued.swap(0, SeqCst);
        if got == 0 {
            // WouldBlock.
            source.clear_readiness(event);
            continue;
        }
        *read += got;
        if let Clear::Drained = clear {
            source.clear_drained(event);
        }
        return Poll::Ready(());
    }
}

fn model_event_races_clear(clear: Clear) {
    loom::model(move || {
        let source = Arc::new(Source::new());
        let queued = Arc::new(AtomicUsize::new(1));
        // An earlier event announced the first packet.
        dispatch(&source, true, false);

        let event_thread = {
            let (source, queued) = (source.clone(), queued.clone());
            thread::spawn(move || {
                queued.fetch_add(1, SeqCst);
                dispatch(&source, true, false);
            })
        };

        let (flag, waker) = Flag::new();
        let mut cx = Context::from_waker(&waker);
        let mut read = 0;
        let mut pending = false;
        // The task reads until it has both packets or ends Pending.
        while read < 2 {
            if read_until_pending(&source, &queued, &mut cx, clear, &mut read).is_pending() {
                pending = true;
                break;
            }
        }
        event_thread.join().unwrap();

        if pending {
            assert!(
                flag.woken(),
                "ended Pending and was never woken: lost wakeup"
            );
            // Woken: the next polls must find what is left.
            while read < 2 {
                assert!(
                    read_until_pending(&source, &queued, &mut cx, clear, &mut read).is_ready(),
                    "woken, but the packet is stranded (readiness thrown away)"
                );
            }
        }
        assert_eq!(read, 2);
    });
}

#[test]
fn loom_event_races_clear_after_would_block() {
    model_event_races_clear(Clear::OnWouldBlock);
}

#[test]
fn loom_event_races_drained_clear() {
    model_event_races_clear(Clear::Drained);
}

#[test]
fn loom_readable_event_never_wakes_writer() {
    loom::model(|| {
        let source = Arc::new(Source::new());
        let (read_flag, read_waker) = Flag::new();
        let reader = {
            let source = source.clone();
            thread::spawn(move || {
                let mut cx = Context::from_waker(&read_waker);
                source.poll_ready(Direction::Read, &mut cx).is_ready()
            })
        };
        let event_thread = {
            let source = source.clone();
            thread::spawn(move || dispatch(&source, true, false))
        };

        // The writer waits through a waiter slot, as the futures do.
        let (write_flag, write_waker) = Flag::new();
        let mut writer = source.waiter(Direction::Write);
        let writer_ready = writer
            .poll_ready(&mut Context::from_waker(&write_waker))
            .is_ready();

        let reader_ready = reader.join().unwrap();
        event_thread.join().unwrap();
        assert!(
            !writer_ready && !write_flag.woken(),
            "a readable event reached the writer"
        );
        assert!(
            reader_ready || read_flag.woken(),
            "the reader missed its event"
        );
    });
}

#[test]
fn loom_shutdown_races_waiter_registration() {
    loom::model(|| {
        let source = Arc::new(Source::new());
        let shutdown = {
            let source = source.clone();
            thread::spawn(move || {
                let mut wakers = Vec::new();
                source.shutdown(&mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            })
        };
        let (flag, waker) = Flag::new();
        let mut cx = Context::from_waker(&waker);
        let mut waiter = source.waiter(Direction::Read);
        let first = waiter.poll_ready(&mut cx);
        shutdown.join().unwrap();
        match first {
            Poll::Ready(result) => assert!(result.is_err(), "only shutdown makes it ready"),
            Poll::Pending => {
                assert!(flag.woken(), "shutdown missed a waiter");
                assert!(matches!(waiter.poll_ready(&mut cx), Poll::Ready(Err(_))));
            }
        }
    });
}

/// The host-name lookup's answer channel (`net::addr`): a lookup thread
/// sends (or, if its job is dropped unrun, only drops the sender) while the
/// task polls. Whatever the interleaving, a task that got `Pending` was
/// woken, and its next poll has the answer (or the error).
fn model_lookup_answer(send: bool) {
    use crate::net::addr_test_support::{oneshot, poll_once};
    loom::model(move || {
        let (tx, mut rx) = oneshot::<u32>();
        let lookup = thread::spawn(move || {
            if send {
                tx.send(7);
            } else {
                drop(tx);
            }
        });
        let (flag, waker) = Flag::new();
        let first = poll_once(&mut rx, &waker);
        lookup.join().unwrap();
        let answer = match first {
            Poll::Ready(r) => r,
            Poll::Pending => {
                assert!(flag.woken(), "the waiting task was never woken");
                match poll_once(&mut rx, &waker) {
                    Poll::Ready(r) => r,
                    Poll::Pending => panic!("woken, but no answer"),
                }
            }
        };
        assert_eq!(answer.ok(), send.then_some(7));
    });
}

#[test]
fn loom_lookup_answer_reaches_waiting_task() {
    model_lookup_answer(true);
}

#[test]
fn loom_lookup_dropped_unrun_still_wakes_task() {
    model_lookup_answer(false);
}

// ---------------------------------------------------------------------------
// Signals: the handoff from the signal handler to a runtime's listeners
// (protocol: `crate::signal::listeners`). The handler's pipe is modelled by
// a byte count: the handler adds one after bumping the counter (H1, H2);
// the driver waits for a byte, takes them all (D1), then dispatches (D2, D3).

use crate::signal::globals::Deliveries;
use crate::signal::listeners::Listeners;

const SIGUSR1: usize = 1;

/// The driver's side: wait for the pipe's byte, drain it, wake listeners.
fn signal_driver(pipe: &AtomicUsize, deliveries: &Deliveries, listeners: &Listeners) {
    while pipe.swap(0, SeqCst) == 0 {
        thread::yield_now();
    }
    let mut wakers = Vec::new();
    listeners.dispatch(deliveries, &mut wakers);
    wakers.into_iter().for_each(Waker::wake);
}

/// A listener's `recv`: one poll, and if it was `Pending`, a second poll
/// once the other threads finished, which must then have woken it.
fn recv_after_join(
    listeners: &Listeners,
    id: usize,
    deliveries: &Deliveries,
    join: impl FnOnce(),
) -> Option<()> {
    let (flag, waker) = Flag::new();
    let mut cx = Context::from_waker(&waker);
    let first = listeners.poll_recv(id, deliveries, &mut cx);
    join();
    match first {
        Poll::Ready(got) => got,
        Poll::Pending => {
            assert!(flag.woken(), "a listener waiting in recv was never woken");
            match listeners.poll_recv(id, deliveries, &mut cx) {
                Poll::Ready(got) => got,
                Poll::Pending => panic!("woken, but recv found nothing"),
            }
        }
    }
}

#[test]
fn loom_signal_delivery_races_listener_poll() {
    loom::model(|| {
        let deliveries = Arc::new(Deliveries::new(2));
        let listeners = Arc::new(Listeners::default());
        let pipe = Arc::new(AtomicUsize::new(0));
        let id = listeners.add(SIGUSR1, deliveries.count(SIGUSR1)).unwrap();

        let handler = {
            let (deliveries, pipe) = (deliveries.clone(), pipe.clone());
            thread::spawn(move || {
                deliveries.record(SIGUSR1); // H1
                pipe.fetch_add(1, SeqCst); // H2
            })
        };
        let driver = {
            let (deliveries, listeners, pipe) =
                (deliveries.clone(), listeners.clone(), pipe.clone());
            thread::spawn(move || signal_driver(&pipe, &deliveries, &listeners))
        };
        let got = recv_after_join(&listeners, id, &deliveries, || {
            handler.join().unwrap();
            driver.join().unwrap();
        });
        assert_eq!(got, Some(()));
        // Reported once: the delivery is now `seen`.
        let (_flag, waker) = Flag::new();
        let again = listeners.poll_recv(id, &deliveries, &mut Context::from_waker(&waker));
        assert!(again.is_pending(), "one delivery reported twice");
    });
}

#[test]
fn loom_signal_shutdown_races_listener_poll() {
    loom::model(|| {
        let deliveries = Arc::new(Deliveries::new(2));
        let listeners = Arc::new(Listeners::default());
        let id = listeners.add(SIGUSR1, deliveries.count(SIGUSR1)).unwrap();
        let shutdown = {
            let listeners = listeners.clone();
            thread::spawn(move || {
                let mut wakers = Vec::new();
                listeners.shutdown(&mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            })
        };
        let got = recv_after_join(&listeners, id, &deliveries, || {
            shutdown.join().unwrap();
        });
        assert_eq!(got, None);
    });
}

/// The Dekker pair of `crate::signal::globals` ("Orderings"): a runtime
/// marks its pipe in use and then counts deliveries for a new listener
/// (F2 between); the handler records a delivery and then looks at the
/// pipe's flag (F1 between). The listener either counts the delivery as
/// seen or the handler writes the pipe; never neither.
#[test]
fn loom_signal_checkout_races_delivery() {
    use crate::sync::Relaxed;
    loom::model(|| {
        let deliveries = Arc::new(Deliveries::new(2));
        let in_use = Arc::new(AtomicBool::new(false));
        let handler = {
            let (deliveries, in_use) = (deliveries.clone(), in_use.clone());
            thread::spawn(move || {
                deliveries.record(SIGUSR1); // H1, F1
                in_use.load(Relaxed) // then the pipe is written
            })
        };
        in_use.store(true, Relaxed); // checkout_pipe
        let seen = deliveries.count_for_new_listener(SIGUSR1); // F2, count
        let poked = handler.join().unwrap();
        assert!(
            seen == 1 || poked,
            "the delivery was neither counted as seen nor announced on the pipe"
        );
    });
}
