//! The reactor: one `polling::Poller`, the table of registered sources, and
//! the step that turns the poller's events into waker calls.
//!
//! # Why edge-triggered, registered once
//!
//! Every source is added to the poller exactly once, for both directions, in
//! [`PollMode::Edge`], and deleted once when its owner drops it. No syscall
//! re-arms interest on the hot path: the readiness an event brings is kept
//! in the source's readiness word ([`crate::readiness`]) until a task
//! consumes it. The alternative, oneshot mode, re-arms with one `epoll_ctl`
//! per wait and loses the "still ready" knowledge in between; measured under
//! hyper + wrk, async-io (oneshot) spends about 2.6 reads per HTTP request
//! (1.6 of them `EAGAIN`) and 0.9 `epoll_ctl` re-arms, and serves about two
//! thirds of tokio's (edge-triggered) requests per second, which spends about
//! one read and one write. Edge mode's one obligation, never waiting unless
//! the source is known drained (`EAGAIN`, a short write, or a TCP read the
//! kernel reports left nothing behind), is what the tick-checked clearing in
//! [`crate::source`] provides.
//!
//! # Lifetime of a registration
//!
//! 1. [`Reactor::register`] puts a fresh `Source` in the slab (under the
//!    registry lock, refusing if the driver already shut down), then adds
//!    the fd to the poller with the slab key;
//! 2. the driver's [`Reactor::dispatch`] looks each event's key up in the
//!    slab (stale generations are ignored) and marks the source ready;
//! 3. [`Registration::deregister`] deletes the fd from the poller, *then*
//!    removes the key from the slab; only after that may the owner close the
//!    fd (polling's contract for `add`, see the SAFETY comment there).
//!
//! Signals (`crate::signal`) ride on the same poller: a runtime's first
//! `signal()` registers its self-pipe under a reserved key, and
//! [`Reactor::dispatch`] hands that key's event to the signal listeners.
//!
//! Lock order: registry lock, then a source's waker lock. Wakers are always
//! called with no lock held, because waking may drop a task and with it an
//! `Async<T>`, which deregisters and takes the registry lock.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::task::Waker;

use polling::{Event, PollMode, Poller};

use crate::signal::driver::{RuntimeSignals, SIGNAL_KEY};
use crate::slab::{Key, Slab};
use crate::source::{shutdown_error, Source};
use crate::sync::{Arc, Mutex, OnceLock};

/// One readiness event, as [`Reactor::dispatch`] takes it: from polling's
/// `Poller::wait`, or from the driver's own epoll wait (`crate::epoll`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoEvent {
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// `EPOLLHUP` or `EPOLLERR` (polling: `is_interrupt`, `is_err`).
    pub(crate) closed: bool,
}

impl IoEvent {
    pub(crate) fn from_polling(event: polling::Event) -> IoEvent {
        IoEvent {
            key: event.key,
            readable: event.readable,
            writable: event.writable,
            closed: event.is_interrupt() || event.is_err() == Some(true),
        }
    }
}

/// The shared half of the I/O driver: the poller and the registered sources.
///
/// A runtime has one. It is reached through a [`Handle`] (to register
/// sources) and turned by the [`Driver`](crate::Driver) (to wait for and
/// dispatch events); it has no public constructor of its own.
pub struct Reactor {
    /// Declared before `wake`: dropped (and the epoll instance closed)
    /// before the wakeup's eventfd is.
    poller: Poller,
    /// The driver's wakeup, one `write` (Linux; see `crate::epoll`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    wake: crate::epoll::Wake,
    registry: Mutex<Registry>,
    /// The signal listeners, set up at the first `signal()` on this runtime.
    signals: OnceLock<RuntimeSignals>,
    /// Serialises setting `signals` up against shutdown (see `signals`).
    signals_setup: Mutex<()>,
}

