//! Execution traces: a bounded recording of what the scheduler did, to see
//! where time went.
//!
//! [`Runtime::start_trace`](crate::Runtime::start_trace) (or
//! [`Handle::start_trace`](crate::Handle::start_trace)) starts a
//! [`Recording`]; [`Recording::stop`] returns the [`Trace`]. Each worker
//! records into its own preallocated buffer (bounded by
//! [`Builder::trace_buffer`](crate::Builder::trace_buffer), 24 bytes per
//! event), without locks, on one monotonic clock:
//!
//! - poll start and end (every poll, LIFO-slot polls too), with the task id
//!   ([`task::Id::as_u64`](crate::task::Id::as_u64));
//! - spawns and wakes, and by whom (a worker, the task itself yielding, a
//!   driver turn, another thread);
//! - steals (victim, thief, how many; taking from the global queue is not a
//!   steal);
//! - parks and unparks (in the driver or on the worker's condvar);
//! - driver turns (timers fired, I/O events, wakes), blocking-pool jobs,
//!   task ends (completed, cancelled, panicked).
//!
//! [`Trace::write_chrome_json`] writes the Chrome trace-event format, which
//! opens in [Perfetto](https://ui.perfetto.dev) and `chrome://tracing`: one
//! track per worker (`worker 0` ..), plus `blocking pool`, `driver` and
//! `other threads`; polls are `X` events with `cat: "poll"` and
//! `args.task`; wake -> poll, spawn -> first poll and steals are flow
//! arrows. [`Trace::summary`] gives per-worker polls, busy and parked time,
//! steals, and the wake-to-poll delay.
//!
//! Full buffers drop events and count them ([`Trace::dropped_events`]).
//! Work in flight when the recording starts or stops may be cut at the
//! window's edge.
//!
//! Cost: with no recording live, a poll pays two relaxed loads of flags
//! that only `start_trace`/`stop` write, each with a predictable branch: one
//! in the worker loop, one in the task harness (which stamps a poll's end
//! before the task is released). Callgrind counts +6 instructions per poll
//! for the harness's (1,354.5 -> 1,360.9 per `yield_now` round trip). While
//! recording, each event costs about 50-80 ns on the 2-core machine we
//! measured (`cost_of_tracing_per_poll` in `tests/trace.rs`: a yield loop
//! went from 135-200 ns to 350-445 ns per poll with three events per poll),
//! most of it reading the clock (`Instant::now`). `docs/trace.md` shows how
//! to read a trace.
//!
//! ```
//! let rt = weft::Runtime::builder().worker_threads(2).build().unwrap();
//! let recording = rt.start_trace().unwrap();
//! rt.block_on(async {
//!     let tasks: Vec<_> = (0..10)
//!         .map(|_| weft::spawn(async { weft::task::yield_now().await }))
//!         .collect();
//!     for t in tasks {
//!         t.await.unwrap();
//!     }
//! });
//! let trace = recording.stop();
//! let summary = trace.summary();
//! let polls: u64 = (0..summary.num_workers()).map(|i| summary.polls(i)).sum();
//! assert!(polls >= 20, "each task polls at least twice");
//! println!("{summary}");
//! let mut json = Vec::new();
//! trace.write_chrome_json(&mut json).unwrap();
//! assert!(json.starts_with(b"{"));
//! ```

pub use weft_executor::trace::{AlreadyTracing, Recording, Summary, Trace};
