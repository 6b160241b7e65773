//! `#[weft::main]` and `#[weft::test]`. Use them through the `weft` crate
//! (cargo feature `macros`, on by default); the generated code names
//! `::weft::...` paths only.
//!
//! Layout: `args.rs` parses `worker_threads = N` / `crate = "path"`,
//! `expand.rs` checks the function and writes the expansion (its module
//! docs show the shape).

mod args;
mod expand;
#[cfg(test)]
mod tests;

use args::Kind;
use proc_macro::TokenStream;

/// Runs `async fn main` on a weft runtime.
///
/// The runtime is `Runtime::new()`'s default: one worker per core, or
/// `WEFT_WORKER_THREADS` when set. `#[weft::main(worker_threads = N)]`
/// gives `N` workers, whatever the variable says. The body is
/// `block_on`-ed on the main thread; what it returns is what `main`
/// returns, so a `main` returning `Err(e)` prints `Error: {e:?}` to stderr
/// and exits with status 1, as a plain `fn main` does.
///
/// `crate = "path"` names the weft crate for a project that renamed it.
///
/// # Panics
///
/// If the runtime cannot start (the OS refuses a worker thread).
///
/// # Examples
///
/// ```
/// #[weft::main(worker_threads = 2)]
/// async fn main() -> std::io::Result<()> {
///     let answer = weft::spawn(async { 6 * 7 }).await.unwrap();
///     assert_eq!(answer, 42);
///     assert_eq!(weft::Handle::current().metrics().num_workers(), 2);
///     Ok(())
/// }
/// ```
///
/// Mistakes are compile errors that point at them: a missing `async`, an
/// argument other than `worker_threads` / `crate`, a count that is not a
/// positive integer, parameters on `main`.
///
/// ```compile_fail
/// #[weft::main(worker_threads = 0)]
/// async fn main() {}
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh weft runtime of one worker.
///
/// Expands to a `#[test]` that builds a runtime (one worker, or
/// `worker_threads = N`), `block_on`s the body and drops the runtime. The
/// body may return `()` or a `Result`, as any test may; a panic or an `Err`
/// fails the test. Other attributes (`#[should_panic]`, `#[ignore]`) work
/// as on a plain test; do not add `#[test]` yourself.
///
/// # Panics
///
/// If the runtime cannot start (the OS refuses a worker thread).
///
/// # Examples
///
/// ```no_run
/// #[weft::test]
/// async fn sleeps() {
///     weft::time::sleep(std::time::Duration::from_millis(1)).await;
/// }
///
/// #[weft::test(worker_threads = 2)]
/// async fn two_workers() -> std::io::Result<()> {
///     assert_eq!(weft::Handle::current().metrics().num_workers(), 2);
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").await?;
///     let _addr = listener.local_addr()?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Test, args.into(), item.into()).into()
}
