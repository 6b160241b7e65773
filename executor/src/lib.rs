//! weft-executor
pub mod coop;
pub mod driver;
pub use driver::Driver;
