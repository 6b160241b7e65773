//! Execution traces (DESIGN.md 3b): a known workload traced on two workers,
//! checked against the runtime's own counters and against the rules the
//! Chrome JSON promises (tracks, polls, steals, flow arrows).

use std::collections::HashMap;
use std::time::{Duration, Instant};
use weft::{Runtime, RuntimeMetrics};

// ---------------------------------------------------------------- JSON ----

/// A tiny JSON reader, enough to check that the output parses and to read it.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    fn num(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(v)
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.string()? else {
                        unreachable!()
                    };
                    self.eat(b':')?;
                    fields.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return Err(format!("bad object at byte {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("bad array at byte {}", self.i)),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(_) => self.number(),
            None => Err("unexpected end".into()),
        }
    }
    fn word(&mut self, w: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(format!("bad literal at byte {}", self.i))
        }
    }
    fn string(&mut self) -> Result<Json, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(format!("expected a string at byte {}", self.i));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.s.get(self.i) {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Json::Str(out));
                }
                Some(b'\\') => {
                    let c = *self.s.get(self.i + 1).ok_or("bad escape")?;
                    out.push(match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b't' => '\t',
                        _ => return Err(format!("unsupported escape at byte {}", self.i)),
                    });
                    self.i += 2;
                }
                Some(&c) if c < 0x20 => return Err("control character in string".into()),
                Some(&c) => {
                    out.push(c as char);
                    self.i += 1;
                }
            }
        }
    }
    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        while self.i < self.s.len() && b"-+.eE0123456789".contains(&self.s[self.i]) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
        text.parse::<f64>()
            .map(Json::Num)
            .map_err(|_| format!("bad number {text:?} at byte {start}"))
    }
}

// ------------------------------------------------------------ workload ----

const WORKERS: usize = 2;
const TASKS: u64 = 1_000;
const YIELDS: u64 = 3;

fn runtime(trace_buffer: Option<usize>) -> Runtime {
    let mut b = Runtime::builder();
    b.worker_threads(WORKERS);
    if let Some(n) = trace_buffer {
        b.trace_buffer(n);
    }
    b.build().unwrap()
}

