//! The Chrome trace-event JSON (the format Perfetto and chrome://tracing
//! open), written by hand: every string here is one of ours, so nothing
//! needs escaping.
//!
//! Layout: one process (`pid` 1, "weft"); tracks (`tid`) `0..N` are the
//! workers, then the blocking pool, the driver and other threads, each named
//! by `thread_name` metadata. Polls, parks, driver turns and blocking jobs
//! are `X` (complete) events with `ts`/`dur` in microseconds; spawns, wakes,
//! steals and task ends are thread-scoped instants; wake -> poll, spawn ->
//! first poll and steal -> the thief's next poll are flow arrows (`s` then
//! `f` with `bp: "e"`), whose end is always a poll start at or after the
//! arrow's start, so no arrow points backward.

use super::event::{By, Event, Kind, TaskEnd, PARK_DRIVER};
use super::{PollSpan, Trace};
use std::collections::HashMap;
use std::io::{self, Write};

/// Microseconds with nanosecond precision, exactly (no float rounding).
struct Us(u64);

impl std::fmt::Display for Us {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

struct Writer<W: Write> {
    out: W,
    first: bool,
    next_flow: u64,
}

impl<W: Write> Writer<W> {
    /// Starts a new element of `traceEvents` (the comma before all but the first).
    fn item(&mut self) -> io::Result<&mut W> {
        if self.first {
            self.first = false;
        } else {
            self.out.write_all(b",\n")?;
        }
        Ok(&mut self.out)
    }

    fn thread_name(&mut self, tid: usize, name: &str) -> io::Result<()> {
        write!(
            self.item()?,
            r#"{{"ph":"M","pid":1,"tid":{tid},"name":"thread_name","args":{{"name":"{name}"}}}}"#
        )?;
        write!(
            self.item()?,
            r#"{{"ph":"M","pid":1,"tid":{tid},"name":"thread_sort_index","args":{{"sort_index":{tid}}}}}"#
        )
    }

    fn complete(
        &mut self,
        tid: usize,
        cat: &str,
        name: &str,
        start: u64,
        end: u64,
        args: &str,
    ) -> io::Result<()> {
        write!(
            self.item()?,
            r#"{{"ph":"X","pid":1,"tid":{tid},"cat":"{cat}","name":"{name}","ts":{},"dur":{},"args":{{{args}}}}}"#,
            Us(start),
            Us(end.saturating_sub(start))
        )
    }

    fn instant(
        &mut self,
        tid: usize,
        cat: &str,
        name: &str,
        ts: u64,
        args: &str,
    ) -> io::Result<()> {
        write!(
            self.item()?,
            r#"{{"ph":"i","s":"t","pid":1,"tid":{tid},"cat":"{cat}","name":"{name}","ts":{},"args":{{{args}}}}}"#,
            Us(ts)
        )
    }

    /// An arrow from (`from`, `ts`) to the slice on `to` that encloses `to_ts`.
    fn flow(&mut self, name: &str, from: usize, ts: u64, to: usize, to_ts: u64) -> io::Result<()> {
        debug_assert!(to_ts >= ts, "a flow arrow must not point backward");
        self.next_flow += 1;
        let id = self.next_flow;
        write!(
            self.item()?,
            r#"{{"ph":"s","pid":1,"tid":{from},"cat":"flow","name":"{name}","id":{id},"ts":{}}}"#,
            Us(ts)
        )?;
        write!(
            self.item()?,
            r#"{{"ph":"f","bp":"e","pid":1,"tid":{to},"cat":"flow","name":"{name}","id":{id},"ts":{}}}"#,
            Us(to_ts)
        )
    }
}

/// Each task's polls (sorted by start), to find the poll a wake leads to.
pub(super) struct PollIndex<'a> {
    by_task: HashMap<u64, Vec<&'a PollSpan>>,
    by_lane: Vec<Vec<&'a PollSpan>>,
}

