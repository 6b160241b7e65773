//! The driver's wait, straight on the poller's epoll descriptor (Linux).
//!
//! `polling::Poller::wait` costs five syscalls on Linux, every time:
//! `timerfd_settime` and an `epoll_ctl` to arm its timerfd (even for no
//! timeout), the `epoll_pwait` itself, then a `read` of its eventfd and an
//! `epoll_ctl` to re-arm it (both registered one-shot). Under hyper + wrk a
//! worker blocks in the driver about once every nine requests (2 workers,
//! wrk -t1 -c64), so those four extra syscalls were 0.44 per request, where
//! tokio (mio) makes one `epoll_wait` per wait and nothing else
//! (docs/benchmarks.md, "Syscalls per request").
//!
//! Here a wait is one syscall: `epoll_pwait2` with a nanosecond timeout
//! (timers stay as precise as polling's timerfd made them), or
//! `epoll_wait` when the wait has no timeout or a zero one. Creating the
//! poller and registering sources (`add`, `delete`) remain polling's, and
//! so does all of it on other systems.
//!
//! Waking the waiting thread (`Reactor::notify`) does not go through
//! `Poller::notify` either: polling's notifier is an eventfd registered
//! one-shot, so every wakeup through it costs a `read` and an `epoll_ctl`
//! to re-arm, inside a `Poller::wait`. [`Wake`] is an eventfd of our own,
//! registered edge-triggered under [`WAKE_KEY`]: every `write` to it is a
//! new edge (the kernel's eventfd wakes its pollers on each write, and mio's
//! waker relies on the same), so a wakeup is one `write` and nothing on the
//! waiting side. Its counter is never read; a write that would overflow it
//! (after 2^64 - 2 wakeups) drains it first.
//!
//! polling's own two descriptors, its notifier and its timerfd, stay
//! registered one-shot under its reserved key [`POLLING_KEY`]. Nothing
//! writes the notifier now, but a timerfd armed by a fallback
//! `Poller::wait` (see below) may fire during a later wait here. When a
//! wait returns that key, the caller runs one `Poller::wait` with a zero
//! timeout: that drains and re-arms both, exactly as if polling had waited
//! all along (`tests::pollings_own_wakeup_is_handed_back`). Between the
//! two waits no event is lost: every other key's event was consumed by our
//! wait and is dispatched with the rest.
//!
//! `epoll_pwait2` needs Linux 5.11. Where it is missing (`ENOSYS`, or
//! `EPERM` from a seccomp filter that does not know it), a timed wait
//! answers [`Waited::UsePoller`] and the driver falls back on
//! `Poller::wait` for timed waits from then on; waits with no timeout or a
//! zero one still take the one-syscall path.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use polling::Poller;

use crate::reactor::IoEvent;

/// The key polling registers its notifier and timerfd under
/// (`polling::NOTIFY_KEY`, private to polling; a unit test below pins it).
pub(crate) const POLLING_KEY: u64 = usize::MAX as u64;

/// The key of [`Wake`]'s eventfd. Its low 24 bits (the slab's index field,
/// `crate::slab::INDEX_BITS`) are all ones, an index the slab never hands
/// out, and it differs from polling's key and from the signal pipe's
/// (`usize::MAX >> 1`).
pub(crate) const WAKE_KEY: usize = usize::MAX >> 2;

/// The driver's wakeup: an eventfd registered edge-triggered with the
/// poller (see the module docs).
#[derive(Debug)]
pub(crate) struct Wake {
    fd: std::os::fd::OwnedFd,
}

impl Wake {
    /// Creates the eventfd and registers it with `poller`. The caller must
    /// drop the poller no later than this (`Reactor` declares its poller
    /// first, so the epoll instance closes before the eventfd does).
    pub(crate) fn new(poller: &Poller) -> io::Result<Wake> {
        use rustix::event::{eventfd, EventfdFlags};
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        // SAFETY: polling's `add` contract: the fd stays open while it is
        // registered. It lives as long as `Wake`, whose owner drops the
        // poller (and with it every registration) first.
        unsafe {
            poller.add_with_mode(
                &fd,
                polling::Event::readable(WAKE_KEY),
                polling::PollMode::Edge,
            )?;
        }
        Ok(Wake { fd })
    }

