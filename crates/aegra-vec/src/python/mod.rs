//! PyO3 bindings: the module `aegra._vec`. Keep this layer thin; logic lives in the
//! pure-Rust modules so it can be tested with `cargo test`.
//!
//! Callers go through `aegra.vec`, which hands over C-contiguous float32/int64 arrays; the
//! checks here are for shapes and types only. Every entry point runs its Rust work under
//! `catch_unwind`, so a bug surfaces as a `RuntimeError` instead of aborting the server.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::buffer::{Element, PyBuffer};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::build_info as info;
use crate::errors::{check_dims_positive, wrong_dims, VecError};
use crate::index::Metric;
use crate::{batching, codes, exact, kernels, packing, positions};

mod index;
mod paths;

/// Why a call into the core failed, carried out of `detach` without touching Python.
pub(crate) enum Fault {
    Invalid(VecError),
    Panic(String),
}

impl From<Fault> for PyErr {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Invalid(err) => PyValueError::new_err(err.0),
            Fault::Panic(message) => {
                PyRuntimeError::new_err(format!("aegra._vec internal error (panic): {message}"))
            }
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs core code, turning its errors and panics into a `Fault`.
pub(crate) fn guard<T>(work: impl FnOnce() -> Result<T, VecError>) -> Result<T, Fault> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Fault::Invalid(err)),
        Err(payload) => Err(Fault::Panic(panic_message(payload.as_ref()))),
    }
}

/// A C-contiguous buffer of `T` seen as a slice; valid while the GIL is held and `buffer` lives.
pub(crate) fn slice_of<T: Element>(buffer: &PyBuffer<T>) -> PyResult<&[T]> {
    if !buffer.is_c_contiguous() {
        return Err(PyTypeError::new_err("expected a C-contiguous array"));
    }
    // SAFETY: the buffer is C-contiguous with `item_count` items of T (PyBuffer checked the
    // format), and the exporter keeps the memory alive until `buffer` is released.
    Ok(unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const T, buffer.item_count()) })
}

/// The rows of a 2-D (or one 1-D) float32 array whose width must be `dims`.
pub(crate) fn matrix(buffer: &PyBuffer<f32>, dims: usize) -> PyResult<&[f32]> {
    let width = match buffer.shape() {
        [width] | [_, width] => *width,
        shape => {
            return Err(PyValueError::new_err(format!(
                "expected a 1-D or 2-D array of vectors, got {} dimensions",
                shape.len()
            )))
        }
    };
    if width != dims && buffer.item_count() > 0 {
        return Err(PyValueError::new_err(wrong_dims(dims, width).0));
    }
    slice_of(buffer)
}

/// Facts about this build, as a dict: version, profile, arch, the SIMD instruction sets the
/// kernels run with on this CPU (`simd`), the build's baseline (`compiled_simd`).
#[pyfunction]
fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let info = PyDict::new(py);
    info.set_item("version", info::VERSION)?;
    info.set_item("profile", info::PROFILE)?;
    info.set_item("arch", std::env::consts::ARCH)?;
    info.set_item("simd", info::simd_in_use())?;
    info.set_item("compiled_simd", info::target_features())?;
    info.set_item("kernel", kernels::active_simd())?;
    info.set_item("description", info::describe())?;
    Ok(info)
}

/// UTF-8 bytes of a str; lone surrogates (legal in Python strings) are kept via `surrogatepass`.
fn text_bytes(text: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let text = text.cast::<PyString>()?;
    match text.to_str() {
        Ok(utf8) => Ok(utf8.as_bytes().to_vec()),
        Err(_) => Ok(text
            .call_method1("encode", ("utf-8", "surrogatepass"))?
            .extract()?),
    }
}

/// `(first, inverse)`: where each distinct text first occurs, and each text's distinct index.
#[pyfunction]
fn dedupe_texts(texts: Vec<Bound<'_, PyAny>>) -> PyResult<(Vec<usize>, Vec<usize>)> {
    let keys = texts.iter().map(text_bytes).collect::<PyResult<Vec<_>>>()?;
    Ok(batching::dedupe(keys))
}