#[derive(Debug, Default)]
struct Registry {
    slab: Slab,
    shut_down: bool,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let poller = Poller::new()?;
        if !poller.supports_edge() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "weft's reactor needs edge-triggered polling, which this OS backend lacks",
            ));
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let wake = crate::epoll::Wake::new(&poller)?;
        Ok(Reactor {
            poller,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            wake,
            registry: Mutex::new(Registry::default()),
            signals: OnceLock::new(),
            signals_setup: Mutex::new(()),
        })
    }

    /// Number of sources currently registered.
    pub fn source_count(&self) -> usize {
        self.registry.lock().slab.len()
    }

    /// Whether [`Driver::shutdown`](weft_executor::Driver::shutdown) ran.
    pub fn is_shut_down(&self) -> bool {
        self.registry.lock().shut_down
    }

    /// This runtime's signal listeners, set up (a self-pipe registered with
    /// the poller) at the first call.
    ///
    /// # Errors
    ///
    /// If the pipe cannot be created or registered; after shutdown.
    pub(crate) fn signals(&self) -> io::Result<&RuntimeSignals> {
        if let Some(signals) = self.signals.get() {
            return Ok(signals);
        }
        // Under the setup lock, which `shutdown` also takes after setting
        // `shut_down`: either we see the flag, or shutdown sees our
        // listeners and shuts them down. Never a set-up after shutdown.
        let _setup = self.signals_setup.lock();
        if let Some(signals) = self.signals.get() {
            return Ok(signals);
        }
        if self.is_shut_down() {
            return Err(shutdown_error());
        }
        let signals = RuntimeSignals::new(&self.poller)?;
        Ok(self.signals.get_or_init(|| signals))
    }

    /// The signal listeners, if `signals` set them up.
    pub(crate) fn signals_if_set(&self) -> Option<&RuntimeSignals> {
        self.signals.get()
    }

    pub(crate) fn poller(&self) -> &Poller {
        &self.poller
    }

    /// Wakes the thread blocked in the poller (or makes its next wait return
    /// at once).
    pub(crate) fn notify(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        self.wake.wake();
        // The only failure is a failed write to the poller's eventfd/pipe,
        // which cannot happen while the poller is alive (it is: `&self`).
        // If it ever did, the waiting thread would wake at its next event or
        // timeout, so ignoring it cannot deadlock the runtime.
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = self.poller.notify();
    }

    /// Registers `fd`, edge-triggered, for both directions.
    ///
    /// # Safety
    ///
    /// `fd` must stay open until [`Registration::deregister`] has been
    /// called for the returned registration (polling's contract for `add`).
    pub(crate) unsafe fn register(
        self: &Arc<Self>,
        fd: BorrowedFd<'_>,
    ) -> io::Result<Registration> {
        let source = Arc::new(Source::new());
        let key = {
            let mut registry = self.registry.lock();
            if registry.shut_down {
                return Err(shutdown_error());
            }
            registry.slab.insert(source.clone()).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    "weft reactor: too many registered I/O sources",
                )
            })?
        };
        // SAFETY: polling requires the fd to be deleted from this poller
        // before it is closed. Our caller promised (this fn's `# Safety`)
        // that `fd` stays open until `deregister` runs, and `deregister`
        // deletes it from the poller first thing. If `add` fails there is
        // nothing to delete.
        let added = unsafe {
            self.poller
                .add_with_mode(fd.as_raw_fd(), Event::all(key.raw()), PollMode::Edge)
        };
        if let Err(e) = added {
            self.registry.lock().slab.remove(key);
            return Err(e);
        }
        Ok(Registration {
            handle: Handle {
                reactor: self.clone(),
            },
            source,
            key,
        })
    }

    /// Marks the sources behind `events` ready and moves their wakers into
    /// `out` (the caller wakes them once it holds no lock). Returns the
    /// number of events that reached a live source.
    pub(crate) fn dispatch(
        &self,
        events: impl IntoIterator<Item = IoEvent>,
        out: &mut Vec<Waker>,
    ) -> usize {
        let registry = self.registry.lock();
        let mut delivered = 0;
        let mut signalled = false;
        for event in events {
            if event.key == SIGNAL_KEY {
                signalled = true;
                continue;
            }
            // A stale key (its source deregistered after the kernel queued
            // the event) finds nothing and the event is dropped.
            if let Some(source) = registry.slab.get(Key::from_raw(event.key)) {
                // EPOLLHUP and EPOLLERR count as both directions; remember
                // them too, see `State::clear_drained_if_tick`.
                source.set_ready(event.readable, event.writable, event.closed, out);
                delivered += 1;
            }
        }
        drop(registry);
        if signalled {
            if let Some(signals) = self.signals.get() {
                signals.on_event(out);
                delivered += 1;
            }
        }
        delivered
    }

    /// Marks every source shut down and wakes all their waiters; later
    /// registrations fail. Returns the number of wakers woken.
    pub(crate) fn shutdown(&self) -> usize {
        let mut wakers = Vec::new();
        {
            let mut registry = self.registry.lock();
            registry.shut_down = true;
            for source in registry.slab.iter() {
                source.shutdown(&mut wakers);
            }
        }
        {
            // After `shut_down` is set; see `signals`.
            let _setup = self.signals_setup.lock();
            if let Some(signals) = self.signals.get() {
                signals.shutdown(&self.poller, &mut wakers);
            }
        }
        let woken = wakers.len();
        wakers.into_iter().for_each(Waker::wake);
        woken
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        // A reactor dropped without shutdown still gives its signal pipe
        // back to the pool (deleting it from the poller first).
        if let Some(signals) = self.signals.get() {
            signals.release(&self.poller);
        }
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registry = self.registry.lock();
        f.debug_struct("Reactor")
            .field("sources", &registry.slab.len())
            .field("shut_down", &registry.shut_down)
            .finish_non_exhaustive()
    }
}

