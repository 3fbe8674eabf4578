//! The one error type of the core: a message meant for the person who sent the bad input.
//!
//! The numpy twin raises `ValueError` with the very same texts (see `aegra/vec/_python/`), so the
//! property tests can compare messages as well as results.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecError(pub String);

impl fmt::Display for VecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VecError {}

pub type VecResult<T> = Result<T, VecError>;

pub fn wrong_dims(expected: usize, got: usize) -> VecError {
    VecError(format!(
        "expected vectors of {expected} dimensions, got {got}"
    ))
}

/// `nan`, `inf` and `-inf` spelled as Python prints them.
fn python_float_name(value: f32) -> &'static str {
    if value.is_nan() {
        "nan"
    } else if value > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// Which vector a message is about: `vector 3` of a batch, or `the query vector`.
pub fn vector_label(row: Option<usize>) -> String {
    match row {
        Some(row) => format!("vector {row}"),
        None => "the query vector".to_string(),
    }
}

pub fn non_finite(label: &str, position: usize, value: f32) -> VecError {
    VecError(format!(
        "{label} has a non-finite value ({}) at position {position}",
        python_float_name(value)
    ))
}

pub fn too_large(label: &str) -> VecError {
    VecError(format!(
        "{label} is too large: its squared norm overflows float32"
    ))
}

pub fn check_dims_positive(dims: usize) -> VecResult<()> {
    if dims == 0 {
        return Err(VecError(format!(
            "dims must be a positive integer, got {dims}"
        )));
    }
    Ok(())
}
