//! One registered source: its readiness word and its wakers.
//!
//! # The handoff protocol (why no wakeup is lost)
//!
//! The driver thread, for an event on direction `d` of a source:
//!
//! 1. **D1** updates the readiness word: sets `d`'s bit and bumps `d`'s tick
//!    (one atomic read-modify-write, [`State::with_event`]);
//! 2. **D2** locks the waker table, takes `d`'s wakers, unlocks;
//! 3. **D3** wakes them, outside every lock.
//!
//! A task polling direction `d`:
//!
//! 1. **T1** loads the word; if `d` is ready it goes ahead with its syscall;
//! 2. **T2** locks the waker table and stores its waker for `d`;
//! 3. **T3** still under the lock, loads the word again; if `d` is ready it
//!    goes ahead, otherwise it returns `Pending`.
//!
//! If D2 takes the lock before T2, then D1 happens-before T3 (D1 is
//! sequenced before D2's unlock, which synchronizes with T2's lock), so T3
//! sees the event. Otherwise T2 stored the waker before D2 looked, and D3
//! wakes it. Either way the task runs again.
//!
//! A task whose syscall returned `WouldBlock` (or that otherwise learnt the
//! direction is drained: a TCP read with nothing left queued, a short write)
//! clears `d`'s bit with a compare-and-swap that succeeds only if `d`'s tick
//! is still the one it saw in T1/T3 ([`State::clear_if_tick`]; the inferred
//! kind also yields to a reported hang-up, [`State::clear_drained_if_tick`]).
//! An event whose D1 landed after that observation changed the tick, so the
//! clear fails and the readiness the event brought is kept; the task's next
//! poll sees it at T1. The loom models in `crate::loom_tests` check exactly
//! this race.
//!
//! # Wakers
//!
//! Per direction there is one *direct* slot, used by the `poll_*` methods and
//! the `AsyncRead`/`AsyncWrite` impls (only the last task to poll is woken,
//! as with `futures_io` types in general), and a list of *waiters* for the
//! futures (`readable()`, `read_with`, `accept`, `recv_from`, ...), so that
//! any number of tasks may await the same source at once. A readable event
//! never touches the write side's wakers, and the other way round.
//!
//! # Size
//!
//! A server holds one `Source` per open connection, most of them idle, so
//! its size is memory per connection: 56 bytes, which with the `Arc`'s two
//! counts and malloc's header is an 80-byte chunk (it was 176 bytes, a
//! 192-byte chunk, before the waiter lists moved behind a pointer and the
//! words shrank to 32 bits; see the `source_is_small` test). The waiter
//! lists are allocated by the first future that waits (`readable()`,
//! `accept`, ...), never on the `poll_*`/`AsyncRead`/`AsyncWrite` path a
//! byte stream under hyper takes.

use std::io;
use std::task::{Context, Poll, Waker};

use crate::readiness::{Direction, State};
use crate::sync::{AcqRel, Acquire, AtomicU32, Mutex, Relaxed};

/// The error every operation on a source returns once the driver shut down.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("weft runtime shut down: its reactor no longer delivers I/O events")
}

/// What a task saw when it found a direction ready: the tick to hand back to
/// [`Source::clear_readiness`] if its syscall then says `WouldBlock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadyEvent {
    pub(crate) dir: Direction,
    pub(crate) tick: usize,
}

/// A registered source's shared state. The reactor's slab and the owning
/// `Async<T>` each hold an `Arc` of it.
#[derive(Debug)]
pub(crate) struct Source {
    /// The packed [`State`], which fits in 32 bits (`crate::readiness`).
    state: AtomicU32,
    /// Per direction (the read side in the low half), the last tick that
    /// `readable()`/`writable()` reported to a caller (`NOT_REPORTED` at
    /// first); see [`Source::mark_reported`]. Ticks have 14 bits, so a
    /// half never holds `NOT_REPORTED` by accident.
    reported: AtomicU32,
    wakers: Mutex<Wakers>,
}

/// Both halves of [`Source::reported`] at "nothing reported yet".
const NOT_REPORTED: u32 = u32::MAX;
/// Bits of one direction's half of [`Source::reported`].
const REPORTED_BITS: u32 = 16;
const REPORTED_HALF: u32 = (1 << REPORTED_BITS) - 1;

#[derive(Debug, Default)]
struct Wakers {
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The readiness futures' waiter lists, read side first; allocated by
    /// the first future that waits (see "Size" in the module docs).
    waiters: Option<Box<[WaiterList; 2]>>,
}

