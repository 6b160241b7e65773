//! hyper 1.x on weft.
