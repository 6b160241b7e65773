//! The execution trace: a bounded recording of what the scheduler did.
//!
//! Protocol (start, record, stop):
//!
//! 1. `start` (under the tracer's `control` mutex): refuse if a recording is
//!    live; allocate a `Session` (one `WorkerBuf` per worker, preallocated
//!    to `trace_buffer` events, plus the locked tracks), publish it in
//!    `control`, then store its generation (never 0, never reused) in
//!    `active`.
//! 2. Recording on a worker (`WorkerTrace`, owned by the worker thread):
//!    the hot path loads `active` (Relaxed) and ORs it with the worker's
//!    cached generation: if both are 0 (no recording, nothing cached) that
//!    is the whole cost, one well-predicted branch. Otherwise, if `active`
//!    differs from the cached generation, the worker refreshes its cached
//!    session under the `control` mutex (cold; this is how it gets the
//!    buffers, so the mutex, not `active`, orders their initialisation
//!    before the worker's writes); then it appends to its own `WorkerBuf`
//!    (single writer, no lock, no RMW; see `buffer.rs`).
//! 3. `stop`: under `control`, unpublish the session and store 0 in
//!    `active`; then copy out each buffer's published prefix. A worker that
//!    has not seen the 0 yet writes beyond that prefix, into slots the copy
//!    never reads (cut at the window's edge, never torn); when it next
//!    records it sees `active != cached`, refreshes to nothing, and drops
//!    its reference to the session's buffers.
//!
//! Why Relaxed on `active` is enough: it decides only whether to look, and
//! what is looked at is published by the mutex (step 2) and by the buffers'
//! own Release/Acquire (step 3). Any work that causally follows `start`
//! (say a task spawned after it, which reaches a worker through the queues'
//! release/acquire) happens after the store, so by coherence the worker's
//! load sees the generation: nothing after the start is missed. The loom
//! model `trace_stop_vs_recording_worker` checks steps 2 and 3.
//!
//! Tracks other than the workers' (blocking pool, driver turns, spawns and
//! wakes from other threads) go to `LockedBuf`s behind a mutex: they are off
//! the hot path. Hooks outside the worker loop (the task harness, the
//! parker) first check `RECORDINGS`, a process-wide count of live
//! recordings, so they cost one load and branch when nothing records.

pub(crate) mod buffer;
mod chrome;
pub(crate) mod event;
mod html;
mod summary;
#[cfg(all(test, not(loom)))]
mod tests;

pub use summary::Summary;

use crate::scheduler::context::{self, WorkerContext};
use crate::scheduler::{Origin, Shared};
use crate::sync::unmodelled::{Relaxed as URelaxed, StaticAtomicU64};
use crate::sync::{AtomicUsize, Mutex};
use crate::task::Id;
use crate::Driver;
use buffer::{LockedBuf, WorkerBuf};
use event::{By, Event, Kind, TaskEnd};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

/// Default `trace_buffer`: 2^20 events per worker, 24 MiB per worker at
/// most (24-byte events). About a second of a worker polling flat out
/// (two events per poll at ~1 µs per poll); raise it for longer windows.
pub(crate) const DEFAULT_EVENTS_PER_WORKER: usize = 1 << 20;

/// Live recordings in the whole process (any runtime). Hooks off the worker
/// loop check it first. Relaxed: a hint to go and look (see the module docs).
static RECORDINGS: StaticAtomicU64 = StaticAtomicU64::new(0);

///
/// Under loom it is always true: the count is process-wide and unmodelled,
/// so models running in parallel would otherwise see each other's
/// recordings and replay nondeterministically. The hooks then consult each
/// runtime's own (modelled) flag instead.
#[inline(always)]
fn any_recording() -> bool {
    cfg!(loom) || RECORDINGS.load(URelaxed) != 0
}

/// Per-runtime trace state, shared by the workers, the blocking pool and
/// the `Recording`.
pub(crate) struct Tracer {
    /// Generation of the live recording, 0 if none.
    active: AtomicUsize,
    control: Mutex<Control>,
    num_workers: usize,
    events_per_worker: usize,
}

