//! `aegra._vec.VectorIndex`: the index behind a lock, searched without the GIL.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;

use super::{guard, matrix, slice_of, Fault};
use crate::errors::VecError;
use crate::index::{Metric, VectorIndex};

type SearchStatsDict = HashMap<&'static str, usize>;

/// The KNN index (see `crate::index`); safe to share between threads, searches run without the GIL.
#[pyclass(frozen, name = "VectorIndex", module = "aegra._vec")]
pub(super) struct PyVectorIndex {
    inner: RwLock<VectorIndex>,
}

impl PyVectorIndex {
    fn read<T>(&self, work: impl FnOnce(&VectorIndex) -> Result<T, VecError>) -> Result<T, Fault> {
        guard(|| work(&self.inner.read().unwrap_or_else(PoisonError::into_inner)))
    }

    fn write<T>(
        &self,
        work: impl FnOnce(&mut VectorIndex) -> Result<T, VecError>,
    ) -> Result<T, Fault> {
        guard(|| work(&mut self.inner.write().unwrap_or_else(PoisonError::into_inner)))
    }

    fn dims_now(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .dims()
    }
}

#[pymethods]
impl PyVectorIndex {
    #[new]
    fn new(dims: usize) -> PyResult<Self> {
        let index = guard(|| VectorIndex::new(dims))?;
        Ok(Self {
            inner: RwLock::new(index),
        })
    }

    #[getter]
    fn dims(&self) -> usize {
        self.dims_now()
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.read(|index| Ok(index.len()))?)
    }

    fn __contains__(&self, row_id: i64) -> PyResult<bool> {
        Ok(self.read(|index| Ok(index.contains(row_id)))?)
    }

    fn vector_count(&self) -> PyResult<usize> {
        Ok(self.read(|index| Ok(index.vector_count()))?)
    }

    fn memory_bytes(&self) -> PyResult<usize> {
        Ok(self.read(|index| Ok(index.memory_bytes()))?)
    }

    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.detach(|| {
            self.write(|index| {
                index.clear();
                Ok(())
            })
        })?)
    }

    fn upsert(
        &self,
        py: Python<'_>,
        row_id: i64,
        namespace: Vec<String>,
        vectors: PyBuffer<f32>,
    ) -> PyResult<()> {
        // Copied under the GIL, applied without it (a search may hold the lock meanwhile).
        let data = matrix(&vectors, self.dims_now())?.to_vec();
        Ok(py.detach(|| self.write(|index| index.upsert(row_id, &namespace, &data)))?)
    }

    fn upsert_many(
        &self,
        py: Python<'_>,
        row_ids: PyBuffer<i64>,
        namespaces: Vec<Vec<String>>,
        vectors: PyBuffer<f32>,
    ) -> PyResult<()> {
        let ids = slice_of(&row_ids)?.to_vec();
        let data = matrix(&vectors, self.dims_now())?.to_vec();
        Ok(py.detach(|| self.write(|index| index.upsert_many(&ids, &namespaces, &data)))?)
    }

    fn delete(&self, py: Python<'_>, row_id: i64) -> PyResult<bool> {
        Ok(py.detach(|| self.write(|index| Ok(index.delete(row_id))))?)
    }

    #[pyo3(signature = (query, k, namespace_prefix, candidate_ids, metric))]
    fn search(
        &self,
        py: Python<'_>,
        query: PyBuffer<f32>,
        k: usize,
        namespace_prefix: Vec<String>,
        candidate_ids: Option<PyBuffer<i64>>,
        metric: &str,
    ) -> PyResult<Vec<(i64, f64)>> {
        let (found, _) =
            self._search_stats(py, query, k, namespace_prefix, candidate_ids, metric)?;
        Ok(found)
    }

    /// `search`, and how it ran: (results, {"selected", "first_pass", "rescored"}).
    #[pyo3(signature = (query, k, namespace_prefix, candidate_ids, metric))]
    fn _search_stats(
        &self,
        py: Python<'_>,
        query: PyBuffer<f32>,
        k: usize,
        namespace_prefix: Vec<String>,
        candidate_ids: Option<PyBuffer<i64>>,
        metric: &str,
    ) -> PyResult<(Vec<(i64, f64)>, SearchStatsDict)> {
        let metric = guard(|| Metric::parse(metric))?;
        let query = slice_of(&query)?.to_vec();
        let candidates = match &candidate_ids {
            Some(buffer) => Some(slice_of(buffer)?.to_vec()),
            None => None,
        };
        let (found, stats) = py.detach(|| {
            self.read(|index| {
                index.search_with_stats(&query, k, &namespace_prefix, candidates.as_deref(), metric)
            })
        })?;
        let stats = HashMap::from([
            ("selected", stats.selected),
            ("first_pass", usize::from(stats.first_pass)),
            ("rescored", stats.rescored),
        ]);
        Ok((found, stats))
    }

    /// From how many selected vectors on searches take the int8 first pass (None: never, 0:
    /// always). Results are the same either way; for tests and benchmarks.
    #[pyo3(signature = (min_vectors))]
    fn _set_first_pass_min_vectors(
        &self,
        py: Python<'_>,
        min_vectors: Option<usize>,
    ) -> PyResult<()> {
        Ok(py.detach(|| {
            self.write(|index| {
                index.set_first_pass_min_vectors(min_vectors);
                Ok(())
            })
        })?)
    }

    fn _first_pass_min_vectors(&self) -> PyResult<Option<usize>> {
        Ok(self.read(|index| Ok(index.first_pass_min_vectors()))?)
    }
}
