//! The recording's raw events, before the writers shape them: the ordering
//! rules of the contract hold in what the hooks stamp, not only in what the
//! Chrome JSON shows.

use super::event::{Kind, TaskEnd};
use super::Trace;
use crate::task::yield_now;
use crate::Builder;
use std::collections::HashMap;

/// Every task's polls, from the raw per-worker events: (start, end, worker).
fn raw_polls(trace: &Trace) -> HashMap<u64, Vec<(u64, u64, usize)>> {
    let mut polls: HashMap<u64, Vec<(u64, u64, usize)>> = HashMap::new();
    for (lane, events) in trace.workers.iter().enumerate() {
        let mut open = None;
        for e in events {
            match e.kind {
                Kind::PollStart => {
                    assert!(open.is_none(), "worker {lane}: two polls open at once");
                    open = Some((e.task, e.ts));
                }
                Kind::PollEnd => {
                    let (task, start) = open.take().expect("a poll end without its start");
                    assert_eq!(task, e.task, "worker {lane}: a poll ended as another task");
                    polls.entry(task).or_default().push((start, e.ts, lane));
                }
                _ => {}
            }
        }
    }
    polls
}

/// A poll's end is stamped before the task is released: each task's next
/// poll (often on the other worker, after a steal or a wake from there)
/// starts at or after the previous one ended, with no cut needed.
#[test]
fn a_polls_end_is_stamped_before_the_task_is_released() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let recording = rt.start_trace().unwrap();
    let tasks: Vec<_> = (0..128)
        .map(|_| {
            rt.spawn(async {
                for _ in 0..50 {
                    yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    let trace = recording.stop();
    assert_eq!(trace.dropped_events(), 0);
    let polls = raw_polls(&trace);
    let mut checked = 0;
    for (task, mut spans) in polls {
        spans.sort_unstable();
        for pair in spans.windows(2) {
            let ((_, end, a), (start, _, b)) = (pair[0], pair[1]);
            assert!(
                end <= start,
                "task {task}: a poll on worker {b} starts at {start} ns, \
                 before its previous poll on worker {a} ended at {end} ns"
            );
            checked += 1;
        }
    }
    assert!(checked >= 128 * 50, "every yield was a new poll: {checked}");
}

/// Tasks cancelled by shutdown (off the workers, on the dropping thread) are
/// recorded as ended, on the "other threads" track.
#[test]
fn tasks_cancelled_at_shutdown_are_recorded() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let recording = rt.start_trace().unwrap();
    let pending: Vec<_> = (0..3)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    let ids: Vec<u64> = pending.iter().map(|h| h.id().as_u64()).collect();
    // Each has been polled once (so it is idle, not queued) before the drop.
    rt.block_on(async {
        for _ in 0..8 {
            yield_now().await;
        }
    });
    drop(rt);
    for h in pending {
        let err = futures_block_on(h).unwrap_err();
        assert!(err.is_cancelled());
    }
    let trace = recording.stop();
    let mut ended: Vec<u64> = trace
        .other
        .iter()
        .filter(|e| e.kind == Kind::TaskEnd && e.flag == TaskEnd::Cancelled as u8)
        .map(|e| e.task)
        .collect();
    ended.sort_unstable();
    let mut want = ids.clone();
    want.sort_unstable();
    assert_eq!(
        ended, want,
        "each cancelled task has its end on 'other threads'"
    );
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    // With one worker, "other threads" is track 3.
    for id in ids {
        assert!(
            json.lines()
                .any(|l| l.contains(r#""tid":3,"cat":"task","name":"cancelled""#)
                    && l.contains(&format!(r#""args":{{"task":{id}}}"#))),
            "the JSON shows task {id}'s end on 'other threads'"
        );
    }
}

/// A tiny block_on for a join handle after its runtime is gone.
fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(std::time::Duration::from_millis(10));
    }
    panic!("the join handle did not resolve after its runtime was dropped");
}