struct Control {
    live: Option<StdArc<Session>>,
    last_gen: usize,
}

/// One recording's buffers and clock.
pub(crate) struct Session {
    gen: usize,
    epoch: Instant,
    workers: Box<[WorkerBuf]>,
    blocking: LockedBuf,
    driver: LockedBuf,
    other: LockedBuf,
}

impl Session {
    #[inline]
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

impl Tracer {
    pub(crate) fn new(num_workers: usize, events_per_worker: usize) -> Tracer {
        Tracer {
            active: AtomicUsize::new(0),
            control: Mutex::new(Control {
                live: None,
                last_gen: 0,
            }),
            num_workers,
            events_per_worker,
        }
    }

    #[inline(always)]
    pub(crate) fn is_active(&self) -> bool {
        // Relaxed: see the module docs.
        self.active.load(Relaxed) != 0
    }

    fn live(&self) -> Option<StdArc<Session>> {
        self.control.lock().live.clone()
    }

    /// Step 1 of the protocol.
    pub(crate) fn start(self: &StdArc<Self>) -> Result<Recording, AlreadyTracing> {
        let mut control = self.control.lock();
        if control.live.is_some() {
            return Err(AlreadyTracing(()));
        }
        control.last_gen += 1;
        let gen = control.last_gen;
        let cap = self.events_per_worker;
        let workers = (0..self.num_workers).map(|_| WorkerBuf::new(cap)).collect();
        let session = StdArc::new(Session {
            gen,
            // After the allocation: the window opens when recording can start.
            epoch: Instant::now(),
            workers,
            blocking: LockedBuf::new(cap),
            driver: LockedBuf::new(cap),
            other: LockedBuf::new(cap),
        });
        control.live = Some(session.clone());
        RECORDINGS.fetch_add(1, URelaxed);
        // Relaxed: see the module docs (the session is published by the
        // mutex, which workers take to fetch it).
        self.active.store(gen, Relaxed);
        Ok(Recording {
            tracer: self.clone(),
            session: Some(session),
        })
    }

    /// Step 3 (first half): unpublish `session` if it is still live.
    fn end(&self, session: &StdArc<Session>) {
        let mut control = self.control.lock();
        if control
            .live
            .as_ref()
            .is_some_and(|s| StdArc::ptr_eq(s, session))
        {
            control.live = None;
            self.active.store(0, Relaxed);
            RECORDINGS.fetch_sub(1, URelaxed);
        }
    }

    /// A blocking-pool job starts; the guard records its end.
    #[inline]
    pub(crate) fn blocking_job(&self, id: Id) -> Option<BlockingJob> {
        if !self.is_active() {
            return None;
        }
        self.blocking_job_slow(id)
    }

    #[cold]
    fn blocking_job_slow(&self, id: Id) -> Option<BlockingJob> {
        let session = self.live()?;
        let task = id.as_u64();
        session
            .blocking
            .push(|| Event::new(session.now(), Kind::BlockingStart, task));
        Some(BlockingJob { session, task })
    }
}

/// Records the end of a blocking job when dropped (also if it panicked).
pub(crate) struct BlockingJob {
    session: StdArc<Session>,
    task: u64,
}

impl Drop for BlockingJob {
    fn drop(&mut self) {
        let s = &self.session;
        s.blocking
            .push(|| Event::new(s.now(), Kind::BlockingEnd, self.task));
    }
}

/// The recording state a worker owns (it lives in its `WorkerContext`).
pub(crate) struct WorkerTrace {
    index: usize,
    /// Generation of `session`, 0 if none.
    gen: Cell<usize>,
    session: RefCell<Option<StdArc<Session>>>,
    /// The task whose poll start was recorded and whose end is not yet:
    /// the harness stamps the end before it releases the task
    /// ([`poll_returned`]); the worker stamps it after `run` only if the
    /// harness did not (a poll that never ran the future).
    open: Cell<Option<u64>>,
}

impl WorkerTrace {
    pub(crate) fn new(index: usize) -> WorkerTrace {
        WorkerTrace {
            index,
            gen: Cell::new(0),
            session: RefCell::new(None),
            open: Cell::new(None),
        }
    }

