//! Unit tests of the task cell: every way a cell can be freed, driven by a
//! tiny single-threaded scheduler so that each test picks the exact order
//! of polls, wakes, aborts, drops and shutdown.
//!
//! These exist for Miri (`scripts/miri.sh`): each path that ends in
//! `RawTask::dealloc` runs here at least once, so a reference into a freed
//! cell, a lost reference (Miri's leak check) or a double free fails a test.
//! The counters assert that every future and every output is dropped
//! exactly once.

use super::list::OwnedTasks;
use super::{new_task, panics, AbortHandle, Id, JoinError, JoinHandle, JoinSet, Notified, RawTask};
use super::{yield_now, Schedule};
use crate::sync::{Arc, AtomicUsize, Mutex};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Wake, Waker};

/// A scheduler for tests: an owned-task list and a FIFO run queue that the
/// test drains by hand.
#[derive(Clone)]
struct TestSchedule(Arc<Inner>);

struct Inner {
    owned: OwnedTasks<TestSchedule>,
    queue: Mutex<VecDeque<Notified<TestSchedule>>>,
    /// How many `Notified`s were handed to `schedule` (wakes and aborts).
    scheduled: AtomicUsize,
}

impl Schedule for TestSchedule {
    fn release(&self, task: RawTask) -> bool {
        self.0.owned.remove(task)
    }

    fn schedule(&self, task: Notified<Self>) {
        self.0.scheduled.fetch_add(1, SeqCst);
        self.0.queue.lock().push_back(task);
    }
}

/// The test's side of the scheduler: spawns, runs the queue by hand, and
/// shuts down when dropped so that no test leaks a cell (the queue holds
/// `Notified`s, whose cells hold the scheduler: a cycle only shutdown breaks).
struct Rt(TestSchedule);

impl Rt {
    fn new() -> Rt {
        Rt(TestSchedule(Arc::new(Inner {
            owned: OwnedTasks::new(2),
            queue: Mutex::new(VecDeque::new()),
            scheduled: AtomicUsize::new(0),
        })))
    }

