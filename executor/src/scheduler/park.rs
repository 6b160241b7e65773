//! Parking a worker: on its own condvar, or inside the driver.
//!
//! Each worker has a `Parker` with a small state machine:
//!
//! ```text
//!   EMPTY --park--> PARKED_CONDVAR | PARKED_DRIVER --unpark--> NOTIFIED --park returns--> EMPTY
//!   EMPTY --unpark--> NOTIFIED  (the next park returns at once: no unpark is lost)
//! ```
//!
//! Driver ownership: at most one worker blocks in the driver (polling allows
//! only one waiter). `DriverSlot::try_lock` decides who; the others park on
//! their condvars. `unpark` reads which of the two the worker chose and wakes
//! it the right way: `Driver::unpark` (the reactor's wakeup: one eventfd
//! write) for the driver owner, the condvar for the rest.
//!
//! Panics: a driver turn runs foreign code (the wakers of every timer and
//! socket that fired, and the `Driver` itself), so it runs under
//! `catch_unwind` ([`DriverOwner::turn`]). A panic that escapes it is counted
//! (`RuntimeMetrics::driver_panic_count`; the panic hook has already printed
//! it, as std prints a thread's panic) and the worker goes on: before this,
//! it unwound the worker thread with the driver still locked, its parker
//! still "in the driver" and its index still in the sleeper list, and every
//! timer and socket of the runtime stalled. The lock is released by the
//! owner guard's `Drop` all the same, so no unwinding path can skip it
//! (STYLE.md item 8).

use super::monitor::Monitor;
use crate::sync::{AtomicBool, AtomicUsize, Condvar, Mutex};
use crate::Driver;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// The driver, and the flag that says a worker is inside it.
pub(crate) struct DriverSlot {
    driver: Box<dyn Driver>,
    owned: AtomicBool,
    /// How many times the driver was left; the monitor compares two reads
    /// to tell a turning driver from an abandoned one.
    turns: AtomicUsize,
    /// Watches that the driver keeps turning (see `monitor.rs`).
    monitor: Monitor,
    /// Panics caught around driver turns (see the module docs).
    panics: AtomicUsize,
}

/// Proof of owning the driver (from [`DriverSlot::try_own`]); dropping it
/// unlocks the slot, also while unwinding.
pub(crate) struct DriverOwner<'a>(&'a DriverSlot);

impl DriverOwner<'_> {
    /// One driver turn (see [`Driver::park`]), with any panic that escapes
    /// it contained and counted: the panic hook has printed it; the runtime
    /// goes on turning the driver.
    pub(crate) fn turn(&self, timeout: Option<Duration>) {
        let slot = self.0;
        let turned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::trace::driver_turn(&*slot.driver, timeout)
        }));
        if turned.is_err() {
            slot.count_panic();
        }
    }
}

impl Drop for DriverOwner<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl DriverSlot {
    pub(crate) fn new(driver: Box<dyn Driver>) -> DriverSlot {
        DriverSlot {
            driver,
            owned: AtomicBool::new(false),
            turns: AtomicUsize::new(0),
            monitor: Monitor::default(),
            panics: AtomicUsize::new(0),
        }
    }

    /// Takes the driver if nobody holds it; the returned owner unlocks it
    /// when dropped.
    pub(crate) fn try_own(&self) -> Option<DriverOwner<'_>> {
        // `then`, not `then_some`: an owner built eagerly and dropped on
        // failure would unlock the driver under its real owner.
        self.try_lock().then(|| DriverOwner(self))
    }

    /// Counts a panic that escaped the driver (a turn, or its shutdown).
    #[cold]
    pub(crate) fn count_panic(&self) {
        // Relaxed: a statistic; nothing is published through it.
        self.panics.fetch_add(1, Relaxed);
    }

    pub(crate) fn panic_count(&self) -> u64 {
        // Relaxed: see `count_panic`.
        self.panics.load(Relaxed) as u64
    }

    /// Acquire: pairs with `unlock`'s Release, so the new owner sees what
    /// the previous owner left in the driver's internal state.
    pub(crate) fn try_lock(&self) -> bool {
        self.owned
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
    }

    /// Leaves the driver, and tells the monitor (every unlock, whoever
    /// unlocks: a worker that leaves a blocking wait with nothing to do and
    /// a maintenance poll leave the driver too, and a peer may then stay
    /// away for long).
    pub(crate) fn unlock(&self) {
        // Only the owner writes `turns`, so a load and a store suffice.
        // Relaxed: the monitor only compares two reads; what it must not
        // miss is ordered by the fences M1/M2 (monitor.rs).
        self.turns
            .store(self.turns.load(Relaxed).wrapping_add(1), Relaxed);
        // Release: pairs with `try_lock`'s Acquire.
        self.owned.store(false, Release);
        // M1 is inside: orders the two stores above before its load of the
        // monitor's `deep` flag.
        self.monitor.driver_left();
    }

    pub(crate) fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    pub(crate) fn turns(&self) -> usize {
        // Relaxed: see `unlock`.
        self.turns.load(Relaxed)
    }

    pub(crate) fn is_locked(&self) -> bool {
        // Relaxed: for the hand-off and the monitor's looks it is a hint (a
        // stale answer costs one needless or late look). In the monitor's
        // deep-sleep check it is the load that fence M2 orders against M1
        // in `unlock` (monitor.rs): a fence pair needs no stronger load.
        self.owned.load(Relaxed)
    }

    pub(crate) fn driver(&self) -> &dyn Driver {
        &*self.driver
    }
}

pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Blocks until `unpark`: inside the driver if it is free, else on the
    /// condvar.
    pub(crate) fn park(&self, driver: Option<&DriverSlot>) {
        // Acquire: pairs with the Release in `unpark`, so what the unparker
        // did before (queue a task) is visible after we return.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
        if let Some(owner) = driver.and_then(DriverSlot::try_own) {
            self.park_driver(&owner, None);
            return;
        }
        self.park_condvar();
    }

    /// Runs one non-blocking driver turn if nobody else owns the driver
    /// (if somebody does, that owner is turning it: nothing is lost).
    pub(crate) fn poll_driver(&self, driver: Option<&DriverSlot>) {
        if let Some(owner) = driver.and_then(DriverSlot::try_own) {
            owner.turn(Some(Duration::ZERO));
        }
    }

    fn park_driver(&self, owner: &DriverOwner<'_>, timeout: Option<Duration>) {
        // AcqRel on success: Release publishes PARKED_DRIVER so an unparker
        // knows to call `Driver::unpark`; on failure Acquire pairs with
        // `unpark`'s Release.
        match self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, AcqRel, Acquire)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, Acquire);
                return;
            }
            Err(actual) => unreachable!("park_driver: state {actual}"),
        }
        let parked = crate::trace::parked(crate::trace::event::PARK_DRIVER);
        // Contains a panic, so the state below is always reset.
        owner.turn(timeout);
        drop(parked);
        // Acquire: pairs with `unpark`'s Release if it came during the wait.
        match self.state.swap(EMPTY, Acquire) {
            NOTIFIED | PARKED_DRIVER => {}
            actual => unreachable!("park_driver: state {actual} after wait"),
        }
    }

    fn park_condvar(&self) {
        let mut guard = self.mutex.lock();
        // The mutex is held from here until `wait` releases it, and
        // `unpark` takes it before notifying: so an unpark that sees
        // PARKED_CONDVAR cannot notify before we wait.
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, AcqRel, Acquire)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, Acquire);
                return;
            }
            Err(actual) => unreachable!("park_condvar: state {actual}"),
        }
        let _parked = crate::trace::parked(crate::trace::event::PARK_CONDVAR);
        loop {
            guard = self.condvar.wait(guard);
            // Acquire: pairs with `unpark`'s Release.
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
            // Spurious wakeup: wait again.
        }
    }

    pub(crate) fn unpark(&self, driver: Option<&DriverSlot>) {
        // Release: publishes the work queued before this call to the parked
        // worker (pairs with the Acquire on the park side); Acquire: reads
        // which way the worker parked.
        match self.state.swap(NOTIFIED, AcqRel) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders us after the parker's `wait` began.
                drop(self.mutex.lock());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => {
                if let Some(slot) = driver {
                    slot.driver().unpark();
                }
            }
            actual => unreachable!("unpark: state {actual}"),
        }
    }

    /// Whether the worker is blocked in its parker (on the condvar or in
    /// the driver). Relaxed: the monitor's deep-sleep check reads it after
    /// fence M2, which pairs with M3 after the worker leaves `park`
    /// (long_poll.rs); a fence pair needs no stronger load.
    pub(crate) fn is_parked(&self) -> bool {
        matches!(self.state.load(Relaxed), PARKED_CONDVAR | PARKED_DRIVER)
    }

    /// Whether the worker is blocked on its condvar (a candidate to take the
    /// driver over). Relaxed: a hint, see `DriverSlot::is_locked`.
    pub(crate) fn is_parked_on_condvar(&self) -> bool {
        self.state.load(Relaxed) == PARKED_CONDVAR
    }
}