    /// The hot-path check: false (one load, one branch) unless a recording
    /// is live or this worker still holds one.
    #[inline(always)]
    fn should_record(&self, tracer: &Tracer) -> bool {
        // Relaxed: see the module docs.
        (tracer.active.load(Relaxed) | self.gen.get()) != 0
    }

    /// Before a poll: records its start if recording; the result goes to
    /// `poll_end`.
    #[inline(always)]
    pub(crate) fn poll_start(&self, tracer: &Tracer, id: impl FnOnce() -> Id) -> Option<u64> {
        if !self.should_record(tracer) {
            return None;
        }
        let task = id().as_u64();
        let recorded = self.record(tracer, |ts| Event::new(ts, Kind::PollStart, task));
        if recorded {
            self.open.set(Some(task));
        }
        recorded.then_some(task)
    }

    /// After a poll that `poll_start` recorded: stamps its end unless the
    /// harness already did (see [`poll_returned`]).
    #[inline(always)]
    pub(crate) fn poll_end(&self, tracer: &Tracer, task: Option<u64>) {
        if task.is_some() {
            self.poll_end_slow(tracer);
        }
    }

    #[cold]
    fn poll_end_slow(&self, tracer: &Tracer) {
        if let Some(task) = self.open.take() {
            self.record(tracer, |ts| Event::new(ts, Kind::PollEnd, task));
        }
    }

    /// Appends to this worker's buffer; false if no recording is live.
    #[inline(never)]
    fn record(&self, tracer: &Tracer, make: impl FnOnce(u64) -> Event) -> bool {
        // Relaxed: see the module docs.
        let active = tracer.active.load(Relaxed);
        if active != self.gen.get() {
            self.refresh(tracer);
        }
        let session = self.session.borrow();
        let Some(session) = session.as_ref() else {
            return false;
        };
        let event = make(session.now());
        // SAFETY: `workers[index]` is written only by worker `index`, and
        // this `WorkerTrace` belongs to that worker's thread (it is in its
        // `WorkerContext`, which is neither `Send` nor shared).
        unsafe { session.workers[self.index].push(event) };
        true
    }