/// A cheap, cloneable reference to a runtime's [`Reactor`], used to
/// register I/O sources. `Clone + Send + Sync`.
///
/// Get one from [`Driver::handle`](crate::Driver::handle) or, on a runtime
/// thread, from [`context::try_current`](crate::context::try_current).
///
/// # Examples
///
/// ```no_run
/// # fn demo(handle: weft_reactor::Handle) -> std::io::Result<()> {
/// use weft_reactor::{context, Async};
///
/// // Make `handle` the current reactor of this thread, then register.
/// let _guard = context::enter(handle);
/// let socket = Async::new(std::net::UdpSocket::bind("127.0.0.1:0")?)?;
/// # let _ = socket; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Handle {
    reactor: Arc<Reactor>,
}

impl Handle {
    pub(crate) fn from_reactor(reactor: Arc<Reactor>) -> Handle {
        Handle { reactor }
    }

    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }

    /// The handle of this thread's current reactor.
    ///
    /// # Panics
    ///
    /// Panics if the thread has none; see [`context`](crate::context).
    pub fn current() -> Handle {
        crate::context::current()
    }

    /// Makes this the current reactor of the calling thread until the guard
    /// is dropped; see [`context::enter`](crate::context::enter).
    pub fn enter(&self) -> crate::context::EnterGuard {
        crate::context::enter(self.clone())
    }

    /// Number of sources currently registered with the reactor.
    pub fn source_count(&self) -> usize {
        self.reactor.source_count()
    }

    /// Whether both handles refer to the same reactor.
    pub fn ptr_eq(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.reactor, &other.reactor)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Handle").field(&*self.reactor).finish()
    }
}

/// A source's membership in the reactor: its key and shared state. Owned
/// by an `Async<T>`, which calls [`deregister`](Registration::deregister)
/// before it lets go of the fd.
#[derive(Debug)]
pub(crate) struct Registration {
    handle: Handle,
    source: Arc<Source>,
    key: Key,
}

impl Registration {
    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Deletes `fd` from the poller, then retires the key. Must run before
    /// `fd` is closed; `fd` must be the one passed to `register`.
    pub(crate) fn deregister(&self, fd: BorrowedFd<'_>) {
        let reactor = &self.handle.reactor;
        // The fd is still open (our caller's contract), so the only way
        // `delete` fails is a bug (ENOENT: never added). Nothing useful can
        // be done about it in a destructor; the slab entry goes regardless.
        let deleted = reactor.poller.delete(fd);
        debug_assert!(deleted.is_ok(), "poller.delete failed: {deleted:?}");
        reactor.registry.lock().slab.remove(self.key);
    }
}
