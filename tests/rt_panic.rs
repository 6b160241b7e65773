//! Panics are contained: a task's panic becomes a JoinError, and misuse
//! panics with a message that says what to do.

use weft::Runtime;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

#[test]
fn panic_in_task_becomes_join_error_with_payload() {
    let rt = rt(1);
    let err = rt
        .block_on(rt.spawn(async { panic!("task exploded") }))
        .unwrap_err();
    assert!(err.is_panic());
    assert!(format!("{err}").contains("task exploded"));
    let payload = err.into_panic();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "task exploded");
}

#[test]
fn worker_survives_many_panics() {
    let rt = rt(1);
    for i in 0..100 {
        let r = rt.block_on(rt.spawn(async move {
            if i % 2 == 0 {
                panic!("even {i}");
            }
            i
        }));
        match r {
            Ok(v) => assert_eq!(v % 2, 1),
            Err(e) => assert!(e.is_panic()),
        }
    }
    assert_eq!(rt.block_on(rt.spawn(async { "alive" })).unwrap(), "alive");
}

#[test]
fn panic_in_drop_of_cancelled_future_is_reported() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop bomb");
        }
    }
    let rt = rt(1);
    let err = rt
        .block_on(async {
            let (armed, is_armed) = futures_channel::oneshot::channel();
            let h = weft::spawn(async {
                let _b = Bomb;
                armed.send(()).unwrap();
                std::future::pending::<()>().await
            });
            // Abort only once the bomb exists (it is built in the first poll).
            is_armed.await.unwrap();
            h.abort();
            h.await
        })
        .unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn panic_in_spawn_blocking_is_a_join_error() {
    let rt = rt(1);
    let err = rt
        .block_on(rt.spawn_blocking(|| panic!("blocking")))
        .unwrap_err();
    assert!(err.is_panic());
}

#[test]
fn block_on_inside_task_panics_with_explanation() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let err = rt
        .block_on(rt.spawn(async move { handle.block_on(async {}) }))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("worker thread") && msg.contains(".await"),
        "{msg}"
    );
}

#[test]
#[should_panic(expected = "within a runtime")]
fn nested_block_on_panics() {
    let rt = rt(1);
    let h = rt.handle().clone();
    rt.block_on(async move { h.block_on(async {}) });
}

#[test]
fn dropping_runtime_inside_task_panics_instead_of_deadlocking() {
    let outer = rt(1);
    let inner = rt(1);
    let err = outer
        .block_on(outer.spawn(async move { drop(inner) }))
        .unwrap_err();
    assert!(
        err.to_string().contains("inside an asynchronous task"),
        "{err}"
    );
}

#[test]
fn panicking_hook_does_not_kill_the_worker() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .on_thread_start(|| panic!("hook"))
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2);
}
