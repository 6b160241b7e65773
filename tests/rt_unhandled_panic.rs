//! `UnhandledPanic::ShutdownRuntime`: any task's panic shuts the runtime
//! down at once. Each clause of the contract, on 1 and 2 workers.
//!
//! Join handles of the stopped runtime are awaited on a second, ordinary
//! runtime (`observer`), under a timeout, so no test can hang.

use std::future::pending;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;
use weft::task::{JoinError, JoinHandle};
use weft::{Runtime, UnhandledPanic};

const LIMIT: Duration = Duration::from_secs(10);

fn rt(workers: usize, policy: UnhandledPanic) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .unhandled_panic(policy)
        .build()
        .unwrap()
}

/// Awaits `h` on another runtime, for at most `LIMIT`.
fn join<T: Send + 'static>(observer: &Runtime, h: JoinHandle<T>) -> Result<T, JoinError> {
    observer
        .block_on(async { weft::time::timeout(LIMIT, h).await })
        .expect("the join handle did not resolve in time")
}

fn observer() -> Runtime {
    rt(1, UnhandledPanic::Ignore)
}

/// The message of a caught `block_on` panic.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn assert_shut_down_by_panic(payload: Box<dyn std::any::Any + Send>) {
    let msg = message(payload);
    assert!(
        msg.contains("panicked") && msg.contains("UnhandledPanic::ShutdownRuntime"),
        "unexpected block_on panic message: {msg}"
    );
}

/// Waits until the runtime was shut down by the panic: a `block_on` of a
/// future that never ends panics then (bounded by `LIMIT`).
fn wait_for_shutdown(rt: &Runtime) {
    let res = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { weft::time::timeout(LIMIT, pending::<()>()).await })
    }));
    match res {
        Err(payload) => assert_shut_down_by_panic(payload),
        Ok(_) => panic!("the runtime was not shut down by the task's panic in time"),
    }
}

macro_rules! on_1_and_2_workers {
    ($($name:ident),* $(,)?) => {
        mod one_worker {
            $(#[test] fn $name() { super::$name(1) })*
        }
        mod two_workers {
            $(#[test] fn $name() { super::$name(2) })*
        }
    };
}

on_1_and_2_workers!(
    panicking_task_handle_yields_the_panic,
    other_tasks_end_as_cancelled,
    later_spawns_resolve_as_cancelled,
    block_on_in_progress_panics,
    block_on_awaiting_the_panicking_task_panics,
    later_block_on_panics,
    unjoined_panic_shuts_down,
    spawn_blocking_panic_does_not_count,
    ignore_keeps_the_runtime_running,
);

fn panicking_task_handle_yields_the_panic(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let obs = observer();
    let h = rt.spawn(async { panic!("task exploded") });
    let err = join(&obs, h).unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert_eq!(
        *err.into_panic().downcast_ref::<&str>().unwrap(),
        "task exploded"
    );
}

fn other_tasks_end_as_cancelled(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let obs = observer();
    let (started_tx, started_rx) = mpsc::channel();
    // Idle tasks, parked on futures that never end.
    let idle: Vec<_> = (0..10).map(|_| rt.spawn(pending::<()>())).collect();
    // A task that keeps running (re-polled at every yield), so with two
    // workers it is being polled on the other worker when the panic hits.
    let busy = rt.spawn(async move {
        let _ = started_tx.send(());
        loop {
            weft::task::yield_now().await;
        }
    });
    started_rx.recv_timeout(LIMIT).expect("busy task never ran");
    let bomb = rt.spawn(async { panic!("bomb") });
    assert!(join(&obs, bomb).unwrap_err().is_panic());
    for h in idle {
        assert!(join(&obs, h).unwrap_err().is_cancelled());
    }
    assert!(join(&obs, busy).unwrap_err().is_cancelled());
    assert_eq!(rt.metrics().num_alive_tasks(), 0);
}

fn later_spawns_resolve_as_cancelled(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let obs = observer();
    let bomb = rt.spawn(async { panic!("bomb") });
    assert!(join(&obs, bomb).unwrap_err().is_panic());
    let (ran_tx, ran_rx) = mpsc::channel::<()>();
    let later = rt.spawn(async move {
        let _ = ran_tx.send(());
        1
    });
    assert!(join(&obs, later).unwrap_err().is_cancelled());
    // Through a `Handle` of the same runtime too, from another thread.
    let handle = rt.handle().clone();
    let from_handle = std::thread::spawn(move || handle.spawn(async { 2 }))
        .join()
        .unwrap();
    assert!(join(&obs, from_handle).unwrap_err().is_cancelled());
    assert!(
        ran_rx.try_recv().is_err(),
        "a task spawned after the shutdown ran"
    );
}

fn block_on_in_progress_panics(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let res = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            // Not joined: the block_on waits on something else entirely.
            drop(weft::spawn(async { panic!("bomb") }));
            weft::time::timeout(LIMIT, pending::<()>()).await
        })
    }));
    match res {
        Err(payload) => assert_shut_down_by_panic(payload),
        Ok(_) => panic!("block_on returned instead of panicking"),
    }
}

fn block_on_awaiting_the_panicking_task_panics(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let res = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            weft::time::timeout(LIMIT, weft::spawn(async { panic!("bomb") })).await
        })
    }));
    match res {
        Err(payload) => assert_shut_down_by_panic(payload),
        Ok(out) => panic!("block_on returned {out:?} instead of panicking"),
    }
}

fn later_block_on_panics(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let obs = observer();
    assert!(join(&obs, rt.spawn(async { panic!("bomb") }))
        .unwrap_err()
        .is_panic());
    for _ in 0..2 {
        let res = catch_unwind(AssertUnwindSafe(|| rt.block_on(async { 1 })));
        assert_shut_down_by_panic(res.expect_err("a block_on after the shutdown returned"));
    }
    // And through a handle, on another thread.
    let handle = rt.handle().clone();
    let res =
        std::thread::spawn(move || catch_unwind(AssertUnwindSafe(|| handle.block_on(async {}))))
            .join()
            .unwrap();
    assert_shut_down_by_panic(res.expect_err("a Handle::block_on after the shutdown returned"));
}

fn unjoined_panic_shuts_down(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let survivor = rt.spawn(pending::<()>());
    drop(rt.spawn(async { panic!("nobody awaits me") }));
    wait_for_shutdown(&rt);
    assert!(join(&observer(), survivor).unwrap_err().is_cancelled());
}

fn spawn_blocking_panic_does_not_count(workers: usize) {
    let rt = rt(workers, UnhandledPanic::ShutdownRuntime);
    let err = rt
        .block_on(rt.spawn_blocking(|| panic!("blocking bomb")))
        .unwrap_err();
    assert!(err.is_panic());
    // The runtime runs on.
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
}

fn ignore_keeps_the_runtime_running(workers: usize) {
    let rt = rt(workers, UnhandledPanic::Ignore);
    let other = rt.spawn(pending::<()>());
    let err = rt.block_on(rt.spawn(async { panic!("bomb") })).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    assert!(!other.is_finished());
}

#[test]
fn default_policy_is_ignore() {
    assert_eq!(UnhandledPanic::default(), UnhandledPanic::Ignore);
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let err = rt.block_on(rt.spawn(async { panic!("bomb") })).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(rt.block_on(async { 3 }), 3);
}