/// 1,000 tasks spawned from a task on a worker (so the other worker has to
/// steal), each yielding a few times; every tenth also sleeps.
fn workload(rt: &Runtime) {
    rt.block_on(async {
        weft::spawn(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    weft::spawn(async move {
                        for _ in 0..YIELDS {
                            weft::task::yield_now().await;
                        }
                        if i % 10 == 0 {
                            weft::time::sleep(Duration::from_millis(1)).await;
                        }
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for t in tasks {
                sum += t.await.unwrap();
            }
            assert_eq!(sum, TASKS * (TASKS - 1) / 2);
        })
        .await
        .unwrap();
    });
}

#[derive(Debug, PartialEq, Clone)]
struct Counters {
    polls: Vec<u64>,
    steal_ops: Vec<u64>,
    stolen: Vec<u64>,
}

fn counters(m: &RuntimeMetrics) -> Counters {
    let n = m.num_workers();
    Counters {
        polls: (0..n).map(|i| m.worker_poll_count(i)).collect(),
        steal_ops: (0..n).map(|i| m.worker_steal_operations(i)).collect(),
        stolen: (0..n).map(|i| m.worker_steal_count(i)).collect(),
    }
}

/// Waits (bounded) until no task is alive and the workers' counters stop
/// moving: nothing is in flight, so a window opened or closed now is exact.
fn quiesce(rt: &Runtime) -> Counters {
    let m = rt.metrics();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = counters(&m);
    let mut stable = 0;
    while stable < 5 {
        assert!(Instant::now() < deadline, "the runtime did not quiesce");
        std::thread::sleep(Duration::from_millis(5));
        let now = counters(&m);
        let idle = m.num_alive_tasks() == 0 && m.global_queue_depth() == 0;
        stable = if idle && now == last { stable + 1 } else { 0 };
        last = now;
    }
    last
}

fn json_of(trace: &weft::trace::Trace) -> Json {
    let mut out = Vec::new();
    trace.write_chrome_json(&mut out).unwrap();
    let text = String::from_utf8(out).expect("the JSON is UTF-8");
    Parser::parse(&text).unwrap_or_else(|e| panic!("the trace JSON does not parse: {e}"))
}

fn events(json: &Json) -> &[Json] {
    match json.get("traceEvents") {
        Some(Json::Arr(a)) => a,
        other => panic!("traceEvents is not an array: {other:?}"),
    }
}

/// Track name -> tid, from the `thread_name` metadata.
fn tracks(json: &Json) -> HashMap<String, u64> {
    events(json)
        .iter()
        .filter(|e| e.str("ph") == Some("M") && e.str("name") == Some("thread_name"))
        .map(|e| {
            let name = e.get("args").and_then(|a| a.str("name")).unwrap();
            (name.to_owned(), e.num("tid").unwrap() as u64)
        })
        .collect()
}

/// A flow arrow's start and end: (ts µs, tid).
type FlowEnds = (Option<(f64, u64)>, Option<(f64, u64)>);

/// ns from a µs float written with three decimals.
fn ns(us: f64) -> i64 {
    (us * 1000.0).round() as i64
}

// --------------------------------------------------------------- tests ----

#[test]
fn trace_matches_metrics_and_follows_the_json_rules() {
    let rt = runtime(None);
    let before = quiesce(&rt);
    let recording = rt.start_trace().unwrap();
    workload(&rt);
    let after = quiesce(&rt);
    let trace = recording.stop();
    assert_eq!(trace.dropped_events(), 0, "a large buffer drops nothing");

    let json = json_of(&trace);
    let tracks = tracks(&json);
    for name in ["worker 0", "worker 1", "blocking pool", "driver"] {
        assert!(
            tracks.contains_key(name),
            "no track named {name:?}: {tracks:?}"
        );
    }
    let lane: Vec<u64> = (0..WORKERS)
        .map(|i| tracks[&format!("worker {i}")])
        .collect();
    let worker_of = |tid: u64| lane.iter().position(|&l| l == tid);

    // Polls: one X event per poll on its worker's lane, with the task id.
    let mut polls_by_lane = vec![Vec::new(); WORKERS];
    let mut steal_ops = [0u64; WORKERS];
    let mut stolen = [0u64; WORKERS];
    let mut flows: HashMap<u64, FlowEnds> = HashMap::new();
    for e in events(&json) {
        let cat = e.str("cat");
        match (e.str("ph"), cat) {
            (Some("X"), Some("poll")) => {
                let w = worker_of(e.num("tid").unwrap() as u64).expect("a poll on a worker lane");
                let task = e.get("args").and_then(|a| a.num("task"));
                assert!(
                    task.is_some_and(|t| t >= 1.0),
                    "poll without args.task: {e:?}"
                );
                polls_by_lane[w].push((e.num("ts").unwrap(), e.num("dur").unwrap()));
            }
            (_, Some("steal")) => {
                let args = e.get("args").unwrap();
                let thief = args.num("thief").unwrap() as usize;
                assert_eq!(worker_of(e.num("tid").unwrap() as u64), Some(thief));
                assert!(args.num("victim").unwrap() as usize != thief);
                steal_ops[thief] += 1;
                stolen[thief] += args.num("count").unwrap() as u64;
            }
            (Some("s"), _) | (Some("f"), _) => {
                let id = e.num("id").unwrap() as u64;
                let at = (e.num("ts").unwrap(), e.num("tid").unwrap() as u64);
                let entry = flows.entry(id).or_default();
                if e.str("ph") == Some("s") {
                    assert!(entry.0.replace(at).is_none(), "two starts for flow {id}");
                } else {
                    assert_eq!(e.str("bp"), Some("e"));
                    assert!(entry.1.replace(at).is_none(), "two ends for flow {id}");
                }
            }
            _ => {}
        }
    }

    // Against the runtime's counters over the same window.
    for w in 0..WORKERS {
        let polls = after.polls[w] - before.polls[w];
        assert_eq!(polls_by_lane[w].len() as u64, polls, "worker {w}: polls");
        assert_eq!(
            steal_ops[w],
            after.steal_ops[w] - before.steal_ops[w],
            "worker {w}: steals"
        );
        assert_eq!(
            stolen[w],
            after.stolen[w] - before.stolen[w],
            "worker {w}: stolen"
        );
    }
    let total: u64 = polls_by_lane.iter().map(|p| p.len() as u64).sum();
    assert!(
        total >= TASKS * (YIELDS + 1),
        "every task polls at least {} times",
        YIELDS + 1
    );

    // No two polls overlap on a lane.
    for (w, polls) in polls_by_lane.iter_mut().enumerate() {
        polls.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        for pair in polls.windows(2) {
            let ((ts0, dur0), (ts1, _)) = (pair[0], pair[1]);
            assert!(dur0 >= 0.0);
            assert!(
                ns(ts0) + ns(dur0) <= ns(ts1),
                "worker {w}: polls overlap: {pair:?}"
            );
        }
    }

    // Every flow arrow has both ends and points forward; wakes and spawns
    // led to arrows.
    assert!(
        flows.len() as u64 >= TASKS,
        "at least one arrow per task (its spawn)"
    );
    for (id, ends) in &flows {
        let (Some((s, _)), Some((f, to))) = ends else {
            panic!("flow {id} lacks an end: {ends:?}");
        };
        assert!(ns(*f) >= ns(*s), "flow {id} points backward: {s} -> {f}");
        assert!(
            worker_of(*to).is_some(),
            "flow {id} ends off the worker lanes"
        );
    }

    // Spawns say by which task: the one spawner made all the workload's.
    let mut spawners: HashMap<u64, u64> = HashMap::new();
    for e in events(&json) {
        if e.str("cat") == Some("spawn") {
            if let Some(by) = e.get("args").and_then(|a| a.num("by_task")) {
                *spawners.entry(by as u64).or_default() += 1;
            }
        }
    }
    assert!(
        spawners.values().any(|&n| n == TASKS),
        "one task spawned {TASKS}: {spawners:?}"
    );

    // The summary agrees.
    let summary = trace.summary();
    for w in 0..WORKERS {
        assert_eq!(summary.polls(w), polls_by_lane[w].len() as u64);
        assert_eq!(summary.steals(w), steal_ops[w]);
        assert_eq!(summary.stolen_tasks(w), stolen[w]);
        assert!(summary.busy(w) <= summary.window());
        assert!(summary.parked(w) <= summary.window());
    }
    let (p50, p99, max) = (
        summary.wake_to_poll_p50().expect("wakes were recorded"),
        summary.wake_to_poll_p99().unwrap(),
        summary.wake_to_poll_max().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max);
    let text = summary.to_string();
    eprintln!("{text}");
    assert!(text.contains("wake to poll"), "{text}");
}

#[test]
fn tiny_buffer_drops_and_counts() {
    const CAP: usize = 16;
    let rt = runtime(Some(CAP));
    let before = quiesce(&rt);
    let recording = rt.start_trace().unwrap();
    workload(&rt);
    let after = quiesce(&rt);
    let trace = recording.stop();
    // Each poll is two events on its worker's lane; a lane keeps CAP.
    let lower: u64 = (0..WORKERS)
        .map(|w| (2 * (after.polls[w] - before.polls[w])).saturating_sub(CAP as u64))
        .sum();
    assert!(lower > 0);
    assert!(
        trace.dropped_events() >= lower,
        "dropped {} < {lower}, the events past the buffers",
        trace.dropped_events()
    );
    let summary = trace.summary();
    for w in 0..WORKERS {
        assert!(summary.polls(w) as usize <= CAP / 2);
    }
    // Still valid JSON.
    json_of(&trace);
}

#[test]
fn recordings_and_traces_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<weft::trace::Recording>();
    send_sync::<weft::trace::Trace>();
    send_sync::<weft::trace::Summary>();
    send_sync::<weft::trace::AlreadyTracing>();
    // And a recording may be stopped on another thread.
    let rt = runtime(Some(1024));
    let recording = rt.start_trace().unwrap();
    rt.block_on(async { weft::spawn(async {}).await.unwrap() });
    let trace = std::thread::spawn(move || recording.stop()).join().unwrap();
    assert_eq!(trace.dropped_events(), 0);
}