    /// Wakes the thread waiting on the poller, or makes its next wait
    /// return at once: one `write`.
    pub(crate) fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // Counter full (2^64 - 2 wakeups): drain it and write again.
        // Nothing else can fail on a live eventfd; if it did, the waiter
        // would wake at its next event or timeout: late, not deadlocked.
        if let Err(rustix::io::Errno::AGAIN) = rustix::io::write(&self.fd, &one) {
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(&self.fd, &mut buf);
            let _ = rustix::io::write(&self.fd, &one);
        }
    }
}

/// Events one wait may return; more stay queued in the kernel for the next.
const CAPACITY: usize = 1024;

/// Set once `epoll_pwait2` was refused here (then timed waits use
/// `Poller::wait`). Relaxed everywhere: a cached fact about the kernel;
/// every thread that finds it out finds the same.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

/// Makes every timed wait answer [`Waited::UsePoller`] from now on, as on
/// a kernel without `epoll_pwait2`: for the tests of that fallback.
#[cfg(all(test, not(loom)))]
pub(crate) fn pretend_no_pwait2() {
    NO_PWAIT2.store(true, Relaxed);
}

/// What one wait did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The events are in the buffer; `polling_key` says whether polling's
    /// notifier or timerfd fired (the caller must then run a zero-timeout
    /// `Poller::wait`, see the module docs).
    Done { polling_key: bool },
    /// A timed wait, and no `epoll_pwait2` on this kernel: wait with
    /// `Poller::wait` instead (nothing was consumed).
    UsePoller,
}

/// The same mapping as polling's epoll backend: `IN`, `PRI`, `HUP` and
/// `ERR` read as readable; `OUT`, `HUP` and `ERR` as writable.
fn io_event(event: &libc::epoll_event) -> IoEvent {
    let flags = event.events as libc::c_int;
    let closed = flags & (libc::EPOLLHUP | libc::EPOLLERR) != 0;
    IoEvent {
        key: event.u64 as usize,
        readable: closed || flags & (libc::EPOLLIN | libc::EPOLLPRI) != 0,
        writable: closed || flags & libc::EPOLLOUT != 0,
        closed,
    }
}

/// The buffer one wait fills.
pub(crate) struct RawEvents {
    list: Vec<libc::epoll_event>,
}

impl RawEvents {
    pub(crate) fn new() -> RawEvents {
        RawEvents {
            list: Vec::with_capacity(CAPACITY),
        }
    }