/// Embedder batches of text positions, shortest first, under a padded-character budget.
#[pyfunction]
fn length_batches(
    texts: Vec<Bound<'_, PyAny>>,
    budget: usize,
    max_batch: usize,
) -> PyResult<Vec<Vec<usize>>> {
    let lengths = texts
        .iter()
        .map(|text| Ok(batching::char_count(&text_bytes(text)?)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(guard(|| {
        batching::length_batches(&lengths, budget, max_batch)
    })?)
}

/// One little-endian float32 BLOB per row, normalized if asked; validated before any is built.
#[pyfunction]
fn pack_vectors<'py>(
    py: Python<'py>,
    vectors: PyBuffer<f32>,
    dims: usize,
    normalize: bool,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    guard(|| check_dims_positive(dims))?;
    let data = matrix(&vectors, dims)?;
    let norms = guard(|| packing::validate(data, dims))?;
    data.chunks_exact(dims)
        .zip(&norms)
        .map(|(row, &norm)| {
            PyBytes::new_with(py, dims * 4, |out| {
                packing::write_row(row, norm, normalize, out);
                Ok(())
            })
        })
        .collect()
}

/// Writes the L2-normalized rows of `vectors` into the same-shaped writable float32 `out`.
#[pyfunction]
fn normalize_into(
    py: Python<'_>,
    vectors: PyBuffer<f32>,
    out: PyBuffer<f32>,
    dims: usize,
) -> PyResult<()> {
    guard(|| check_dims_positive(dims))?;
    let data = matrix(&vectors, dims)?;
    if out.item_count() != data.len() || !out.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "out must be a C-contiguous float32 array of the input's shape",
        ));
    }
    let normalized = guard(|| {
        let norms = packing::validate(data, dims)?;
        Ok(packing::normalized(data, dims, &norms))
    })?;
    out.copy_from_slice(py, &normalized)
}

/// The code records of the rows of `vectors` (`16 + dims` bytes each; see `crate::codes`).
#[pyfunction]
fn encode_codes<'py>(
    py: Python<'py>,
    vectors: PyBuffer<f32>,
    dims: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    guard(|| check_dims_positive(dims))?;
    let data = matrix(&vectors, dims)?;
    let records = guard(|| codes::encode(data, dims))?;
    Ok(PyBytes::new(py, &records))
}

/// The exact top-k rows over the given vectors (vector `i` owned by `owners[i]`).
#[pyfunction]
fn exact_top_k(
    py: Python<'_>,
    query: PyBuffer<f32>,
    k: usize,
    owners: PyBuffer<i64>,
    vectors: PyBuffer<f32>,
    metric: &str,
) -> PyResult<Vec<(i64, f64)>> {
    let metric = guard(|| Metric::parse(metric))?;
    let query = slice_of(&query)?.to_vec();
    let owners = slice_of(&owners)?.to_vec();
    let data = matrix(&vectors, query.len())?.to_vec();
    Ok(py.detach(|| guard(|| exact::top_k(&query, k, &owners, &data, metric)))?)
}

/// The positions of `value` in a byte array, ascending, as little-endian int64 bytes.
#[pyfunction]
fn positions_of<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    value: u8,
) -> PyResult<Bound<'py, PyBytes>> {
    let found = positions::positions_of(slice_of(&data)?, value);
    le_bytes(py, &found, i64::to_le_bytes)
}

/// 8-byte values as one `bytes` of their little-endian forms.
pub(crate) fn le_bytes<'py, T: Copy>(
    py: Python<'py>,
    values: &[T],
    to_bytes: fn(T) -> [u8; 8],
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, values.len() * 8, |out| {
        for (chunk, value) in out.chunks_exact_mut(8).zip(values) {
            chunk.copy_from_slice(&to_bytes(*value));
        }
        Ok(())
    })
}

/// Reads a float32 array once (benchmarks: the memory-bandwidth floor of a scan).
#[pyfunction]
fn _read_all(data: PyBuffer<f32>) -> PyResult<f32> {
    Ok(kernels::read_all(slice_of(&data)?))
}

/// Panics on purpose (with the GIL released, as a search would): tests that it becomes an error.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>, message: String) -> PyResult<()> {
    Ok(py.detach(|| guard(|| -> Result<(), VecError> { panic!("{message}") }))?)
}

#[pymodule]
fn _vec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", info::VERSION)?;
    m.add_function(wrap_pyfunction!(build_info, m)?)?;
    m.add_function(wrap_pyfunction!(paths::tokenize_path, m)?)?;
    m.add_function(wrap_pyfunction!(paths::get_text_at_path, m)?)?;
    m.add_function(wrap_pyfunction!(dedupe_texts, m)?)?;
    m.add_function(wrap_pyfunction!(length_batches, m)?)?;
    m.add_function(wrap_pyfunction!(pack_vectors, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_into, m)?)?;
    m.add_function(wrap_pyfunction!(encode_codes, m)?)?;
    m.add_function(wrap_pyfunction!(exact_top_k, m)?)?;
    m.add_function(wrap_pyfunction!(positions_of, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_read_all, m)?)?;
    m.add_class::<index::PyVectorIndex>()?;
    Ok(())
}