#[test]
fn one_recording_at_a_time() {
    let rt = runtime(Some(1024));
    let recording = rt.start_trace().unwrap();
    let err = rt.handle().start_trace().unwrap_err();
    assert!(err.to_string().contains("already recording"), "{err}");
    drop(recording); // stops and discards
    let again = rt
        .start_trace()
        .expect("a dropped recording frees the slot");
    rt.block_on(async { weft::spawn(async {}).await.unwrap() });
    let trace = again.stop();
    let polls: u64 = (0..WORKERS).map(|w| trace.summary().polls(w)).sum();
    assert!(polls >= 1);
    rt.start_trace()
        .expect("a stopped recording frees the slot")
        .stop();
}

#[test]
fn stop_after_the_runtime_is_gone_returns_what_was_kept() {
    let rt = runtime(Some(4096));
    let recording = rt.start_trace().unwrap();
    rt.block_on(async {
        for _ in 0..10 {
            weft::spawn(async { weft::task::yield_now().await })
                .await
                .unwrap();
        }
    });
    drop(rt);
    let trace = recording.stop();
    let polls: u64 = (0..WORKERS).map(|w| trace.summary().polls(w)).sum();
    assert!(polls >= 20, "kept {polls} polls");
    json_of(&trace);
}

#[test]
fn blocking_jobs_and_driver_turns_have_their_tracks() {
    let rt = runtime(None);
    let recording = rt.start_trace().unwrap();
    rt.block_on(async {
        // A blocking closure that spawns: the spawn is on the pool's track.
        let spawned = weft::spawn_blocking(|| weft::spawn(async { 7 }))
            .await
            .unwrap();
        assert_eq!(spawned.await.unwrap(), 7);
        // Two sleeps in a row: the turn that fires the first may have begun
        // before the recording and still be running at its end; the second
        // timer is fired by a later turn, so the first turn has ended (and
        // is recorded, cut at the window's start) by then.
        weft::spawn(async {
            weft::time::sleep(Duration::from_millis(2)).await;
            weft::time::sleep(Duration::from_millis(2)).await;
        })
        .await
        .unwrap();
    });
    let trace = recording.stop();
    let json = json_of(&trace);
    let tracks = tracks(&json);
    let on = |cat: &str| {
        events(&json)
            .iter()
            .filter(|e| e.str("cat") == Some(cat) && e.str("ph") == Some("X"))
            .map(|e| e.num("tid").unwrap() as u64)
            .collect::<Vec<_>>()
    };
    let jobs = on("blocking");
    assert_eq!(jobs, vec![tracks["blocking pool"]]);
    let pool_spawns = events(&json)
        .iter()
        .filter(|e| e.str("cat") == Some("spawn"))
        .filter(|e| e.num("tid") == Some(tracks["blocking pool"] as f64))
        .count();
    assert_eq!(pool_spawns, 1, "the spawn from the blocking closure");
    let turns = on("driver");
    assert!(!turns.is_empty(), "a sleep needs a driver turn");
    assert!(turns.iter().all(|&t| t == tracks["driver"]));
}

