//! Models of the sleep protocol's bookkeeping (`scheduler/idle.rs`) and of
//! the last searcher's re-check (`notify_if_work_pending`, mod.rs).

use crate::scheduler::idle::Idle;
use crate::sync::Arc;
use crate::Builder;

/// `unpark_worker_by_id` racing `worker_to_notify`: worker 0 is parked and
/// leaves the sleeper list by itself (a driver wake put work in its queue,
/// see `park` in worker.rs) while a notifier picks a sleeper. Exactly one of
/// them takes worker 0 out; if the notifier did, it counted worker 0 as a
/// searcher, and worker 0 (finding work) is then the last searcher to stop.
/// The counts end where they began: nobody searching, everybody unparked.
///
/// Catches: moving the `fetch_add(1 | UNPARK_ONE)` in `worker_to_notify`
/// after the sleeper lock is released makes the "last searcher" assertion
/// fail (worker 0 stops searching before the notifier counted it).
#[test]
fn unpark_by_id_vs_worker_to_notify() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        // Worker 0 parks; worker 1 is busy.
        assert!(!idle.transition_worker_to_parked(0, false));
        let notifier = {
            let idle = idle.clone();
            loom::thread::spawn(move || idle.worker_to_notify())
        };
        // Worker 0, back from its parker with work in its queue.
        let searching = !idle.unpark_worker_by_id(0);
        if searching {
            // It found work: stop searching, as `run_task` does.
            assert!(
                idle.transition_worker_from_searching(),
                "worker 0 was counted as a searcher, so it is the last one"
            );
        }
        let notified = notifier.join().unwrap();
        assert_eq!(notified == Some(0), searching, "{notified:?}");
        assert!(notified.is_none() || notified == Some(0));
        assert_eq!(idle.num_searching_now(), 0);
        assert_eq!(idle.num_unparked_now(), 2);
        assert!(!idle.is_parked(0));
    });
}

/// `notify_if_work_pending` finding work in a peer's local queue: a task on
/// one worker spawns a child into its local queue (the LIFO slot is off)
/// and then blocks its worker until the child ran, so only the other worker
/// can run it. That worker may be the searcher at the moment of the push
/// (the spawner's `notify_parked` then wakes nobody), finish its scan
/// before the push, and park as the last searcher: its re-check after F2
/// must see the peer's local queue and wake somebody (itself).
///
/// This model found a bug: a worker refused the search (the peer was
/// searching) parked without a re-check; if the searcher then found the
/// spawning task and stopped before the refused worker counted itself
/// parked, nobody was woken for the child, and the spawner blocked forever
/// (with a task that hogs its worker rather than blocks, the child waited
/// as long). Now `park` re-checks for a refused worker too (worker.rs,
/// docs/scheduler.md case 3).
///
/// Catches: making `notify_if_work_pending` look at the injector only
/// (not at the workers' queues) makes loom report a deadlock; so does
/// removing the refused worker's re-check in `park` (worker.rs).
#[test]
fn last_searcher_sees_work_in_peer_local_queue() {
    loom::model(|| {
        let rt = Builder::new()
            .worker_threads(2)
            .disable_lifo_slot()
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        let h = rt.spawn(async move {
            let (tx, rx) = loom::sync::mpsc::channel();
            drop(handle.spawn(async move { tx.send(()).unwrap() }));
            // Blocks this worker: only the peer can run the child.
            rx.recv().unwrap();
        });
        rt.block_on(h).unwrap();
    });
}
