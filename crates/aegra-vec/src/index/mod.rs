//! The in-memory KNN index: float32 vectors grouped by namespace, all in one arena.
//!
//! A row (the store's item id) owns one or more vectors, all in its namespace's block. Grouping by
//! namespace makes a namespace-prefix filter a range lookup in a `BTreeMap` followed by a scan of
//! just the matching blocks; a candidate-id filter (rows that passed a value filter in SQL) scores
//! only those rows' vectors. The index has no persistence: the store rebuilds it from the `.db`
//! file at start.
//!
//! - `arena.rs`: the one buffer of vectors (and their int8 codes), carved into extents;
//! - `blocks.rs`: which extents a namespace owns, inserting, removing, compacting;
//! - `exact_scan.rs`: scoring every selected vector with the canonical f32 kernel;
//! - `first_pass.rs`: the int8 pass that skips, provably, vectors that cannot make the top-k;
//! - `metric.rs`: the scores; `row_ids.rs`: the row map's hasher.

use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;

use crate::errors::{check_dims_positive, VecError, VecResult};
use crate::packing;
use crate::topk::TopK;

mod arena;
mod blocks;
mod exact_scan;
mod first_pass;
mod metric;
mod row_ids;

use arena::{Arena, Extent};
pub use metric::Metric;
use row_ids::RowMap;

/// Below this many selected vectors the exact scan is as fast as the first pass plus re-scoring.
pub const FIRST_PASS_MIN_VECTORS: usize = 4096;

/// The first pass pays only when it can skip most vectors: the selection must hold this many
/// times the top-k's capacity.
const FIRST_PASS_MIN_RATIO: usize = 16;

/// One namespace: its extents of the arena (each using a prefix of its slots) and its vector count.
struct Block {
    namespace: Vec<String>,
    extents: Vec<Extent>,
    len: usize,
}

struct Row {
    block: usize,
    slots: Vec<usize>,
}

/// What a search scores: whole namespace blocks, or the slots of candidate rows.
enum Selection<'a> {
    Blocks(Vec<&'a Block>),
    Slots(Vec<usize>),
}

impl Selection<'_> {
    fn vector_count(&self) -> usize {
        match self {
            Self::Blocks(blocks) => blocks.iter().map(|b| b.len).sum(),
            Self::Slots(slots) => slots.len(),
        }
    }
}

/// How the last search ran (for tests and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Vectors selected by the filters.
    pub selected: usize,
    /// Whether the int8 first pass ran.
    pub first_pass: bool,
    /// Vectors scored with the exact f32 kernel.
    pub rescored: usize,
}

pub struct VectorIndex {
    dims: usize,
    arena: Arena,
    blocks: Vec<Block>,
    by_namespace: BTreeMap<Vec<String>, usize>,
    rows: RowMap<Row>,
    /// Never shrinks: only sizes the top-k buffer (see `TopK`).
    max_vectors_per_row: usize,
    /// The int8 first pass runs from this many selected vectors on; None: never.
    first_pass_min_vectors: Option<usize>,
}

