use super::Id;
use std::any::Any;
use std::fmt;
use std::sync::Mutex;

/// Why a task produced no output: it was cancelled, or it panicked.
///
/// Awaiting a [`JoinHandle`](super::JoinHandle) of a task that panicked gives
/// `Err(e)` with `e.is_panic()`, and [`into_panic`](JoinError::into_panic)
/// returns the payload, so it can be re-raised with
/// `std::panic::resume_unwind`. A task aborted through
/// [`JoinHandle::abort`](super::JoinHandle::abort), or dropped because the
/// runtime shut down, gives `e.is_cancelled()`.
pub struct JoinError {
    repr: Repr,
    id: Id,
}

/// Eight bytes: the panic payload's fat box is boxed once more, so that
/// `Repr` is one thin pointer (null for `Cancelled`) and `JoinError` is 16
/// bytes, cheap to move through every `Poll<Result<T, JoinError>>`. The
/// extra allocation is paid only on the panic path. (A task cell holds no
/// `JoinError`: its stage records only how the task ended, see `core.rs`.)
enum Repr {
    Cancelled,
    /// The Mutex only makes the payload `Sync` so that `JoinError` can be
    /// used as a `dyn Error + Send + Sync`; nothing contends on it.
    Panic(Box<Mutex<Box<dyn Any + Send + 'static>>>),
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
            id,
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            repr: Repr::Panic(Box::new(Mutex::new(payload))),
            id,
        }
    }

    /// True if the task was aborted or dropped by runtime shutdown.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// Panics if the error is not a panic; see [`try_into_panic`](Self::try_into_panic).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on an error that is not a panic")
    }

    /// The panic payload, or the error back if it is not a panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok((*p).into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = p.downcast_ref::<&'static str>() {
            Some((*s).to_owned())
        } else {
            p.downcast_ref::<String>().cloned()
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => write!(f, "task {} panicked with message {:?}", self.id, msg),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({:?})", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => write!(f, "JoinError::Panic({:?}, {:?}, ...)", self.id, msg),
                None => write!(f, "JoinError::Panic({:?}, ...)", self.id),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        let kind = if e.is_cancelled() {
            std::io::ErrorKind::Interrupted
        } else {
            std::io::ErrorKind::Other
        };
        std::io::Error::new(kind, e.to_string())
    }
}