    /// Fetches the live session (or lets go of a finished one).
    #[cold]
    fn refresh(&self, tracer: &Tracer) {
        let live = tracer.live();
        self.gen.set(live.as_ref().map_or(0, |s| s.gen));
        *self.session.borrow_mut() = live;
    }
}

/// Where a worker's non-poll events go: its own buffer, or the driver
/// track while it turns the driver.
fn record_on_worker(cx: &WorkerContext, make: impl FnOnce(u64) -> Event) {
    cx.trace.record(&cx.shared.trace, make);
}

/// A task is about to be queued (spawned, woken, or yielding). Called
/// before the push, so the event precedes any poll it leads to.
#[cold]
pub(crate) fn on_schedule(shared: &Shared, id: Id, origin: Origin) {
    let task = id.as_u64();
    let kind = if origin == Origin::Spawn {
        Kind::Spawn
    } else {
        Kind::Wake
    };
    context::with(|cx| match cx {
        Some(cx) if std::ptr::eq(&*cx.shared, shared) => {
            if cx.parked.get() {
                // Inside a driver turn (the only time a parked worker runs
                // wakers): on the driver track.
                if let Some(s) = shared.trace.live() {
                    s.driver
                        .push(|| Event::new(s.now(), kind, task).flag(By::Driver as u8));
                }
            } else {
                let by = if origin == Origin::Yield {
                    By::Yield
                } else {
                    By::Worker
                };
                record_on_worker(cx, |ts| Event::new(ts, kind, task).flag(by as u8));
            }
        }
        _ => {
            if let Some(s) = shared.trace.live() {
                let track = if crate::blocking::on_pool_thread() {
                    &s.blocking
                } else {
                    &s.other
                };
                track.push(|| Event::new(s.now(), kind, task).flag(By::Thread as u8));
            }
        }
    });
}

/// Worker `thief` took `count` tasks from `victim` in one steal.
#[cold]
pub(crate) fn on_steal(victim: usize, count: u64) {
    context::with(|cx| {
        if let Some(cx) = cx {
            record_on_worker(cx, |ts| {
                Event::new(ts, Kind::Steal, count).arg(victim as u32)
            });
        }
    });
}

/// The future's `poll` returned (harness hook, on the polling thread):
/// stamps the poll's end now, before the harness releases the task (to
/// idle, to its queue, or to completion), so the task's next poll, on any
/// worker, starts after this end and no wake it makes from now on points
/// into this poll. When nothing records anywhere this is one load of a
/// process-wide counter and one well-predicted branch.
#[inline(always)]
pub(crate) fn poll_returned() {
    if any_recording() {
        poll_returned_slow();
    }
}

#[cold]
fn poll_returned_slow() {
    context::with(|cx| {
        // Not a worker (the blocking pool runs its jobs as tasks): no lane.
        let Some(cx) = cx else { return };
        if let Some(task) = cx.trace.open.take() {
            cx.trace
                .record(&cx.shared.trace, |ts| Event::new(ts, Kind::PollEnd, task));
        }
    });
}

/// A task ended (harness hook) in one of its polls: recorded on the worker
/// that polled it. Ends off the workers go through [`shut_down`].
#[inline(always)]
pub(crate) fn task_end(id: Id, end: TaskEnd) {
    if any_recording() {
        task_end_slow(id, end);
    }
}

#[cold]
fn task_end_slow(id: Id, end: TaskEnd) {
    context::with(|cx| {
        if let Some(cx) = cx {
            if cx.trace.should_record(&cx.shared.trace) {
                record_on_worker(cx, |ts| {
                    Event::new(ts, Kind::TaskEnd, id.as_u64()).flag(end as u8)
                });
            }
        }
    });
}

/// A task was cancelled by `shutdown` (harness hook), on whichever thread
/// did it: the thread dropping the runtime, a spawn that found the runtime
/// closed, or a worker. Recorded on that worker's lane if it is one of this
/// runtime's, else on the blocking pool's or the "other threads" track.
#[inline(always)]
pub(crate) fn shut_down(tracer: Option<&Tracer>, id: Id) {
    if any_recording() {
        if let Some(tracer) = tracer {
            shut_down_slow(tracer, id);
        }
    }
}

#[cold]
fn shut_down_slow(tracer: &Tracer, id: Id) {
    if !tracer.is_active() {
        return;
    }
    let task = id.as_u64();
    let flag = TaskEnd::Cancelled as u8;
    context::with(|cx| match cx {
        Some(cx) if std::ptr::eq(&*cx.shared.trace, tracer) => {
            record_on_worker(cx, |ts| Event::new(ts, Kind::TaskEnd, task).flag(flag));
        }
        _ => {
            if let Some(s) = tracer.live() {
                let track = if crate::blocking::on_pool_thread() {
                    &s.blocking
                } else {
                    &s.other
                };
                track.push(|| Event::new(s.now(), Kind::TaskEnd, task).flag(flag));
            }
        }
    });
}

/// The worker is about to block (`flag`: `PARK_CONDVAR` / `PARK_DRIVER`);
/// the guard records the wakeup. A park in flight when a recording starts
/// is recorded as cut at the window's start.
#[inline(always)]
pub(crate) fn parked(flag: u8) -> Parked {
    let recorded = any_recording() && parked_slow(flag);
    Parked { flag, recorded }
}

#[cold]
fn parked_slow(flag: u8) -> bool {
    context::with(|cx| {
        let Some(cx) = cx else { return false };
        cx.trace.should_record(&cx.shared.trace)
            && cx.trace.record(&cx.shared.trace, |ts| {
                Event::new(ts, Kind::Park, 0).flag(flag)
            })
    })
}

/// See [`parked`].
pub(crate) struct Parked {
    flag: u8,
    recorded: bool,
}

impl Drop for Parked {
    #[inline]
    fn drop(&mut self) {
        if self.recorded || any_recording() {
            self.unparked();
        }
    }
}

impl Parked {
    #[cold]
    fn unparked(&self) {
        let (flag, recorded) = (self.flag, self.recorded);
        context::with(|cx| {
            let Some(cx) = cx else { return };
            if !recorded {
                if !cx.trace.should_record(&cx.shared.trace) {
                    return;
                }
                // Parked since before the window: nothing of this worker is
                // in the buffer yet, so a park at 0 keeps the lane in order.
                record_on_worker(cx, |_| Event::new(0, Kind::Park, 0).flag(flag));
            }
            record_on_worker(cx, |ts| Event::new(ts, Kind::Unpark, 0));
        });
    }
}

/// One driver turn, recorded on the driver track if a recording is live
/// (a turn in flight when the recording starts is cut at its start).
#[inline(always)]
pub(crate) fn driver_turn(driver: &dyn Driver, timeout: Option<Duration>) {
    if any_recording() {
        driver_turn_slow(driver, timeout);
    } else {
        driver.park(timeout);
        if any_recording() {
            driver_turn_cut(timeout);
        }
    }
}

#[cold]
fn driver_turn_cut(timeout: Option<Duration>) {
    let Some(s) = context::with(|cx| cx.and_then(|cx| cx.shared.trace.live())) else {
        return;
    };
    let may_block = u8::from(timeout != Some(Duration::ZERO));
    s.driver
        .push(|| Event::new(0, Kind::DriverStart, 0).flag(may_block));
    s.driver
        .push(|| Event::new(s.now(), Kind::DriverEnd, 0).arg(u32::MAX));
}

#[cold]
fn driver_turn_slow(driver: &dyn Driver, timeout: Option<Duration>) {
    let session = context::with(|cx| cx.and_then(|cx| cx.shared.trace.live()));
    let Some(s) = session else {
        return driver.park(timeout);
    };
    let before = driver.turn_counts();
    let may_block = u8::from(timeout != Some(Duration::ZERO));
    s.driver
        .push(|| Event::new(s.now(), Kind::DriverStart, 0).flag(may_block));
    driver.park(timeout);
    let after = driver.turn_counts();
    let (timers, io, wakes) = match (before, after) {
        (Some(b), Some(a)) => (
            a.timers_fired.wrapping_sub(b.timers_fired),
            a.io_events.wrapping_sub(b.io_events),
            a.wakes.wrapping_sub(b.wakes),
        ),
        _ => (0, 0, u64::MAX),
    };
    let packed = (timers.min(u32::MAX as u64) << 32) | io.min(u32::MAX as u64);
    s.driver.push(|| {
        Event::new(s.now(), Kind::DriverEnd, packed).arg(wakes.min(u32::MAX as u64) as u32)
    });
}

/// Hook for long-poll detection (which may run on the monitor thread):
/// worker `worker` has been polling `task` for too long. Recorded on the
/// locked track, drawn on the worker's lane.
#[allow(dead_code)] // wired up by the long-poll detector
pub(crate) fn on_long_poll(shared: &Shared, worker: usize, task: Id) {
    if shared.trace.is_active() {
        if let Some(s) = shared.trace.live() {
            s.other
                .push(|| Event::new(s.now(), Kind::LongPoll, task.as_u64()).arg(worker as u32));
        }
    }
}

/// The error of `start_trace`: a recording is already running on this
/// runtime (one at a time). Stop or drop it first.
#[derive(Debug, Clone)]
pub struct AlreadyTracing(());

impl fmt::Display for AlreadyTracing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a trace is already recording on this runtime: stop (or drop) that \
             Recording before starting another",
        )
    }
}

