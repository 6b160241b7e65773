//! The driver keeps turning while a task hogs a worker (tokio issue 4730):
//! when the worker that owned the driver leaves it to run tasks and stays
//! away, the driver monitor wakes a parked peer to take it over, so timers
//! and sockets of everybody else go on.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::Runtime;

/// These tests time a sleep beside a spinning task; run them one at a time
/// so that three spinners do not compete for two cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn spin_for(d: Duration, running: &AtomicBool) {
    running.store(true, SeqCst);
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

#[test]
fn timer_fires_while_the_driver_owner_spins() {
    let _serial = serial();
    // Both tasks park on timers first, so both workers go idle: one blocks
    // in the driver, the other on its condvar. The spinner's timer fires
    // first, on the driver owner, which then runs the spinner itself. Only
    // if the driver is handed to the idle peer does the second timer fire
    // on time.
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let spinner = weft::spawn(async {
            weft::time::sleep(Duration::from_millis(10)).await;
            spin_for(Duration::from_millis(1500), &AtomicBool::new(false));
        });
        let sleeper = weft::spawn(async move {
            weft::time::sleep(Duration::from_millis(40)).await;
            start.elapsed()
        });
        let took = sleeper.await.unwrap();
        assert!(took >= Duration::from_millis(40));
        // The monitor looks every millisecond; the margin is for a loaded
        // machine. Without any hand-off this takes the spinner's 1.5 s.
        assert!(
            took < Duration::from_millis(300),
            "40 ms sleep took {took:?} beside a spinning task"
        );
        spinner.await.unwrap();
    });
}

#[test]
fn hand_off_still_happens_after_a_long_idle() {
    let _serial = serial();
    // As above, but the runtime first idles for 150 ms: long enough for the
    // driver monitor to stop looking and sleep until a worker leaves the
    // driver (scheduler/monitor.rs). The spinner's wakeup must wake it.
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let spinner = weft::spawn(async {
            weft::time::sleep(Duration::from_millis(150)).await;
            spin_for(Duration::from_millis(1500), &AtomicBool::new(false));
        });
        let sleeper = weft::spawn(async move {
            weft::time::sleep(Duration::from_millis(180)).await;
            start.elapsed()
        });
        let took = sleeper.await.unwrap();
        assert!(took >= Duration::from_millis(180));
        assert!(
            took < Duration::from_millis(450),
            "180 ms sleep took {took:?} beside a spinning task"
        );
        spinner.await.unwrap();
    });
}

#[test]
fn timers_keep_firing_across_repeated_spins() {
    let _serial = serial();
    // The spinner keeps grabbing the worker that just served the driver;
    // each time, the driver must move to the other worker.
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let spinner = weft::spawn(async move {
            let flag = AtomicBool::new(false);
            while !s.load(SeqCst) {
                spin_for(Duration::from_millis(50), &flag);
                weft::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let start = Instant::now();
        for _ in 0..20 {
            weft::time::sleep(Duration::from_millis(5)).await;
        }
        let took = start.elapsed();
        stop.store(true, SeqCst);
        spinner.await.unwrap();
        assert!(
            took < Duration::from_secs(1),
            "20 x 5 ms sleeps took {took:?}"
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
        let r = running.clone();
        let spinner = weft::spawn(async move { spin_for(Duration::from_millis(1500), &r) });
        while !running.load(SeqCst) {
            std::thread::yield_now();
        }
        let start = Instant::now();
        let took = weft::spawn(async move {
            let mut c = weft::net::TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 4];
            for i in 0..50u32 {
                c.write_all(&i.to_le_bytes()).await.unwrap();
                c.read_exact(&mut buf).await.unwrap();
                assert_eq!(u32::from_le_bytes(buf), i);
            }
            start.elapsed()
        })
        .await
        .unwrap();
        assert!(
            took < Duration::from_millis(750),
            "50 round trips took {took:?} beside a spinning task"
        );
        server.await.unwrap();
        spinner.await.unwrap();
    });
}