impl Wakers {
    fn direct(&mut self, dir: Direction) -> &mut Option<Waker> {
        match dir {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }

    /// The waiter list of `dir`, allocating both lists at the first call.
    fn waiters(&mut self, dir: Direction) -> &mut WaiterList {
        &mut self.waiters.get_or_insert_with(Box::default)[dir as usize]
    }

    /// Moves every waker of `dir` into `out`.
    fn take(&mut self, dir: Direction, out: &mut Vec<Waker>) {
        out.extend(self.direct(dir).take());
        if let Some(lists) = &mut self.waiters {
            lists[dir as usize].take_all(out);
        }
    }
}

/// Wakers of the futures waiting on one direction. A future keeps its index
/// from its first `Pending` until it is dropped, so re-registering costs no
/// allocation; a woken slot holds `None` until the future polls again.
#[derive(Debug, Default)]
struct WaiterList {
    slots: Vec<Option<Waker>>,
    /// Indices of `slots` no future owns.
    free: Vec<usize>,
}

impl WaiterList {
    fn store(&mut self, index: &mut Option<usize>, waker: &Waker) {
        let i = match *index {
            Some(i) => i,
            None => {
                let i = self.free.pop().unwrap_or_else(|| {
                    self.slots.push(None);
                    self.slots.len() - 1
                });
                *index = Some(i);
                i
            }
        };
        match &mut self.slots[i] {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    fn release(&mut self, index: usize) {
        self.slots[index] = None;
        self.free.push(index);
    }

    fn take_all(&mut self, out: &mut Vec<Waker>) {
        out.extend(self.slots.iter_mut().filter_map(Option::take));
    }
}

impl Source {
    pub(crate) fn new() -> Source {
        Source {
            state: AtomicU32::new(to_word(State::INITIAL)),
            reported: AtomicU32::new(NOT_REPORTED),
            wakers: Mutex::new(Wakers::default()),
        }
    }

    /// A snapshot of the readiness word.
    pub(crate) fn state(&self) -> State {
        // Acquire: pairs with the AcqRel updates in `set_ready`, `shutdown`
        // and `clear_readiness`. No other memory rides on the word; the
        // no-lost-wakeup argument (module docs) rests on the waker mutex.
        from_word(self.state.load(Acquire))
    }

    /// Polls `dir` through its direct waker slot (the `poll_*` methods and
    /// the `AsyncRead`/`AsyncWrite` impls).
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready_with(dir, |wakers| match wakers.direct(dir) {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        })
    }

    /// A waiter on `dir`, for a future that may share the source with other
    /// futures. Dropping it releases its waker slot.
    pub(crate) fn waiter(&self, dir: Direction) -> Waiter<'_> {
        Waiter {
            source: self,
            dir,
            index: None,
        }
    }