impl std::error::Error for AlreadyTracing {}

/// A live recording, from `start_trace`. [`stop`](Recording::stop) it to get
/// the [`Trace`]; dropping it stops and discards the recording.
pub struct Recording {
    tracer: StdArc<Tracer>,
    session: Option<StdArc<Session>>,
}

impl Recording {
    /// Stops recording and returns what was kept. Works after the runtime
    /// is gone too (the buffers live as long as the recording).
    pub fn stop(mut self) -> Trace {
        let session = self.session.take().expect("a Recording is stopped once");
        self.tracer.end(&session);
        Trace::collect(&session)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.tracer.end(&session);
        }
    }
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("workers", &self.tracer.num_workers)
            .field("events_per_worker", &self.tracer.events_per_worker)
            .finish_non_exhaustive()
    }
}

/// A finished recording: per-track events on one clock (nanoseconds since
/// the start), plus how many were dropped.
pub struct Trace {
    pub(crate) workers: Vec<Vec<Event>>,
    pub(crate) blocking: Vec<Event>,
    pub(crate) driver: Vec<Event>,
    pub(crate) other: Vec<Event>,
    pub(crate) dropped: u64,
    /// Length of the window, ns.
    pub(crate) end: u64,
}

impl Trace {
    fn collect(session: &Session) -> Trace {
        let end = session.now();
        let mut dropped = 0;
        let workers = session
            .workers
            .iter()
            .map(|buf| {
                let (events, d) = buf.snapshot();
                dropped += d;
                events
            })
            .collect();
        let mut take = |buf: &LockedBuf| {
            let (events, d) = buf.take();
            dropped += d;
            events
        };
        let (blocking, driver, other) = (
            take(&session.blocking),
            take(&session.driver),
            take(&session.other),
        );
        Trace {
            workers,
            blocking,
            driver,
            other,
            dropped,
            end,
        }
    }

