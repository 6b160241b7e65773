//! Bytes per idle spawned task, for weft, tokio and async-executor.
//!
//! **This benchmark is a regression test**: weft's bytes per task should
//! only go down (the target is at most 96, fewer than async-executor's; it
//! measured 80: a 72-byte task cell in glibc's 80-byte chunk, see
//! docs/benchmarks.md). CI only builds this file.
//!
//! ```text
//! cargo bench --bench memory
//! ```
//!
//! Each runtime is measured in a child process of its own (this binary
//! re-run with `WEFT_MEM_CHILD=<runtime>`), because memory freed by one
//! runtime stays in the allocator and would be reused by the next. The child
//! builds the runtime (`WEFT_BENCH_WORKERS`, default 2), warms it up, reads
//! its resident set size from `/proc/self/statm`, then, from inside one
//! task, spawns 1,000,000 (`WEFT_MEM_TASKS`) tasks parked on
//! `std::future::pending::<()>()`, in batches of 1,000 with a yield after
//! each so the run queues stay short (their buffers would otherwise count as
//! task memory). Join handles are dropped (detached) at once, so their own
//! size is excluded. After a 300 ms pause, so every task has been polled
//! once and parked, it reads the RSS again. Two figures per task:
//!
//! - RSS delta / tasks: what the OS sees, allocator overhead included;
//! - live heap bytes / tasks: counted by a wrapping global allocator,
//!   the task allocations themselves (with the allocator's rounding not
//!   included).

mod common;

use common::{env_or, write_result, AsyncExecutor, Rt, Tokio, Weft};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::Duration;

/// The system allocator, counting live bytes.
struct Counting;

/// Bytes currently allocated. Relaxed: a statistic read after the work
/// it counts has been joined, so it needs no ordering with other memory.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the counter has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with
        // `layout` (the caller's contract).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is `System.realloc`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const BATCH: usize = 1_000;

/// Resident set size in bytes, from `/proc/self/statm` (pages).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm's second field");
    pages * page_size()
}

fn page_size() -> usize {
    // `getconf PAGESIZE` without libc; every Linux target this runs on
    // uses 4 KiB unless told otherwise.
    env_or("WEFT_PAGE_SIZE", 4096)
}

/// In the child: measure one runtime, print `bytes_per_task_rss=.. heap=..`.
fn child<R: Rt>(tasks: usize, workers: usize) {
    let rt = R::build(workers);
    // Warm-up: per-thread allocator arenas, queues and thread-locals.
    let h = rt.handle.clone();
    rt.block_on(rt.spawn(async move {
        let js: Vec<_> = (0..10_000).map(|_| h.spawn(async {})).collect();
        for j in js {
            j.await;
        }
    }));
    std::thread::sleep(Duration::from_millis(100));
    let (rss0, heap0) = (rss(), LIVE.load(Relaxed));

    let h = rt.handle.clone();
    rt.block_on(rt.spawn(async move {
        let mut left = tasks;
        while left > 0 {
            let n = left.min(BATCH);
            for _ in 0..n {
                h.spawn_detached(std::future::pending::<()>());
            }
            left -= n;
            R::yield_now().await;
        }
        R::sleep(Duration::from_millis(300)).await;
    }));
    let (rss1, heap1) = (rss(), LIVE.load(Relaxed));
    println!(
        "bytes_per_task_rss={:.1} heap={:.1}",
        (rss1 as f64 - rss0 as f64) / tasks as f64,
        (heap1 - heap0) as f64 / tasks as f64
    );
    // The runtime's shutdown of a million tasks is not what is measured.
    std::process::exit(0);
}

fn main() {
    let tasks: usize = env_or("WEFT_MEM_TASKS", 1_000_000);
    let workers: usize = env_or("WEFT_BENCH_WORKERS", 2);
    if let Ok(which) = std::env::var("WEFT_MEM_CHILD") {
        match which.as_str() {
            "weft" => child::<Weft>(tasks, workers),
            "tokio" => child::<Tokio>(tasks, workers),
            _ => child::<AsyncExecutor>(tasks, workers),
        }
        return;
    }

    println!(
        "weft memory: {tasks} idle tasks, {workers} workers, {}",
        common::machine()
    );
    let exe = std::env::current_exe().expect("the bench binary's path");
    let mut table =
        String::from("| runtime | RSS bytes per task | heap bytes per task |\n|---|---:|---:|\n");
    let mut csv = String::from("runtime,tasks,workers,rss_bytes_per_task,heap_bytes_per_task\n");
    for name in [Weft::NAME, Tokio::NAME, AsyncExecutor::NAME] {
        let out = Command::new(&exe)
            .env("WEFT_MEM_CHILD", name)
            .output()
            .expect("run the measuring child");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("bytes_per_task_rss="))
            .unwrap_or_else(|| {
                panic!(
                    "{name}: no result; stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        let mut fields = line
            .split_whitespace()
            .map(|f| f.split_once('=').unwrap().1);
        let (rss, heap) = (fields.next().unwrap(), fields.next().unwrap());
        let _ = writeln!(table, "| {name} | {rss} | {heap} |");
        let _ = writeln!(csv, "{name},{tasks},{workers},{rss},{heap}");
    }
    println!("\n{table}");
    write_result("memory.csv", &csv);
}