    /// T1..T3 of the protocol; `register` is T2.
    fn poll_ready_with(
        &self,
        dir: Direction,
        register: impl FnOnce(&mut Wakers),
    ) -> Poll<io::Result<ReadyEvent>> {
        // T1: the fast path, no lock.
        if let Some(ready) = Self::check(self.state(), dir) {
            return Poll::Ready(ready);
        }
        // T2: store the waker...
        let mut wakers = self.wakers.lock();
        register(&mut wakers);
        // T3: ...and look again while D2 cannot run.
        let ready = Self::check(self.state(), dir);
        drop(wakers);
        match ready {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    fn check(state: State, dir: Direction) -> Option<io::Result<ReadyEvent>> {
        if state.is_shutdown() {
            Some(Err(shutdown_error()))
        } else if state.is_ready(dir) {
            Some(Ok(ReadyEvent {
                dir,
                tick: state.tick(dir),
            }))
        } else {
            None
        }
    }

    /// After `WouldBlock`: clears the readiness `event` reported, unless a
    /// newer event arrived since (its tick changed). Returns whether the bit
    /// was cleared.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) -> bool {
        self.update_if(|state| state.clear_if_tick(event.dir, event.tick))
    }

    /// After an operation that implies the direction is drained (no
    /// `WouldBlock` seen): as [`clear_readiness`](Source::clear_readiness),
    /// but refused once the poller reported hang-up or an error, which the
    /// next operation must get to see (see [`crate::readiness`]).
    pub(crate) fn clear_drained(&self, event: ReadyEvent) -> bool {
        self.update_if(|state| state.clear_drained_if_tick(event.dir, event.tick))
    }

    fn update_if(&self, f: impl Fn(State) -> Option<State>) -> bool {
        self.state
            // AcqRel/Acquire: the same word as `state()`; the CAS orders this
            // clear against D1 of any racing event (modification order).
            .fetch_update(AcqRel, Acquire, |word| f(from_word(word)).map(to_word))
            .is_ok()
    }

    /// D1 and D2 for one event: marks the directions ready (and the source
    /// `CLOSED` if the event reported hang-up or an error) and moves their
    /// wakers into `out`. The caller wakes them (D3) after dropping its locks.
    pub(crate) fn set_ready(
        &self,
        readable: bool,
        writable: bool,
        closed: bool,
        out: &mut Vec<Waker>,
    ) {
        if !readable && !writable {
            return;
        }
        // D1. AcqRel: see `state()`.
        let _ = self.state.fetch_update(AcqRel, Acquire, |word| {
            let mut state = from_word(word);
            if closed {
                state = state.with_closed();
            }
            if readable {
                state = state.with_event(Direction::Read);
            }
            if writable {
                state = state.with_event(Direction::Write);
            }
            Some(to_word(state))
        });
        // D2.
        let mut wakers = self.wakers.lock();
        if readable {
            wakers.take(Direction::Read, out);
        }
        if writable {
            wakers.take(Direction::Write, out);
        }
    }

    /// Marks the source shut down and moves every waker into `out`: their
    /// next poll returns [`shutdown_error`]. Same shape as `set_ready`, so the
    /// same argument shows no waiter is missed.
    pub(crate) fn shutdown(&self, out: &mut Vec<Waker>) {
        // D1 of the shutdown. AcqRel: see `state()`.
        let _ = self.state.fetch_update(AcqRel, Acquire, |word| {
            Some(to_word(from_word(word).with_shutdown()))
        });
        let mut wakers = self.wakers.lock();
        wakers.take(Direction::Read, out);
        wakers.take(Direction::Write, out);
    }

    /// Records that `readable()`/`writable()` reported `event` to a caller;
    /// returns `false` if that very event had already been reported.
    ///
    /// Those futures hand readiness to code that does its own syscalls, so
    /// the reactor never learns whether the caller drained the source. Being
    /// asked again about an event already reported is the hint that it
    /// might have: the caller then checks the fd's real state (a zero-timeout
    /// `poll(2)`) instead of trusting the bit, which would either spin (bit
    /// kept) or hang (bit dropped while data remains, as edge-triggered
    /// polling reports no new edge for it).
    pub(crate) fn mark_reported(&self, event: ReadyEvent) -> bool {
        let shift = REPORTED_BITS * event.dir as u32;
        // Ticks have 14 bits (`crate::readiness`): the cast keeps them whole.
        let tick = event.tick as u32;
        // Relaxed: a hint only. A stale value costs one spurious `Ready` (the
        // caller's syscall then says `WouldBlock` and it asks again) or one
        // extra `poll(2)`; it never loses readiness. The other direction's
        // half is written back as it was read.
        let before = self
            .reported
            .fetch_update(Relaxed, Relaxed, |word| {
                Some((word & !(REPORTED_HALF << shift)) | (tick << shift))
            })
            .unwrap_or_else(|word| word);
        (before >> shift) & REPORTED_HALF != tick
    }
}

/// The state word as stored: [`State`] uses bits 0..=31 only (its
/// `masks_are_disjoint_and_fit_in_32_bits` test), so nothing is lost.
fn to_word(state: State) -> u32 {
    debug_assert!(u32::try_from(state.bits()).is_ok());
    state.bits() as u32
}

fn from_word(word: u32) -> State {
    State::from_bits(word as usize)
}

/// A registered interest of one future in one direction of a source; see
/// [`Source::waiter`].
#[derive(Debug)]
pub(crate) struct Waiter<'a> {
    source: &'a Source,
    dir: Direction,
    index: Option<usize>,
}

impl Waiter<'_> {
    /// T1..T3 of the protocol with this waiter's own slot.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        let (dir, index) = (self.dir, &mut self.index);
        self.source
            .poll_ready_with(dir, |wakers| wakers.waiters(dir).store(index, cx.waker()))
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.index.take() {
            // The lists exist: storing the waker that got us `i` made them.
            self.source.wakers.lock().waiters(self.dir).release(i);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::{Arc, AtomicUsize, SeqCst};
    use std::task::Wake;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counting() -> (Arc<CountingWaker>, Waker) {
        let c = Arc::new(CountingWaker::default());
        (c.clone(), Waker::from(c))
    }

    /// A waker that does nothing (`Waker::noop` is newer than our MSRV).
    fn noop() -> Waker {
        Waker::from(Arc::new(CountingWaker::default()))
    }

    fn wake_all(wakers: &mut Vec<Waker>) {
        wakers.drain(..).for_each(Waker::wake);
    }

    #[test]
    fn readable_event_wakes_only_readers() {
        let source = Source::new();
        let (reads, rw) = counting();
        let (writes, ww) = counting();
        let mut waiter = source.waiter(Direction::Write);
        assert!(source
            .poll_ready(Direction::Read, &mut Context::from_waker(&rw))
            .is_pending());
        assert!(waiter
            .poll_ready(&mut Context::from_waker(&ww))
            .is_pending());
        let mut out = Vec::new();
        source.set_ready(true, false, false, &mut out);
        wake_all(&mut out);
        assert_eq!(reads.0.load(SeqCst), 1);
        assert_eq!(writes.0.load(SeqCst), 0);
        source.set_ready(false, true, false, &mut out);
        wake_all(&mut out);
        assert_eq!(writes.0.load(SeqCst), 1);
    }

    #[test]
    fn stale_clear_keeps_newer_event() {
        let source = Source::new();
        let waker = noop();
        let mut cx = Context::from_waker(&waker);
        let mut out = Vec::new();
        source.set_ready(true, false, false, &mut out);
        let Poll::Ready(Ok(seen)) = source.poll_ready(Direction::Read, &mut cx) else {
            panic!("should be ready")
        };
        source.set_ready(true, false, false, &mut out);
        assert!(!source.clear_readiness(seen), "a newer event must survive");
        assert!(source.poll_ready(Direction::Read, &mut cx).is_ready());
        let Poll::Ready(Ok(now)) = source.poll_ready(Direction::Read, &mut cx) else {
            panic!("should be ready")
        };
        assert!(source.clear_readiness(now));
        assert!(source.poll_ready(Direction::Read, &mut cx).is_pending());
    }

    #[test]
    fn shutdown_wakes_everyone_with_an_error() {
        let source = Source::new();
        let (count, w) = counting();
        let mut cx = Context::from_waker(&w);
        let mut a = source.waiter(Direction::Read);
        let mut b = source.waiter(Direction::Read);
        assert!(a.poll_ready(&mut cx).is_pending());
        assert!(b.poll_ready(&mut cx).is_pending());
        assert!(source.poll_ready(Direction::Write, &mut cx).is_pending());
        let mut out = Vec::new();
        source.shutdown(&mut out);
        wake_all(&mut out);
        assert_eq!(count.0.load(SeqCst), 3);
        match a.poll_ready(&mut cx) {
            Poll::Ready(Err(e)) => assert!(e.to_string().contains("shut down")),
            other => panic!("expected the shutdown error, got {other:?}"),
        }
    }

    #[test]
    fn waiter_slots_are_reused() {
        let source = Source::new();
        let waker = noop();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..10 {
            let mut w = source.waiter(Direction::Read);
            assert!(w.poll_ready(&mut cx).is_pending());
        }
        assert_eq!(source.wakers.lock().waiters(Direction::Read).slots.len(), 1);
    }

    /// The memory a server pays per open connection (module docs, "Size").
    #[test]
    fn source_is_small() {
        assert!(
            std::mem::size_of::<Source>() <= 56,
            "Source grew to {} bytes; with the Arc's counts and malloc's \
             8-byte header it no longer fits an 80-byte chunk",
            std::mem::size_of::<Source>()
        );
        // The hyper path (direct slots only) never allocates the lists.
        let source = Source::new();
        let waker = noop();
        let mut cx = Context::from_waker(&waker);
        assert!(source.poll_ready(Direction::Read, &mut cx).is_pending());
        assert!(source.poll_ready(Direction::Write, &mut cx).is_pending());
        let mut out = Vec::new();
        source.set_ready(true, true, false, &mut out);
        assert!(source.wakers.lock().waiters.is_none());
    }

    #[test]
    fn reported_directions_are_independent() {
        let source = Source::new();
        let read = ReadyEvent {
            dir: Direction::Read,
            tick: 0,
        };
        let write = ReadyEvent {
            dir: Direction::Write,
            tick: 0,
        };
        assert!(source.mark_reported(read));
        assert!(source.mark_reported(write));
        assert!(!source.mark_reported(read));
        assert!(!source.mark_reported(write));
        let max = ReadyEvent {
            tick: (1 << 14) - 1,
            ..write
        };
        assert!(source.mark_reported(max));
        assert!(!source.mark_reported(read), "the read half kept its tick");
        assert!(!source.mark_reported(max));
    }

    #[test]
    fn reported_events_are_reported_once() {
        let source = Source::new();
        let ev = ReadyEvent {
            dir: Direction::Read,
            tick: 3,
        };
        assert!(source.mark_reported(ev));
        assert!(!source.mark_reported(ev));
        assert!(source.mark_reported(ReadyEvent { tick: 4, ..ev }));
    }
}