    /// Events lost to full buffers (0 means the trace is complete).
    pub fn dropped_events(&self) -> u64 {
        self.dropped
    }

    /// Writes the trace in the Chrome trace-event format (opens in Perfetto
    /// and `chrome://tracing`).
    ///
    /// # Errors
    ///
    /// Whatever `out` returns.
    pub fn write_chrome_json(&self, out: impl std::io::Write) -> std::io::Result<()> {
        chrome::write(self, out)
    }

    /// Writes the timeline as one self-contained HTML file: inline SVG lanes
    /// per worker (plus blocking pool, driver, other threads), polls as
    /// blocks coloured by task, parks shaded, wakes and steals as arrows,
    /// the summary on top; long polls marked on their lane. Nothing is
    /// fetched from the network; a small inline script zooms the time axis
    /// (the page reads without it).
    ///
    /// # Errors
    ///
    /// Whatever `out` returns.
    pub fn write_html(&self, out: impl std::io::Write) -> std::io::Result<()> {
        html::write(self, out)
    }

    /// Per-worker polls, busy and parked time, steals; wake-to-poll delays.
    pub fn summary(&self) -> Summary {
        Summary::new(self)
    }

    /// The polls of the window: (worker, task, start ns, end ns), sorted by
    /// start. A poll's end is stamped before the task is released
    /// ([`poll_returned`]), so one task's polls never overlap; the cut below
    /// only guards against a clock that is not monotonic across threads.
    pub(crate) fn polls(&self) -> Vec<PollSpan> {
        let mut polls = Vec::new();
        for (lane, events) in self.workers.iter().enumerate() {
            let mut open: Option<(u64, u64)> = None;
            for e in events {
                match e.kind {
                    Kind::PollStart => open = Some((e.task, e.ts)),
                    Kind::PollEnd => {
                        if let Some((task, start)) = open.take() {
                            polls.push(PollSpan {
                                lane,
                                task,
                                start,
                                end: e.ts.max(start),
                            });
                        }
                    }
                    _ => {}
                }
            }
            if let Some((task, start)) = open {
                // Cut at the window's edge.
                polls.push(PollSpan {
                    lane,
                    task,
                    start,
                    end: self.end.max(start),
                });
            }
        }
        polls.sort_by_key(|p| (p.task, p.start));
        for i in 1..polls.len() {
            if polls[i].task == polls[i - 1].task && polls[i - 1].end > polls[i].start {
                polls[i - 1].end = polls[i].start;
            }
        }
        polls.sort_by_key(|p| (p.start, p.lane));
        polls
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("workers", &self.workers.len())
            .field("dropped_events", &self.dropped)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct PollSpan {
    pub(crate) lane: usize,
    pub(crate) task: u64,
    pub(crate) start: u64,
    pub(crate) end: u64,
}
