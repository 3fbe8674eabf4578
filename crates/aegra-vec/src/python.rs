//! PyO3 bindings: the module `aegra._vec`. Keep this layer thin; logic lives in the
//! pure-Rust modules so it can be tested with `cargo test`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::build_info as info;

/// Facts about this build, as a dict (version, profile, arch, simd features).
#[pyfunction]
fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let info = PyDict::new(py);
    info.set_item("version", info::VERSION)?;
    info.set_item("profile", info::PROFILE)?;
    info.set_item("arch", std::env::consts::ARCH)?;
    info.set_item("simd", info::target_features())?;
    info.set_item("description", info::describe())?;
    Ok(info)
}

#[pymodule]
fn _vec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", info::VERSION)?;
    m.add_function(wrap_pyfunction!(build_info, m)?)?;
    Ok(())
}