impl<'a> PollIndex<'a> {
    pub(super) fn new(polls: &'a [PollSpan], lanes: usize) -> PollIndex<'a> {
        let mut by_task: HashMap<u64, Vec<&PollSpan>> = HashMap::new();
        let mut by_lane = vec![Vec::new(); lanes];
        for p in polls {
            by_task.entry(p.task).or_default().push(p);
            by_lane[p.lane].push(p);
        }
        PollIndex { by_task, by_lane }
    }

    /// The first poll of `task` starting at or after `ts`.
    pub(super) fn next_poll_of(&self, task: u64, ts: u64) -> Option<&'a PollSpan> {
        let polls = self.by_task.get(&task)?;
        polls.get(polls.partition_point(|p| p.start < ts)).copied()
    }

    /// The poll running on `lane` at `ts`, if any.
    pub(super) fn poll_at(&self, lane: usize, ts: u64) -> Option<&'a PollSpan> {
        let polls = self.by_lane.get(lane)?;
        let i = polls.partition_point(|p| p.start <= ts);
        polls[..i].last().copied().filter(|p| p.end >= ts)
    }

    /// The first poll on `lane` starting at or after `ts`.
    pub(super) fn next_poll_on(&self, lane: usize, ts: u64) -> Option<&'a PollSpan> {
        let polls = &self.by_lane[lane];
        polls.get(polls.partition_point(|p| p.start < ts)).copied()
    }
}