    fn inner(&self) -> &Inner {
        &(self.0).0
    }

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = new_task(future, self.0.clone(), Id::next());
        if let Some(notified) = self.inner().owned.bind(task, notified) {
            self.inner().queue.lock().push_back(notified);
        }
        join
    }

    /// Runs the task at the front of the queue; false if it was empty.
    fn tick(&self) -> bool {
        // The lock is released before the poll: the task may wake itself.
        let next = self.inner().queue.lock().pop_front();
        match next {
            Some(notified) => {
                notified.run();
                true
            }
            None => false,
        }
    }

    /// Runs queued tasks until the queue is empty; returns how many polls.
    fn run(&self) -> usize {
        let mut polls = 0;
        while self.tick() {
            polls += 1;
            assert!(polls < 1_000, "a test task keeps waking itself");
        }
        polls
    }

    fn queued(&self) -> usize {
        self.inner().queue.lock().len()
    }

    fn scheduled(&self) -> usize {
        self.inner().scheduled.load(SeqCst)
    }

    /// Tasks bound to the owned list and not yet completed.
    fn live(&self) -> usize {
        self.inner().owned.len()
    }

    /// Task cells not yet freed: each holds a clone of the scheduler.
    fn cells(&self) -> usize {
        Arc::strong_count(&self.0 .0) - 1
    }

    /// Runtime shutdown: cancel every task, then drop the queued `Notified`s
    /// (stale by then), as the real scheduler does.
    fn shutdown(&self) {
        self.inner().owned.close_and_shutdown_all();
        loop {
            let next = self.inner().queue.lock().pop_front();
            match next {
                Some(notified) => drop(notified),
                None => break,
            }
        }
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Counts drops of the values it is attached to.
#[derive(Clone, Default)]
struct Drops(Arc<AtomicUsize>);

impl Drops {
    fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn count_waker() -> (std::sync::Arc<CountWaker>, Waker) {
    let counter = std::sync::Arc::new(CountWaker::default());
    let waker = Waker::from(counter.clone());
    (counter, waker)
}

fn poll_join<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    Pin::new(handle).poll(&mut Context::from_waker(waker))
}

/// Pending until woken `n` times; keeps the last waker it saw in `slot`.
fn pending_until_woken(
    n: usize,
    slot: Arc<Mutex<Option<Waker>>>,
) -> impl Future<Output = usize> + Send {
    let mut polls = 0;
    poll_fn(move |cx| {
        polls += 1;
        if polls > n {
            return Poll::Ready(polls);
        }
        *slot.lock() = Some(cx.waker().clone());
        Poll::Pending
    })
}

fn waker_slot() -> Arc<Mutex<Option<Waker>>> {
    Arc::new(Mutex::new(None))
}

// ----- completion ----------------------------------------------------------

/// Finding 1 of issue 13: a detached task that completes is freed by
/// `complete` itself (the list's and the running reference are the last).
#[test]
fn completed_detached_task_is_freed_by_its_poll() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let handle = sched.spawn(async move { token });
    drop(handle);
    assert_eq!(sched.run(), 1);
    assert_eq!(drops.count(), 1, "the output was dropped with the cell");
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn output_taken_by_the_join_handle() {
    let sched = Rt::new();
    let mut handle = sched.spawn(async { String::from("forty-two") });
    let (counter, waker) = count_waker();
    assert_eq!(sched.run(), 1);
    assert!(handle.is_finished());
    match poll_join(&mut handle, &waker) {
        Poll::Ready(Ok(s)) => assert_eq!(s, "forty-two"),
        other => panic!("expected the output, got {other:?}"),
    }
    assert_eq!(counter.0.load(SeqCst), 0);
    // The handle holds the last reference: dropping it frees the cell.
    drop(handle);
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn completed_then_join_handle_dropped_drops_the_output() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let handle = sched.spawn(async move { token });
    sched.run();
    assert_eq!(drops.count(), 0, "the output waits for the handle");
    drop(handle);
    assert_eq!(drops.count(), 1);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn join_waker_is_woken_at_completion_and_can_be_replaced() {
    let sched = Rt::new();
    let slot = waker_slot();
    let mut handle = sched.spawn(pending_until_woken(1, slot.clone()));
    sched.run();
    let (first, first_waker) = count_waker();
    let (second, second_waker) = count_waker();
    assert!(poll_join(&mut handle, &first_waker).is_pending());
    // The same waker again: kept. A different one: replaces it.
    assert!(poll_join(&mut handle, &first_waker).is_pending());
    assert!(poll_join(&mut handle, &second_waker).is_pending());
    slot.lock().take().unwrap().wake();
    sched.run();
    assert_eq!(first.0.load(SeqCst), 0);
    assert_eq!(second.0.load(SeqCst), 1);
    match poll_join(&mut handle, &second_waker) {
        Poll::Ready(Ok(polls)) => assert_eq!(polls, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn join_handle_with_a_waker_dropped_before_completion() {
    let sched = Rt::new();
    let drops = Drops::default();
    let slot = waker_slot();
    let token = drops.token();
    let fut = pending_until_woken(1, slot.clone());
    let mut handle = sched.spawn(async move {
        let _token = token;
        fut.await
    });
    sched.run();
    let (counter, waker) = count_waker();
    assert!(poll_join(&mut handle, &waker).is_pending());
    // The handle takes its stored waker back out of the cell.
    drop(handle);
    assert_eq!(std::sync::Arc::strong_count(&counter), 2, "waker dropped");
    slot.lock().take().unwrap().wake();
    sched.run();
    assert_eq!(drops.count(), 1);
    assert_eq!(counter.0.load(SeqCst), 0);
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn join_handle_dropped_before_completion_then_task_completes() {
    let sched = Rt::new();
    let slot = waker_slot();
    let handle = sched.spawn(pending_until_woken(1, slot.clone()));
    sched.run();
    drop(handle);
    // The waker in the slot is now a reference too; waking by value hands
    // it to the new `Notified`, and the completing poll frees the cell.
    slot.lock().take().unwrap().wake();
    assert_eq!(sched.run(), 1);
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn woken_during_its_own_poll_goes_back_to_the_queue() {
    let sched = Rt::new();
    let mut handle = sched.spawn(async {
        for _ in 0..3 {
            yield_now().await;
        }
        7
    });
    assert_eq!(sched.run(), 4);
    let (_counter, waker) = count_waker();
    assert!(matches!(poll_join(&mut handle, &waker), Poll::Ready(Ok(7))));
}

// ----- panics ---------------------------------------------------------------

#[test]
fn panic_becomes_the_output() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let mut handle = sched.spawn(async move {
        let _token = token;
        panic!("boom");
    });
    let id = handle.id();
    sched.run();
    assert_eq!(drops.count(), 1, "the future was dropped by the unwind");
    assert!(panics::is_held(id), "the payload waits for the handle");
    let (_counter, waker) = count_waker();
    match poll_join(&mut handle, &waker) {
        Poll::Ready(Err(e)) => {
            assert!(e.is_panic());
            assert_eq!(e.id(), id);
            assert!(!panics::is_held(id), "the error took the payload");
            let payload = e.into_panic();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn detached_panicking_task_is_freed() {
    let sched = Rt::new();
    let handle = sched.spawn(async { panic!("detached boom") });
    let id = handle.id();
    drop(handle);
    sched.run();
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
    assert!(
        !panics::is_held(id),
        "the payload was dropped at completion"
    );
}

#[test]
fn panic_payload_dropped_with_an_unread_join_handle() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let handle = sched.spawn(async move {
        // The payload itself owns the token: dropping it is counted.
        std::panic::panic_any(token);
    });
    let id = handle.id();
    sched.run();
    assert!(panics::is_held(id));
    assert_eq!(drops.count(), 0, "the payload waits for the handle");
    drop(handle);
    assert_eq!(drops.count(), 1);
    assert!(!panics::is_held(id));
    assert_eq!(sched.cells(), 0);
}

/// A future that panics in `poll` and then again in its destructor.
struct PanicsTwice(#[allow(dead_code)] PanicOnDrop);

impl Future for PanicsTwice {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        panic!("poll boom");
    }
}

#[test]
fn panic_in_poll_then_in_the_destructor_keeps_the_second() {
    // Both payloads are caught; the destructor's replaces the poll's (as
    // any destructor panic replaces the output), and the first is dropped.
    let sched = Rt::new();
    let mut handle = sched.spawn(PanicsTwice(PanicOnDrop));
    let id = handle.id();
    sched.run();
    let (_counter, waker) = count_waker();
    match poll_join(&mut handle, &waker) {
        Poll::Ready(Err(e)) => {
            let payload = e.into_panic();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"drop boom"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!panics::is_held(id));
    drop(handle);
    assert_eq!(sched.cells(), 0);
}

/// A future whose destructor panics: the panic replaces the output.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("drop boom");
    }
}

#[test]
fn panic_in_the_futures_destructor_becomes_the_output() {
    let sched = Rt::new();
    let mut handle = sched.spawn(async {
        let _bomb = PanicOnDrop;
        std::future::pending::<()>().await;
    });
    sched.run();
    handle.abort();
    sched.run();
    let (_counter, waker) = count_waker();
    match poll_join(&mut handle, &waker) {
        Poll::Ready(Err(e)) => assert!(e.is_panic()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn future_whose_destructor_panics_is_dropped_once_and_the_cell_freed() {
    // The rest of the future (the token) is still dropped on the way out of
    // the panicking destructor, exactly once, and the stage is left empty.
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let mut handle = sched.spawn(async move {
        let _token = token;
        let _bomb = PanicOnDrop;
        std::future::pending::<()>().await;
    });
    sched.run();
    handle.abort();
    sched.run();
    assert_eq!(drops.count(), 1);
    let (_counter, waker) = count_waker();
    assert!(matches!(poll_join(&mut handle, &waker), Poll::Ready(Err(e)) if e.is_panic()));
    drop(handle);
    assert_eq!(drops.count(), 1);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn output_whose_destructor_panics_is_dropped_once_by_the_join_handle() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let handle = sched.spawn(async move { (PanicOnDrop, token) });
    sched.run();
    assert_eq!(drops.count(), 0, "the output waits for the handle");
    // The panic is caught inside; the handle's drop returns normally.
    drop(handle);
    assert_eq!(drops.count(), 1);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn unjoined_errors_are_dropped_with_the_cell() {
    // A detached task's panic and an aborted task's cancellation, each
    // dropped at completion (no join interest) or with the handle.
    let sched = Rt::new();
    let panicking = sched.spawn(async { panic!("nobody joins this") });
    let panicked = panicking.id();
    drop(panicking);
    let handle = sched.spawn(std::future::pending::<()>());
    sched.run();
    handle.abort();
    sched.run();
    assert_eq!(sched.cells(), 1, "the handle keeps the cancelled cell");
    drop(handle);
    assert_eq!(sched.cells(), 0);
    assert!(!panics::is_held(panicked));
}

// ----- abort -----------------------------------------------------------------

#[test]
fn aborted_before_first_poll() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let mut handle = sched.spawn(async move {
        let _token = token;
        unreachable!("an aborted task is never polled");
    });
    handle.abort();
    assert_eq!(sched.scheduled(), 0, "already queued: no second push");
    assert_eq!(sched.run(), 1);
    assert_eq!(drops.count(), 1);
    let (_counter, waker) = count_waker();
    match poll_join(&mut handle, &waker) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn aborted_while_idle_through_an_abort_handle_of_a_detached_task() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let handle = sched.spawn(async move {
        let _token = token;
        std::future::pending::<()>().await;
    });
    let abort: AbortHandle = handle.abort_handle();
    drop(handle);
    sched.run();
    assert!(!abort.is_finished());
    abort.abort();
    assert_eq!(sched.scheduled(), 1, "abort of an idle task queues it");
    abort.abort();
    assert_eq!(sched.scheduled(), 1, "a second abort does nothing");
    sched.run();
    assert_eq!(drops.count(), 1);
    assert!(abort.is_finished());
    // The abort handle is the last reference.
    let clone = abort.clone();
    drop(abort);
    drop(clone);
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn aborted_while_running() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let abort_slot: Arc<Mutex<Option<AbortHandle>>> = Arc::new(Mutex::new(None));
    let in_task = abort_slot.clone();
    let mut handle = sched.spawn(async move {
        let _token = token;
        // Abort ourselves mid-poll: the poll ends Pending, and
        // `transition_to_idle` sees CANCELLED.
        let abort = in_task.lock().take().expect("abort handle stored");
        abort.abort();
        std::future::pending::<()>().await;
    });
    *abort_slot.lock() = Some(handle.abort_handle());
    assert_eq!(sched.run(), 1, "cancelled in the same poll");
    assert_eq!(drops.count(), 1);
    let (_counter, waker) = count_waker();
    match poll_join(&mut handle, &waker) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn aborted_after_completion_keeps_the_output() {
    let sched = Rt::new();
    let mut handle = sched.spawn(async { 5 });
    sched.run();
    handle.abort();
    assert_eq!(sched.queued(), 0);
    let (_counter, waker) = count_waker();
    assert!(matches!(poll_join(&mut handle, &waker), Poll::Ready(Ok(5))));
}

// ----- wakers ------------------------------------------------------------------

#[test]
fn waker_clones_outlive_the_task() {
    let sched = Rt::new();
    let wakers: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
    let in_task = wakers.clone();
    let handle = sched.spawn(poll_fn(move |cx| {
        let mut wakers = in_task.lock();
        wakers.push(cx.waker().clone());
        wakers.push(cx.waker().clone());
        wakers.push(cx.waker().clone());
        Poll::Ready(())
    }));
    drop(handle);
    sched.run();
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 1, "the wakers keep the cell");
    let mut wakers = std::mem::take(&mut *wakers.lock());
    // A wake of a completed task queues nothing; the last drop frees.
    wakers[0].wake_by_ref();
    wakers.pop().unwrap().wake();
    assert_eq!(sched.queued(), 0);
    let last = wakers.pop().unwrap();
    drop(wakers);
    assert_eq!(sched.cells(), 1);
    // Waking by value with the last reference frees the cell.
    last.wake();
    assert_eq!(sched.queued(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn waker_dropped_last_frees_the_cell() {
    let sched = Rt::new();
    let slot = waker_slot();
    let in_task = slot.clone();
    let handle = sched.spawn(poll_fn(move |cx| {
        *in_task.lock() = Some(cx.waker().clone());
        Poll::Ready(())
    }));
    sched.run();
    drop(handle);
    assert_eq!(sched.cells(), 1);
    let waker = slot.lock().take().unwrap();
    drop(waker);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn wake_by_ref_then_by_value_while_queued_pushes_once() {
    let sched = Rt::new();
    let slot = waker_slot();
    let mut handle = sched.spawn(pending_until_woken(1, slot.clone()));
    sched.run();
    let waker = slot.lock().take().unwrap();
    waker.wake_by_ref();
    let clone = waker.clone();
    clone.wake();
    waker.wake();
    assert_eq!(sched.scheduled(), 1);
    sched.run();
    let (_counter, w) = count_waker();
    assert!(matches!(poll_join(&mut handle, &w), Poll::Ready(Ok(2))));
}

#[test]
fn waker_woken_from_another_thread() {
    let sched = Rt::new();
    let slot = waker_slot();
    let mut handle = sched.spawn(pending_until_woken(1, slot.clone()));
    sched.run();
    let waker = slot.lock().take().unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    sched.run();
    let (_counter, w) = count_waker();
    assert!(matches!(poll_join(&mut handle, &w), Poll::Ready(Ok(2))));
}

// ----- shutdown ------------------------------------------------------------------

#[test]
fn cancelled_at_shutdown() {
    let sched = Rt::new();
    let drops = Drops::default();
    // Idle, detached: shutdown's `complete` frees it.
    let token = drops.token();
    let detached = sched.spawn(async move {
        let _token = token;
        std::future::pending::<()>().await;
    });
    drop(detached);
    // Idle, with a handle that reads the cancellation afterwards.
    let token = drops.token();
    let mut joined = sched.spawn(async move {
        let _token = token;
        std::future::pending::<()>().await;
    });
    sched.run();
    // Never polled: its `Notified` is still queued when shutdown runs.
    let token = drops.token();
    let queued = sched.spawn(async move {
        let _token = token;
    });
    drop(queued);
    assert_eq!(sched.live(), 3);
    sched.shutdown();
    assert_eq!(drops.count(), 3);
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 1, "the join handle keeps its cell");
    let (_counter, waker) = count_waker();
    match poll_join(&mut joined, &waker) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        other => panic!("{other:?}"),
    }
    drop(joined);
    assert_eq!(sched.cells(), 0);
}

/// A `Notified` queued before shutdown cancelled its task, and run after
/// every other reference is gone: `transition_to_running` finds it stale
/// and it frees the cell.
#[test]
fn stale_notified_that_runs_last_frees_the_cell() {
    let sched = Rt::new();
    let slot = waker_slot();
    let handle = sched.spawn(pending_until_woken(1, slot.clone()));
    sched.run();
    slot.lock().take().unwrap().wake_by_ref();
    assert_eq!(sched.queued(), 1);
    sched.inner().owned.close_and_shutdown_all();
    drop(handle);
    assert_eq!(sched.cells(), 1, "the queued Notified keeps the cell");
    assert_eq!(sched.run(), 1);
    assert_eq!(sched.cells(), 0);
}

/// The join handle is dropped on another thread while this one completes
/// the task: whichever side is last drops the output and frees the cell
/// (Miri picks the interleaving).
#[test]
fn join_handle_dropped_on_another_thread_while_completing() {
    let sched = Rt::new();
    let drops = Drops::default();
    let token = drops.token();
    let handle = sched.spawn(async move { token });
    let dropper = std::thread::spawn(move || drop(handle));
    sched.run();
    dropper.join().unwrap();
    assert_eq!(drops.count(), 1);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn spawn_after_shutdown_is_cancelled_at_once() {
    let sched = Rt::new();
    sched.shutdown();
    let drops = Drops::default();
    let token = drops.token();
    let mut handle = sched.spawn(async move {
        let _token = token;
    });
    assert_eq!(drops.count(), 1);
    assert_eq!(sched.queued(), 0);
    let (_counter, waker) = count_waker();
    assert!(matches!(poll_join(&mut handle, &waker), Poll::Ready(Err(e)) if e.is_cancelled()));
    let detached = sched.spawn(async {});
    drop(detached);
    drop(handle);
    assert_eq!(sched.cells(), 0);
}

// ----- JoinSet ---------------------------------------------------------------------

#[test]
fn join_set_joins_in_completion_order_and_frees_every_cell() {
    let sched = Rt::new();
    let mut set = JoinSet::new();
    let slot = waker_slot();
    set.insert(sched.spawn(pending_until_woken(1, slot.clone())));
    set.insert(sched.spawn(async { 1 }));
    sched.run();
    assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
    assert!(set.try_join_next().is_none());
    slot.lock().take().unwrap().wake();
    sched.run();
    assert_eq!(set.try_join_next().unwrap().unwrap(), 2);
    assert!(set.is_empty());
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn join_set_drop_aborts_its_tasks() {
    let sched = Rt::new();
    let drops = Drops::default();
    let mut set = JoinSet::new();
    for _ in 0..3 {
        let token = drops.token();
        set.insert(sched.spawn(async move {
            let _token = token;
            std::future::pending::<()>().await;
        }));
    }
    // One never polled, two idle.
    sched.run();
    let token = drops.token();
    set.insert(sched.spawn(async move {
        let _token = token;
        std::future::pending::<()>().await;
    }));
    drop(set);
    sched.run();
    assert_eq!(drops.count(), 4);
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}

#[test]
fn join_set_detach_all_leaves_tasks_running() {
    let sched = Rt::new();
    let mut set = JoinSet::new();
    set.insert(sched.spawn(async { 1 }));
    set.detach_all();
    drop(set);
    assert_eq!(sched.run(), 1);
    assert_eq!(sched.live(), 0);
    assert_eq!(sched.cells(), 0);
}
