//! The driver keeps turning while a task hogs a worker (tokio issue 4730):
//! when the worker that owned the driver leaves it to run tasks and stays
//! away, the driver monitor wakes a parked peer to take it over, so timers
//! and sockets of everybody else go on.
//!
//! The tests synchronise on events, not on durations: a task spins until
//! the timer or socket work beside it is done (or a cap of many seconds
//! runs out), and the test asserts that the work got done while it spun.
//! Without the hand-off nothing turns the driver during the spin, so the
//! spinner reaches its cap and the test fails; on a slow machine (valgrind,
//! busy cores) the tests only take longer.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::Runtime;

/// Spinning tasks compete for cores; run these tests one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a spinner waits for the event beside it before giving up. Only
/// a broken hand-off reaches it.
const CAP: Duration = Duration::from_secs(20);

/// Blocks the worker (never yields) until `done` is set; returns false if
/// [`CAP`] ran out first.
fn spin_until(done: &AtomicBool) -> bool {
    let end = Instant::now() + CAP;
    while !done.load(SeqCst) {
        if Instant::now() >= end {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// Two tasks park on timers first, so both workers go idle: one blocks in
/// the driver, the other on its condvar. The spinner's timer fires first, on
/// the driver owner, which then runs the spinner itself. Only if the driver
/// is handed to the idle peer does the sleeper's timer fire during the spin.
fn sleeper_fires_beside_a_spinner(spinner_sleep: Duration, sleeper_sleep: Duration) {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        let spinner = weft::spawn(async move {
            weft::time::sleep(spinner_sleep).await;
            spin_until(&f)
        });
        let sleeper = weft::spawn(async move {
            weft::time::sleep(sleeper_sleep).await;
            fired.store(true, SeqCst);
        });
        sleeper.await.unwrap();
        assert!(
            spinner.await.unwrap(),
            "the timer did not fire while another task spun for {CAP:?}"
        );
    });
}

#[test]
fn timer_fires_while_the_driver_owner_spins() {
    let _serial = serial();
    sleeper_fires_beside_a_spinner(Duration::from_millis(10), Duration::from_millis(40));
}

#[test]
fn hand_off_still_happens_after_a_long_idle() {
    let _serial = serial();
    // As above, but the runtime first idles for 150 ms: long enough for the
    // driver monitor to stop looking and sleep until a worker leaves the
    // driver (scheduler/monitor.rs). The spinner's wakeup must wake it.
    sleeper_fires_beside_a_spinner(Duration::from_millis(150), Duration::from_millis(180));
}

#[test]
fn timers_keep_firing_across_repeated_spins() {
    let _serial = serial();
    // The spinner keeps grabbing the worker that just served the driver;
    // each time, the driver must move to the other worker. Each spin lasts
    // until the next of our sleeps completed, which only a turning driver
    // can do.
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, p) = (stop.clone(), progress.clone());
        let spinner = weft::spawn(async move {
            while !s.load(SeqCst) {
                let seen = p.load(SeqCst);
                let end = Instant::now() + CAP;
                while p.load(SeqCst) == seen && !s.load(SeqCst) {
                    if Instant::now() >= end {
                        return false;
                    }
                    std::hint::spin_loop();
                }
                weft::time::sleep(Duration::from_millis(1)).await;
            }
            true
        });
        for _ in 0..20 {
            weft::time::sleep(Duration::from_millis(5)).await;
            progress.fetch_add(1, SeqCst);
        }
        stop.store(true, SeqCst);
        assert!(
            spinner.await.unwrap(),
            "a sleep did not complete while another task spun for {CAP:?}"
        );
    });
}

#[test]
fn socket_io_progresses_while_another_task_spins() {
    let _serial = serial();
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let l = weft::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4];
            for _ in 0..50 {
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
            }
        });
        let running = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let (r, d) = (running.clone(), done.clone());
        let spinner = weft::spawn(async move {
            r.store(true, SeqCst);
            spin_until(&d)
        });
        while !running.load(SeqCst) {
            std::thread::yield_now();
        }
        weft::spawn(async move {
            let mut c = weft::net::TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 4];
            for i in 0..50u32 {
                c.write_all(&i.to_le_bytes()).await.unwrap();
                c.read_exact(&mut buf).await.unwrap();
                assert_eq!(u32::from_le_bytes(buf), i);
            }
        })
        .await
        .unwrap();
        done.store(true, SeqCst);
        server.await.unwrap();
        assert!(
            spinner.await.unwrap(),
            "50 round trips did not finish while another task spun for {CAP:?}"
        );
    });
}
