//! `aegra._vec.VectorIndex`: the index of code records behind a lock, searched without the GIL.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::{guard, le_bytes, slice_of, Fault};
use crate::errors::VecError;
use crate::hugepages;
use crate::index::{Metric, SearchStats, VectorIndex};

type SearchStatsDict = HashMap<&'static str, f64>;

/// The KNN index of int8 codes (see `crate::index`); safe to share between threads, its first
/// pass runs without the GIL.
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

    /// Room for `vectors` more vectors, allocated now (before a load in chunks).
    fn reserve(&self, py: Python<'_>, vectors: usize) -> PyResult<()> {
        Ok(py.detach(|| {
            self.write(|index| {
                index.reserve(vectors);
                Ok(())
            })
        })?)
    }

    /// Room for a load of `counts[i]` vectors in `namespaces[i]`, each namespace in one run.
    fn reserve_namespaces(
        &self,
        py: Python<'_>,
        namespaces: Vec<Vec<String>>,
        counts: Vec<usize>,
    ) -> PyResult<()> {
        if namespaces.len() != counts.len() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "reserve_namespaces: one count per namespace",
            ));
        }
        Ok(py.detach(|| {
            self.write(|index| {
                index.reserve_namespaces(&namespaces, &counts);
                Ok(())
            })
        })?)
    }

    /// Asks for huge pages on the codes (the scan reads 4 KB pages ~1.6x slower, a TLB miss each);
    /// with `collapse`, the pages already written are moved to huge pages now (after a load, in a
    /// background thread: seconds of kernel time at worst). True when all of them were.
    fn huge_pages(&self, py: Python<'_>, collapse: bool) -> PyResult<bool> {
        // The range is read under the lock and advised without it: a write meanwhile is not held
        // back for seconds, and the advice never changes the contents (`hugepages::promote`).
        let range = self.read(|index| Ok(index.huge_page_range()))?;
        Ok(py.detach(|| {
            range.is_some_and(|(address, len)| hugepages::promote(address, len, collapse))
        }))
    }

    /// Sets the vectors of `row_id` from their code records (none removes the row).
    fn upsert(
        &self,
        py: Python<'_>,
        row_id: i64,
        namespace: Vec<String>,
        records: PyBuffer<u8>,
    ) -> PyResult<()> {
        // Copied under the GIL, applied without it (a search may hold the lock meanwhile).
        let data = slice_of(&records)?.to_vec();
        Ok(py.detach(|| self.write(|index| index.upsert(row_id, &namespace, &data)))?)
    }

    /// Bulk load: record `i` belongs to `row_ids[i]` in `namespaces[namespace_ids[i]]`.
    fn upsert_many(
        &self,
        py: Python<'_>,
        row_ids: PyBuffer<i64>,
        namespace_ids: PyBuffer<u32>,
        namespaces: Vec<Vec<String>>,
        records: PyBuffer<u8>,
    ) -> PyResult<()> {
        // Borrowed, not copied: a bulk load may be hundreds of MB, and a copy would be a transient
        // peak of that size. The caller's buffers live until this returns; the GIL is released,
        // so the caller must not mutate them meanwhile (aegra.vec passes fresh arrays).
        let ids = slice_of(&row_ids)?;
        let spaces = slice_of(&namespace_ids)?;
        let data = slice_of(&records)?;
        let (ids, spaces, data) = (Shared(ids), Shared(spaces), Shared(data));
        Ok(py.detach(|| {
            self.write(|index| index.upsert_many(ids.0, spaces.0, &namespaces, data.0))
        })?)
    }

    fn delete(&self, py: Python<'_>, row_id: i64) -> PyResult<bool> {
        Ok(py.detach(|| self.write(|index| Ok(index.delete(row_id))))?)
    }

    /// The rows that may hold a top-k vector (little-endian int64 bytes, ascending), and how the
    /// first pass ran: {"selected", "survivors", "threshold"} (every other row scores below it).
    #[pyo3(signature = (query, k, namespace_prefix, candidate_ids, metric))]
    fn candidates<'py>(
        &self,
        py: Python<'py>,
        query: PyBuffer<f32>,
        k: usize,
        namespace_prefix: Vec<String>,
        candidate_ids: Option<PyBuffer<i64>>,
        metric: &str,
    ) -> PyResult<(Bound<'py, PyBytes>, SearchStatsDict)> {
        let (rows, stats) =
            self.first_pass(py, query, k, namespace_prefix, candidate_ids, metric)?;
        let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        Ok((le_bytes(py, &ids, i64::to_le_bytes)?, stats_dict(&stats)))
    }

    /// `candidates` with an upper bound of each row's score, best bound first: (row ids as
    /// little-endian int64 bytes, bounds as little-endian float64 bytes, stats).
    #[pyo3(signature = (query, k, namespace_prefix, candidate_ids, metric))]
    fn bounded_candidates<'py>(
        &self,
        py: Python<'py>,
        query: PyBuffer<f32>,
        k: usize,
        namespace_prefix: Vec<String>,
        candidate_ids: Option<PyBuffer<i64>>,
        metric: &str,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, SearchStatsDict)> {
        let (rows, stats) =
            self.first_pass(py, query, k, namespace_prefix, candidate_ids, metric)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let highs: Vec<f64> = rows.iter().map(|r| r.1).collect();
        Ok((
            le_bytes(py, &ids, i64::to_le_bytes)?,
            le_bytes(py, &highs, f64::to_le_bytes)?,
            stats_dict(&stats),
        ))
    }
}

impl PyVectorIndex {
    /// `VectorIndex::bounded_candidates` on Python's arguments, without the GIL.
    fn first_pass(
        &self,
        py: Python<'_>,
        query: PyBuffer<f32>,
        k: usize,
        namespace_prefix: Vec<String>,
        candidate_ids: Option<PyBuffer<i64>>,
        metric: &str,
    ) -> PyResult<(Vec<(i64, f64)>, SearchStats)> {
        let metric = guard(|| Metric::parse(metric))?;
        let query = slice_of(&query)?.to_vec();
        let candidates = match &candidate_ids {
            Some(buffer) => Some(Shared(slice_of(buffer)?)),
            None => None,
        };
        Ok(py.detach(|| {
            self.read(|index| {
                let ids = candidates.map(|c| c.0);
                index.bounded_candidates(&query, k, &namespace_prefix, ids, metric)
            })
        })?)
    }
}

fn stats_dict(stats: &SearchStats) -> SearchStatsDict {
    HashMap::from([
        ("selected", stats.selected as f64),
        ("survivors", stats.survivors as f64),
        ("threshold", stats.threshold),
    ])
}

/// A borrowed slice sent into `py.detach`: the Python buffer it points into stays alive (its
/// `PyBuffer` is held by the caller's frame) for the whole call.
#[derive(Clone, Copy)]
struct Shared<'a, T>(&'a [T]);

// SAFETY: the data is only read, and the exporter keeps it alive and unmoved while the
// `PyBuffer` that produced the slice is held (for the whole method call).
unsafe impl<T> Send for Shared<'_, T> {}
unsafe impl<T> Sync for Shared<'_, T> {}
