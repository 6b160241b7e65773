//! `#[weft::test]` in every shape: plain, returning `Result`, panicking
//! under `#[should_panic]`, on one worker (the default) and on two.
//! `tests/macros_main.rs` covers `#[weft::main]`; the compile errors are
//! unit-tested in `macros/src/tests.rs`.

#![cfg(feature = "macros")]

use std::time::Duration;

use weft::Handle;

#[weft::test]
async fn runs_on_one_worker_by_default() {
    assert_eq!(Handle::current().metrics().num_workers(), 1);
    // Timers and tasks work as in any runtime.
    let task = weft::spawn(async {
        weft::time::sleep(Duration::from_millis(1)).await;
        7
    });
    assert_eq!(task.await.unwrap(), 7);
}

#[weft::test(worker_threads = 2)]
async fn worker_threads_sets_the_count() {
    assert_eq!(Handle::current().metrics().num_workers(), 2);
}

#[weft::test]
async fn may_return_a_result() -> Result<(), Box<dyn std::error::Error>> {
    let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (client, server) =
        futures_util::future::join(weft::net::TcpStream::connect(addr), listener.accept()).await;
    assert_eq!(client?.local_addr()?, server?.1);
    Ok(())
}

#[weft::test]
#[should_panic(expected = "the body's own panic")]
async fn a_panic_fails_the_test() {
    weft::task::yield_now().await;
    panic!("the body's own panic");
}

/// `return` and `?` inside the body are the body's, as in any `async fn`.
#[weft::test]
async fn early_return_and_question_mark() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "12".parse()?;
    if n == 12 {
        return Ok(());
    }
    unreachable!("returned above");
}

#[weft::test]
#[ignore = "proves `#[ignore]` still applies: run with --ignored, it passes"]
async fn ignore_still_applies() {
    assert_eq!(Handle::current().metrics().num_workers(), 1);
}

/// Names the generated code uses do not clash with the user's function.
#[weft::test]
async fn runtime() {
    assert_eq!(Handle::current().metrics().num_workers(), 1);
}
