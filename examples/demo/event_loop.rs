//! Part 4, the event loop: what one turn does, counted live.
//!
//! An echo server and its client run as two tasks on ONE worker, talking
//! over 127.0.0.1. Whenever both are waiting, the worker turns the event
//! loop (`reactor/src/driver.rs`): check the timers for the nearest deadline,
//! wait in `epoll_wait` until then or until a socket is ready, then fire the
//! due timers and wake the tasks whose sockets are ready. The client reads
//! `rt.driver_stats()` between rounds, from the worker itself, so no turn is
//! in progress when it does and the deltas are exact.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};
use weft::DriverStats;

use super::ui::{self, thousands, Ui};
use super::Config;

/// What one round of the exchange cost the event loop.
#[derive(Default, Clone, Copy)]
struct Delta {
    turns: u64,
    timers: u64,
    events: u64,
    wakes: u64,
}

impl Delta {
    fn between(a: DriverStats, b: DriverStats) -> Delta {
        Delta {
            turns: b.turns - a.turns,
            timers: b.timers_fired - a.timers_fired,
            events: b.events - a.events,
            wakes: b.wakes - a.wakes,
        }
    }

    fn add(&mut self, other: Delta) {
        self.turns += other.turns;
        self.timers += other.timers;
        self.events += other.events;
        self.wakes += other.wakes;
    }
}

struct Round {
    delta: Delta,
    round_trip: Duration,
}

const MESSAGE: &[u8] = b"hello, event loop! (32 bytes...)";

async fn serve_one(listener: TcpListener) -> io::Result<u64> {
    let (mut stream, _) = listener.accept().await?;
    let mut buf = [0u8; 1024];
    let mut echoed = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(echoed);
        }
        stream.write_all(&buf[..n]).await?;
        echoed += n as u64;
    }
}

async fn client(
    rt: Arc<weft::Runtime>,
    addr: std::net::SocketAddr,
    rounds: usize,
    pause: Duration,
) -> io::Result<Vec<Round>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut echo = vec![0u8; MESSAGE.len()];
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let before = rt.driver_stats();
        weft::time::sleep(pause).await;
        let sent = Instant::now();
        stream.write_all(MESSAGE).await?;
        stream.read_exact(&mut echo).await?;
        let round_trip = sent.elapsed();
        assert_eq!(echo, MESSAGE, "the echo differs from what was sent");
        out.push(Round {
            delta: Delta::between(before, rt.driver_stats()),
            round_trip,
        });
    }
    stream.close().await?;
    Ok(out)
}

pub fn run(config: &Config, ui: &mut Ui<'_>) -> io::Result<()> {
    let rounds = config.echo_rounds;
    let pause = config.echo_pause;
    ui.line(ui.header("4. Event loop: one turn, counted live"))?;
    ui.progress("part 4: echo over 127.0.0.1...")?;

    let rt = Arc::new(super::runtime(1));
    let recording = super::start_trace(config, &rt);
    let busy_before = rt.metrics().worker_total_busy_duration(0);
    let started = Instant::now();
    let (results, echoed) = rt.block_on({
        let rt = rt.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = weft::spawn(serve_one(listener));
            let results = weft::spawn(client(rt, addr, rounds, pause))
                .await
                .map_err(io::Error::other)??;
            let echoed = server.await.map_err(io::Error::other)??;
            io::Result::Ok((results, echoed))
        }
    })?;
    let wall = started.elapsed();
    std::thread::sleep(Duration::from_millis(10)); // let the worker park
    let busy = rt.metrics().worker_total_busy_duration(0) - busy_before;
    super::write_trace(config, "event_loop", recording)?;
    let rt = Arc::into_inner(rt).expect("the client task let go of the runtime");
    drop(rt);

    ui.line("   An echo server and a client, two tasks on 1 worker, over 127.0.0.1.")?;
    ui.line(format!(
        "   Each round the client pauses {} (a timer), sends {} bytes and",
        ui::duration(pause),
        MESSAGE.len()
    ))?;
    ui.line("   waits for the echo. Counts: rt.driver_stats() before and after.")?;
    ui.blank()?;
    ui.line(format!(
        "   {:>5}  {:>5}  {:>12}  {:>10}  {:>11}  {:>10}",
        "round", "turns", "timers fired", "I/O events", "tasks woken", "round trip"
    ))?;
    let mut total = Delta::default();
    for (i, r) in results.iter().enumerate() {
        let d = r.delta;
        total.add(d);
        ui.line(format!(
            "   {:>5}  {:>5}  {:>12}  {:>10}  {:>11}  {:>10}",
            i + 1,
            d.turns,
            d.timers,
            d.events,
            d.wakes,
            ui::duration(r.round_trip)
        ))?;
    }
    ui.line(format!(
        "   {:>5}  {:>5}  {:>12}  {:>10}  {:>11}",
        "total",
        ui.num(&format!("{:>5}", total.turns)),
        ui.num(&format!("{:>12}", total.timers)),
        ui.num(&format!("{:>10}", total.events)),
        ui.num(&format!("{:>11}", total.wakes)),
    ))?;
    ui.blank()?;

    let per = |n: u64| n as f64 / rounds as f64;
    ui.line("   One turn of the loop (Driver::turn in reactor/src/driver.rs):")?;
    ui.line("     1. check timers  the nearest deadline bounds the wait; here, the")?;
    ui.line(format!(
        "                      end of the client's {} pause",
        ui::duration(pause)
    ))?;
    ui.line("     2. listen        epoll_wait: the worker sleeps in the kernel until")?;
    ui.line("                      that deadline, or until a socket is ready")?;
    ui.line(format!(
        "     3. handle        fire the due timers ({:.1} per round), then wake",
        per(total.timers)
    ))?;
    ui.line(format!(
        "                      the tasks behind ready sockets ({:.1} events and",
        per(total.events)
    ))?;
    ui.line(format!(
        "                      {:.1} wakes per round: a message makes the server's",
        per(total.wakes)
    ))?;
    ui.line("                      socket readable, its echo the client's)")?;
    ui.line(format!(
        "   {} turns in {} rounds; {} bytes echoed in all. The worker was busy",
        thousands(total.turns),
        rounds,
        thousands(echoed)
    ))?;
    ui.line(format!(
        "   {} of {}; the rest of the time it slept in epoll_wait.",
        ui.num(&ui::duration(busy)),
        ui::duration(wall)
    ))?;
    Ok(())
}