/// The cost measurement behind the numbers in the trace docs; run by hand:
/// `cargo test --release -p weft --test trace cost -- --ignored --nocapture`.
/// It prints ns per poll with and without a recording; it asserts only that
/// nothing was dropped (no timed assertions in tests).
#[test]
#[ignore = "a measurement, run by hand in release mode"]
fn cost_of_tracing_per_poll() {
    const TASKS: u64 = 8;
    const YIELDS: u64 = 100_000;
    // The bare executor (no I/O driver), so a yield costs no epoll call and
    // the recording's share of a poll shows.
    let rt = weft_executor::Builder::new()
        .worker_threads(1)
        .trace_buffer(4 << 20)
        .build()
        .unwrap();
    let run = || {
        let start = Instant::now();
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    weft_executor::Handle::current().spawn(async {
                        for _ in 0..YIELDS {
                            weft_executor::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        start.elapsed()
    };
    let polls = TASKS * (YIELDS + 1);
    for round in 0..3 {
        let untraced = run();
        let recording = rt.start_trace().unwrap();
        let traced = run();
        let trace = recording.stop();
        assert_eq!(trace.dropped_events(), 0);
        let per = |d: Duration| d.as_nanos() as f64 / polls as f64;
        println!(
            "round {round}: untraced {:.1} ns/poll, traced {:.1} ns/poll \
             (+{:.1} ns per poll, 3 events each: start, end, yield-wake)",
            per(untraced),
            per(traced),
            per(traced) - per(untraced)
        );
    }
}

#[test]
fn html_is_one_self_contained_file_with_every_poll() {
    let rt = runtime(None);
    let before = quiesce(&rt);
    let recording = rt.start_trace().unwrap();
    workload(&rt);
    let after = quiesce(&rt);
    let trace = recording.stop();
    let mut out = Vec::new();
    trace.write_html(&mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<svg"));
    for remote in [
        "http:",
        "https:",
        "src=",
        "@import",
        "fetch(",
        "XMLHttpRequest",
        "import(",
    ] {
        assert!(
            !html.contains(remote),
            "the HTML must not fetch anything ({remote})"
        );
    }
    // One inline script (zoom, and the drawn-elements count the browser
    // check reads), none loaded.
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(html.matches("<script>").count(), 1);
    assert!(html.contains("<p id=\"rendered\""));
    for lane in ["worker 0", "worker 1", "blocking pool", "driver"] {
        assert!(html.contains(&format!(">{lane}</text>")), "no lane {lane}");
    }
    let polls: u64 = (0..WORKERS).map(|w| after.polls[w] - before.polls[w]).sum();
    assert_eq!(html.matches("class=\"poll\"").count() as u64, polls);
    assert!(
        html.contains("class=\"park\""),
        "the workers parked in the window"
    );
    assert!(html.contains("class=\"wake\""), "wakes are drawn as arrows");
}

#[test]
fn a_long_poll_is_an_instant_on_its_workers_lane() {
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let seen_tx = std::sync::Mutex::new(seen_tx);
    let rt = Runtime::builder()
        .worker_threads(WORKERS)
        .on_long_poll(Duration::from_millis(20), move |stall| {
            let _ = seen_tx.lock().unwrap().send((stall.worker, stall.task_id));
        })
        .build()
        .unwrap();
    let recording = rt.start_trace().unwrap();
    let task = rt.spawn(async {
        // Blocking code in async code: what the monitor is there to see.
        std::thread::sleep(Duration::from_millis(200));
    });
    let (worker, id) = seen_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the monitor reports the stall");
    rt.block_on(task).unwrap();
    let trace = recording.stop();
    let json = json_of(&trace);
    let mut html = Vec::new();
    trace.write_html(&mut html).unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains(&format!("long poll: task {} still running", id.as_u64())),
        "the HTML marks the long poll on the lane"
    );
    let lane = tracks(&json)[&format!("worker {worker}")];
    let long_polls: Vec<_> = events(&json)
        .iter()
        .filter(|e| e.str("cat") == Some("long_poll"))
        .collect();
    assert_eq!(long_polls.len(), 1, "one stall, one event: {long_polls:?}");
    assert_eq!(long_polls[0].num("tid"), Some(lane as f64));
    let task = long_polls[0].get("args").and_then(|a| a.num("task"));
    assert_eq!(task, Some(id.as_u64() as f64));
}