    /// The events of the last wait, polling's key and the wakeup's left
    /// out.
    pub(crate) fn iter(&self) -> impl Iterator<Item = IoEvent> + '_ {
        self.list
            .iter()
            .filter(|e| e.u64 != POLLING_KEY && e.u64 != WAKE_KEY as u64)
            .map(io_event)
    }

    /// Waits on `poller`'s epoll descriptor for at most `timeout` (`None`:
    /// until an event). An interrupted wait (`EINTR`) returns with no
    /// events, which the caller treats like a spurious wakeup.
    pub(crate) fn wait(
        &mut self,
        poller: &Poller,
        timeout: Option<Duration>,
    ) -> io::Result<Waited> {
        self.list.clear();
        let epfd = poller.as_fd().as_raw_fd();
        let events = self.list.as_mut_ptr();
        let cap = self.list.capacity() as libc::c_int;
        let n = match timeout {
            None => {
                // SAFETY: `epfd` is the poller's live epoll descriptor
                // (borrowed from `poller` for the call); `events` points at
                // `cap` writable `epoll_event`s of our vector's spare
                // capacity, and the kernel writes at most `cap` of them.
                unsafe { libc::epoll_wait(epfd, events, cap, -1) }
            }
            Some(d) if d.is_zero() => {
                // SAFETY: as above.
                unsafe { libc::epoll_wait(epfd, events, cap, 0) }
            }
            Some(d) => {
                if NO_PWAIT2.load(Relaxed) {
                    return Ok(Waited::UsePoller);
                }
                let ts = libc::timespec {
                    // Saturates: a timeout of centuries is "no timeout" in
                    // all but name.
                    tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                    tv_nsec: d.subsec_nanos().into(),
                };
                // SAFETY: as above; `ts` is a valid timespec that the
                // kernel only reads; a null sigmask (with size 0) means
                // "do not change the signal mask".
                let rc = unsafe {
                    libc::syscall(
                        libc::SYS_epoll_pwait2,
                        epfd,
                        events,
                        cap,
                        &ts as *const libc::timespec,
                        std::ptr::null::<libc::sigset_t>(),
                        0usize,
                    )
                };
                if rc < 0
                    && matches!(
                        io::Error::last_os_error().raw_os_error(),
                        Some(libc::ENOSYS | libc::EPERM)
                    )
                {
                    NO_PWAIT2.store(true, Relaxed);
                    return Ok(Waited::UsePoller);
                }
                rc as libc::c_int
            }
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(Waited::Done { polling_key: false });
            }
            return Err(err);
        }
        // SAFETY: the kernel initialised the first `n` entries (n <= cap).
        unsafe { self.list.set_len(n as usize) };
        let polling_key = self.list.iter().any(|e| e.u64 == POLLING_KEY);
        Ok(Waited::Done { polling_key })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use polling::{Event, Events, PollMode};
    use std::os::unix::net::UnixStream;

    /// The hand-back rests on polling's reserved key; if a polling
    /// upgrade moves it, this fails before the driver loses a wakeup.
    #[test]
    fn pollings_own_wakeup_shows_up_under_its_key() {
        let poller = Poller::new().unwrap();
        let mut raw = RawEvents::new();
        poller.notify().unwrap();
        let waited = raw.wait(&poller, Some(Duration::from_secs(5))).unwrap();
        assert!(
            matches!(
                waited,
                Waited::Done { polling_key: true } | Waited::UsePoller
            ),
            "{waited:?}"
        );
    }

    #[test]
    fn pollings_own_wakeup_is_handed_back() {
        let poller = Poller::new().unwrap();
        let mut raw = RawEvents::new();
        let mut events = Events::new();
        for round in 0..3 {
            poller.notify().unwrap();
            assert_eq!(
                raw.wait(&poller, None).unwrap(),
                Waited::Done { polling_key: true },
                "round {round}"
            );
            assert_eq!(raw.iter().count(), 0, "polling's key is filtered out");
            // The hand-back the driver does: re-arms the notifier.
            poller.wait(&mut events, Some(Duration::ZERO)).unwrap();
        }
        // Nothing pending now: a zero wait returns nothing.
        assert_eq!(
            raw.wait(&poller, Some(Duration::ZERO)).unwrap(),
            Waited::Done { polling_key: false }
        );
    }

    #[test]
    fn every_wake_ends_one_wait_and_no_more() {
        let poller = Poller::new().unwrap();
        let wake = Wake::new(&poller).unwrap();
        let mut raw = RawEvents::new();
        for round in 0..5 {
            wake.wake();
            assert_eq!(
                raw.wait(&poller, None).unwrap(),
                Waited::Done { polling_key: false },
                "round {round}"
            );
            assert_eq!(raw.list.len(), 1, "round {round}: the wake's event");
            assert_eq!(raw.iter().count(), 0, "the wake's key is filtered out");
            // Edge-triggered and never read: nothing is left for the next
            // wait (which would otherwise spin).
            assert_eq!(
                raw.wait(&poller, Some(Duration::ZERO)).unwrap(),
                Waited::Done { polling_key: false }
            );
            assert!(raw.list.is_empty(), "round {round}: a stale wake");
        }
        // A wake before the wait is not lost either.
        wake.wake();
        wake.wake();
        raw.wait(&poller, None).unwrap();
        assert_eq!(raw.list.len(), 1);
    }

    #[test]
    fn socket_events_map_like_pollings() {
        let poller = Poller::new().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        // SAFETY: `a` outlives its registration (deleted below).
        unsafe { poller.add_with_mode(&a, Event::all(7), PollMode::Edge) }.unwrap();
        let mut raw = RawEvents::new();
        // Untimed: an event is certain (a fresh socket is writable), and a
        // timed wait may answer UsePoller (see `pretend_no_pwait2`).
        raw.wait(&poller, None).unwrap();
        let first: Vec<_> = raw.iter().collect();
        assert_eq!(first.len(), 1);
        assert!(first[0].writable && !first[0].readable && !first[0].closed);
        assert_eq!(first[0].key, 7);
        drop(b);
        raw.wait(&poller, None).unwrap();
        let closed: Vec<_> = raw.iter().collect();
        assert_eq!(closed.len(), 1);
        assert!(closed[0].readable && closed[0].closed, "{closed:?}");
        poller.delete(&a).unwrap();
    }

    #[test]
    fn a_timed_wait_times_out() {
        let poller = Poller::new().unwrap();
        let mut raw = RawEvents::new();
        let start = std::time::Instant::now();
        let waited = raw.wait(&poller, Some(Duration::from_millis(20))).unwrap();
        if waited != Waited::UsePoller {
            assert_eq!(waited, Waited::Done { polling_key: false });
            assert!(start.elapsed() >= Duration::from_millis(20));
        }
    }
}