impl VectorIndex {
    pub fn new(dims: usize) -> VecResult<Self> {
        check_dims_positive(dims)?;
        Ok(Self {
            dims,
            arena: Arena::new(dims),
            blocks: Vec::new(),
            by_namespace: BTreeMap::new(),
            rows: RowMap::default(),
            max_vectors_per_row: 1,
            first_pass_min_vectors: Some(FIRST_PASS_MIN_VECTORS),
        })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Rows (items) held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn vector_count(&self) -> usize {
        self.blocks.iter().map(|b| b.len).sum()
    }

    pub fn contains(&self, row_id: i64) -> bool {
        self.rows.contains_key(&row_id)
    }

    /// From how many selected vectors on a search takes the int8 first pass (None: never; 0:
    /// always, even where it cannot pay - for tests). Results do not depend on it, only time.
    pub fn set_first_pass_min_vectors(&mut self, min_vectors: Option<usize>) {
        self.first_pass_min_vectors = min_vectors;
    }

    pub fn first_pass_min_vectors(&self) -> Option<usize> {
        self.first_pass_min_vectors
    }

    /// Heap bytes held by vectors, codes, owners, norms and the row map (allocated capacity).
    pub fn memory_bytes(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                b.extents.capacity() * size_of::<Extent>()
                    + b.namespace.iter().map(|s| s.capacity()).sum::<usize>()
            })
            .sum();
        let rows: usize = self
            .rows
            .values()
            .map(|r| r.slots.capacity() * size_of::<usize>())
            .sum();
        self.arena.heap_bytes()
            + blocks
            + rows
            + self.rows.capacity() * (size_of::<i64>() + size_of::<Row>() + 1)
    }

    pub fn clear(&mut self) {
        self.arena = Arena::new(self.dims);
        self.blocks.clear();
        self.by_namespace.clear();
        self.rows.clear();
        self.max_vectors_per_row = 1;
    }

    /// Replaces the vectors of `row_id` (a row-major `n x dims` matrix; `n = 0` removes the row).
    pub fn upsert(&mut self, row_id: i64, namespace: &[String], data: &[f32]) -> VecResult<()> {
        let norms = self.validate(data)?;
        self.remove_row(row_id);
        self.insert(row_id, namespace, data, &norms);
        self.compact_if_sparse();
        Ok(())
    }

    /// Loads many vectors at once: vector `i` belongs to `row_ids[i]` in `namespaces[i]`. Each row
    /// named gets exactly its vectors from this batch. Nothing changes if any input is invalid.
    pub fn upsert_many(
        &mut self,
        row_ids: &[i64],
        namespaces: &[Vec<String>],
        data: &[f32],
    ) -> VecResult<()> {
        let norms = self.validate(data)?;
        if row_ids.len() != norms.len() || namespaces.len() != norms.len() {
            return Err(VecError(format!(
                "got {} vectors but {} row ids and {} namespaces",
                norms.len(),
                row_ids.len(),
                namespaces.len()
            )));
        }
        // Row id -> the batch positions of its vectors, in order of first appearance.
        let mut order: Vec<i64> = Vec::new();
        let mut positions: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, &row_id) in row_ids.iter().enumerate() {
            let entry = positions.entry(row_id).or_insert_with(|| {
                order.push(row_id);
                Vec::new()
            });
            if let Some(&first) = entry.first() {
                if namespaces[first] != namespaces[i] {
                    return Err(VecError(format!(
                        "row {row_id} has vectors in two namespaces"
                    )));
                }
            }
            entry.push(i);
        }
        // Exact room up front: growing by doubling would leave up to half of a bulk load unused.
        // In namespace order, which is the scan's order: the arena is then read front to back.
        let mut added: BTreeMap<&[String], usize> = BTreeMap::new();
        for namespace in namespaces {
            *added.entry(namespace.as_slice()).or_default() += 1;
        }
        self.arena.reserve(namespaces.len());
        for (namespace, count) in added {
            let block_index = self.block_for(namespace);
            self.make_room(block_index, count);
        }
        let mut rows_data = Vec::new();
        let mut rows_norms = Vec::new();
        for row_id in order {
            let picks = &positions[&row_id];
            rows_data.clear();
            rows_norms.clear();
            for &i in picks {
                rows_data.extend_from_slice(&data[i * self.dims..(i + 1) * self.dims]);
                rows_norms.push(norms[i]);
            }
            self.remove_row(row_id);
            self.insert(row_id, &namespaces[picks[0]], &rows_data, &rows_norms);
        }
        self.compact_if_sparse();
        Ok(())
    }

    /// Removes a row and its vectors; false when it was not there.
    pub fn delete(&mut self, row_id: i64) -> bool {
        let found = self.remove_row(row_id);
        self.compact_if_sparse();
        found
    }

    /// Exact k nearest rows among those whose namespace starts with `prefix` (and, when given,
    /// whose id is in `candidates`), as (row id, score), best first, ties by row id.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        prefix: &[String],
        candidates: Option<&[i64]>,
        metric: Metric,
    ) -> VecResult<Vec<(i64, f64)>> {
        Ok(self
            .search_with_stats(query, k, prefix, candidates, metric)?
            .0)
    }

    /// `search`, and how it ran.
    pub fn search_with_stats(
        &self,
        query: &[f32],
        k: usize,
        prefix: &[String],
        candidates: Option<&[i64]>,
        metric: Metric,
    ) -> VecResult<(Vec<(i64, f64)>, SearchStats)> {
        let query_norm = packing::validate_query(query, self.dims)?;
        if k == 0 {
            return Ok((Vec::new(), SearchStats::default()));
        }
        let capacity = k.saturating_mul(self.max_vectors_per_row);
        let mut top = TopK::new(capacity);
        let selection = match candidates {
            None => Selection::Blocks(self.blocks_under(prefix).collect()),
            Some(ids) => Selection::Slots(self.candidate_slots(prefix, ids)),
        };
        let selected = selection.vector_count();
        let first_pass = metric != Metric::L2
            && self.first_pass_min_vectors.is_some_and(|min| {
                selected >= min && (min == 0 || selected / FIRST_PASS_MIN_RATIO >= capacity)
            });
        let rescored = if first_pass {
            self.first_pass_search(query, query_norm, &selection, metric, capacity, &mut top)
        } else {
            self.exact_scan(query, query_norm, &selection, metric, &mut top);
            selected
        };
        let stats = SearchStats {
            selected,
            first_pass,
            rescored,
        };
        Ok((top.finish(k), stats))
    }

    fn validate(&self, data: &[f32]) -> VecResult<Vec<f64>> {
        if data.len() % self.dims != 0 {
            return Err(VecError(format!(
                "{} floats do not make whole vectors of {} dimensions",
                data.len(),
                self.dims
            )));
        }
        packing::validate(data, self.dims)
    }
}

#[cfg(test)]
mod tests;