pub(super) fn write(trace: &Trace, out: impl Write) -> io::Result<()> {
    let mut w = Writer {
        out: io::BufWriter::new(out),
        first: true,
        next_flow: 0,
    };
    let n = trace.workers.len();
    let (blocking, driver, other) = (n, n + 1, n + 2);
    w.out
        .write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")?;
    write!(
        w.item()?,
        r#"{{"ph":"M","pid":1,"name":"process_name","args":{{"name":"weft"}}}}"#
    )?;
    for i in 0..n {
        w.thread_name(i, &format!("worker {i}"))?;
    }
    w.thread_name(blocking, "blocking pool")?;
    w.thread_name(driver, "driver")?;
    w.thread_name(other, "other threads")?;

    let polls = trace.polls();
    for p in &polls {
        w.complete(
            p.lane,
            "poll",
            "poll",
            p.start,
            p.end,
            &format!(r#""task":{}"#, p.task),
        )?;
    }
    let index = PollIndex::new(&polls, n);

    for (lane, events) in trace.workers.iter().enumerate() {
        let mut parked: Option<&Event> = None;
        for e in events {
            match e.kind {
                Kind::Spawn | Kind::Wake => schedule_event(&mut w, &index, lane, e)?,
                Kind::Steal => {
                    let victim = e.a as usize;
                    w.instant(
                        lane,
                        "steal",
                        "steal",
                        e.ts,
                        &format!(r#""victim":{victim},"thief":{lane},"count":{}"#, e.task),
                    )?;
                    if let Some(p) = index.next_poll_on(lane, e.ts) {
                        if victim < n {
                            w.flow("steal", victim, e.ts, lane, p.start)?;
                        }
                    }
                }
                Kind::Park => parked = Some(e),
                Kind::Unpark => {
                    if let Some(p) = parked.take() {
                        park_event(&mut w, lane, p, e.ts)?;
                    }
                }
                Kind::TaskEnd => task_end_event(&mut w, lane, e)?,
                _ => {}
            }
        }
        if let Some(p) = parked {
            park_event(&mut w, lane, p, trace.end)?;
        }
    }

    // Wakes on the driver track, by time: a turn whose driver reports no
    // counts (or that was cut at the window's start) counts its own.
    let mut driver_wakes: Vec<u64> = (trace.driver.iter())
        .filter(|e| e.kind == Kind::Wake)
        .map(|e| e.ts)
        .collect();
    driver_wakes.sort_unstable();
    let mut turn: Option<&Event> = None;
    for e in &trace.driver {
        match e.kind {
            Kind::DriverStart => turn = Some(e),
            Kind::DriverEnd => {
                if let Some(start) = turn.take() {
                    let wakes = if e.a == u32::MAX {
                        let within = |t: u64| driver_wakes.partition_point(|&w| w < t);
                        (within(e.ts + 1) - within(start.ts)) as u64
                    } else {
                        u64::from(e.a)
                    };
                    w.complete(
                        driver,
                        "driver",
                        "driver turn",
                        start.ts,
                        e.ts,
                        &format!(
                            r#""timers":{},"io_events":{},"wakes":{wakes},"may_block":{}"#,
                            e.task >> 32,
                            e.task & u64::from(u32::MAX),
                            start.flag == 1
                        ),
                    )?;
                }
            }
            Kind::Spawn | Kind::Wake => schedule_event(&mut w, &index, driver, e)?,
            _ => {}
        }
    }
    if let Some(start) = turn {
        // In flight at the window's end: cut there.
        w.complete(
            driver,
            "driver",
            "driver turn",
            start.ts,
            trace.end,
            r#""cut":true"#,
        )?;
    }

    let mut jobs: HashMap<u64, u64> = HashMap::new();
    for e in &trace.blocking {
        match e.kind {
            Kind::BlockingStart => {
                jobs.insert(e.task, e.ts);
            }
            Kind::BlockingEnd => {
                if let Some(start) = jobs.remove(&e.task) {
                    blocking_event(&mut w, blocking, e.task, start, e.ts)?;
                }
            }
            Kind::Spawn | Kind::Wake => schedule_event(&mut w, &index, blocking, e)?,
            Kind::TaskEnd => task_end_event(&mut w, blocking, e)?,
            _ => {}
        }
    }
    let mut open: Vec<_> = jobs.into_iter().collect();
    open.sort_unstable();
    for (task, start) in open {
        blocking_event(&mut w, blocking, task, start, trace.end)?;
    }

    for e in &trace.other {
        match e.kind {
            Kind::Spawn | Kind::Wake => schedule_event(&mut w, &index, other, e)?,
            Kind::TaskEnd => task_end_event(&mut w, other, e)?,
            Kind::LongPoll if (e.a as usize) < n => w.instant(
                e.a as usize,
                "long_poll",
                "long poll",
                e.ts,
                &format!(r#""task":{}"#, e.task),
            )?,
            _ => {}
        }
    }

    write!(
        w.out,
        "\n],\"otherData\":{{\"dropped_events\":{},\"window_us\":{}}}}}\n",
        trace.dropped,
        Us(trace.end)
    )?;
    w.out.flush()
}

/// A spawn or wake on track `tid`, and its arrow to the poll it led to.
fn schedule_event<W: Write>(
    w: &mut Writer<W>,
    index: &PollIndex<'_>,
    tid: usize,
    e: &Event,
) -> io::Result<()> {
    let (cat, name) = if e.kind == Kind::Spawn {
        ("spawn", "spawn")
    } else {
        ("wake", "wake")
    };
    // By which task: the one polling on this worker at the time.
    // A yield is the task waking itself just after its poll ended.
    let by_task = if e.flag == By::Yield as u8 {
        format!(r#","by_task":{}"#, e.task)
    } else {
        match index.poll_at(tid, e.ts) {
            Some(p) if e.flag == By::Worker as u8 => format!(r#","by_task":{}"#, p.task),
            _ => String::new(),
        }
    };
    w.instant(
        tid,
        cat,
        name,
        e.ts,
        &format!(r#""task":{},"by":"{}"{by_task}"#, e.task, By::name(e.flag)),
    )?;
    if let Some(p) = index.next_poll_of(e.task, e.ts) {
        w.flow(name, tid, e.ts, p.lane, p.start)?;
    }
    Ok(())
}

fn task_end_event<W: Write>(w: &mut Writer<W>, tid: usize, e: &Event) -> io::Result<()> {
    w.instant(
        tid,
        "task",
        TaskEnd::name(e.flag),
        e.ts,
        &format!(r#""task":{}"#, e.task),
    )
}

fn park_event<W: Write>(w: &mut Writer<W>, lane: usize, park: &Event, end: u64) -> io::Result<()> {
    let name = if park.flag == PARK_DRIVER {
        "park (driver)"
    } else {
        "park (condvar)"
    };
    w.complete(lane, "park", name, park.ts, end, "")
}

fn blocking_event<W: Write>(
    w: &mut Writer<W>,
    tid: usize,
    task: u64,
    start: u64,
    end: u64,
) -> io::Result<()> {
    w.complete(
        tid,
        "blocking",
        "blocking job",
        start,
        end,
        &format!(r#""task":{task}"#),
    )
}
