//! Aegra's vector core.
//!
//! The pure-Rust parts live in plain modules so `cargo test` exercises them without
//! a Python interpreter; `python.rs` (feature `python`) is the thin PyO3 layer that
//! maturin builds into `aegra._vec`.

pub mod build_info;

#[cfg(feature = "python")]
mod python;
