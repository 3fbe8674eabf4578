//! Aegra's vector core.
//!
//! The pure-Rust parts live in plain modules so `cargo test` exercises them without
//! a Python interpreter; `python/` (feature `python`) is the thin PyO3 layer that
//! maturin builds into `aegra._vec`.

pub mod batching;
pub mod build_info;
pub mod codes;
pub mod errors;
pub mod exact;
mod hugepages;
pub mod index;
pub mod kernels;
pub mod packing;
pub mod paths;
pub mod positions;
#[doc(hidden)]
pub mod testdata;
pub mod topk;

#[cfg(feature = "python")]
mod python;
