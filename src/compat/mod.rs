//! Glue for libraries written against another runtime's traits.
//!
//! - [`hyper`] (cargo feature `hyper`): hyper 1.x's executor, timer and I/O
//!   traits on weft, as hyper-util's `TokioExecutor`, `TokioTimer` and
//!   `TokioIo` are for tokio.

pub mod hyper;
