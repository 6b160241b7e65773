//! weft-timer
