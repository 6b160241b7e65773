//! Tests of the timer as a whole: a real driver thread, many sleeps, the
//! futures' contracts, intervals and shutdown. The wheel's model test lives
//! next to the wheel (`wheel/tests.rs`), the loom models in `loom_tests.rs`.

pub(crate) mod support;

mod driver;
mod futures;
mod interval;
mod shutdown;
