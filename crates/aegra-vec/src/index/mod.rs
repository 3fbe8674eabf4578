//! The in-memory KNN index: float32 vectors grouped by namespace, all in one arena.
//!
//! A row (the store's item id) owns one or more vectors, all in its namespace's block. Grouping by
//! namespace makes a namespace-prefix filter a range lookup in a `BTreeMap` followed by a scan of
//! just the matching blocks; a candidate-id filter (rows that passed a value filter in SQL) scores
//! only those rows' vectors. Deleting swaps the block's last vector into the hole, so blocks stay
//! dense. The index has no persistence: the store rebuilds it from the `.db` file at start.

use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;

use crate::errors::{check_dims_positive, VecError, VecResult};
use crate::kernels::{self, Kernel};
use crate::packing;
use crate::topk::TopK;

mod arena;

use arena::{Arena, Extent};

/// How a query and a vector are scored; higher is better, as LangGraph's stores report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity (0 when either side is the zero vector).
    Cosine,
    /// Minus the Euclidean distance (PostgresStore's `-(a <-> b)`).
    L2,
    /// The dot product (PostgresStore's `-(a <#> b)`).
    InnerProduct,
}

impl Metric {
    pub fn parse(name: &str) -> VecResult<Self> {
        match name {
            "cosine" => Ok(Self::Cosine),
            "l2" => Ok(Self::L2),
            "inner_product" => Ok(Self::InnerProduct),
            other => Err(VecError(format!(
                "unknown metric '{other}'; expected 'cosine', 'l2' or 'inner_product'"
            ))),
        }
    }

    fn kernel(self) -> Kernel {
        match self {
            Self::L2 => Kernel::SquaredL2,
            Self::Cosine | Self::InnerProduct => Kernel::Dot,
        }
    }

    /// The final score from the kernel's f32 output; the numpy twin does the same f64 steps.
    #[inline]
    fn score(self, raw: f32, query_norm: f64, vector_norm: f64) -> f64 {
        match self {
            Self::Cosine if query_norm == 0.0 || vector_norm == 0.0 => 0.0,
            Self::Cosine => raw as f64 / (query_norm * vector_norm),
            Self::L2 => -(raw.sqrt() as f64),
            Self::InnerProduct => raw as f64,
        }
    }
}

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

/// Vectors scanned per call of the SIMD kernel: the scores fit in L1 beside the query.
const SCAN_BLOCK: usize = 1024;

/// Candidate vectors prefetched ahead of the one being scored.
const PREFETCH_SLOTS: usize = 4;

pub struct VectorIndex {
    dims: usize,
    arena: Arena,
    blocks: Vec<Block>,
    by_namespace: BTreeMap<Vec<String>, usize>,
    rows: HashMap<i64, Row>,
    /// Never shrinks: only sizes the top-k buffer (see `TopK`).
    max_vectors_per_row: usize,
}

impl VectorIndex {
    pub fn new(dims: usize) -> VecResult<Self> {
        check_dims_positive(dims)?;
        Ok(Self {
            dims,
            arena: Arena::new(dims),
            blocks: Vec::new(),
            by_namespace: BTreeMap::new(),
            rows: HashMap::new(),
            max_vectors_per_row: 1,
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

    /// Heap bytes held by vectors, owners, norms and the row map (allocated capacity).
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

    fn remove_row(&mut self, row_id: i64) -> bool {
        let Some(mut row) = self.rows.remove(&row_id) else {
            return false;
        };
        // Highest slot first, so a swap never moves one of this row's own remaining vectors.
        row.slots.sort_unstable_by(|a, b| b.cmp(a));
        for slot in row.slots {
            self.remove_slot(row.block, slot);
        }
        true
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
        let query_norm = packing::validate_query(query, self.dims)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut top = TopK::new(k.saturating_mul(self.max_vectors_per_row));
        match candidates {
            None => self.scan_prefix(query, query_norm, prefix, metric, &mut top),
            Some(ids) => self.score_candidates(query, query_norm, prefix, ids, metric, &mut top),
        }
        Ok(top.finish(k))
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

    fn insert(&mut self, row_id: i64, namespace: &[String], data: &[f32], norms: &[f64]) {
        if norms.is_empty() {
            return;
        }
        let block_index = self.block_for(namespace);
        self.make_room(block_index, norms.len());
        let block = &mut self.blocks[block_index];
        let extent = block
            .extents
            .last_mut()
            .expect("make_room leaves an extent");
        let first = extent.start + extent.len;
        for (i, (vector, &norm)) in data.chunks_exact(self.dims).zip(norms).enumerate() {
            self.arena.write(first + i, vector, row_id, norm);
        }
        extent.len += norms.len();
        block.len += norms.len();
        self.max_vectors_per_row = self.max_vectors_per_row.max(norms.len());
        self.rows.insert(
            row_id,
            Row {
                block: block_index,
                slots: (first..first + norms.len()).collect(),
            },
        );
    }

    /// Ensures the block's last extent has `count` free slots, opening a new one if needed.
    fn make_room(&mut self, block_index: usize, count: usize) {
        let block = &mut self.blocks[block_index];
        if let Some(last) = block.extents.last_mut() {
            if last.cap - last.len >= count {
                return;
            }
            // New vectors go to the last extent only: its free slots become garbage.
            self.arena.release(last.cap - last.len);
            last.cap = last.len;
            if last.len == 0 {
                block.extents.pop();
            }
        }
        let extent = self.arena.allocate(block.len, count);
        block.extents.push(extent);
    }

    /// The block of `namespace`, created empty if needed.
    fn block_for(&mut self, namespace: &[String]) -> usize {
        if let Some(&index) = self.by_namespace.get(namespace) {
            return index;
        }
        self.blocks.push(Block {
            namespace: namespace.to_vec(),
            extents: Vec::new(),
            len: 0,
        });
        self.by_namespace
            .insert(namespace.to_vec(), self.blocks.len() - 1);
        self.blocks.len() - 1
    }

    /// Fills `slot` with the block's last vector and drops the last. A block's extents sit in
    /// rising arena order and use a prefix of their slots, so its last vector is the last used
    /// slot of its last non-empty extent (after it there may be one empty, reserved extent).
    fn remove_slot(&mut self, block_index: usize, slot: usize) {
        let block = &mut self.blocks[block_index];
        let position = block
            .extents
            .iter()
            .rposition(|e| e.len > 0)
            .expect("a block with vectors has a non-empty extent");
        let extent = &mut block.extents[position];
        let last = extent.start + extent.len - 1;
        if slot != last {
            let moved_owner = self.arena.owners[last];
            self.arena.copy_slot(last, slot);
            let moved = self
                .rows
                .get_mut(&moved_owner)
                .expect("every vector's owner is a live row");
            let position = moved
                .slots
                .iter()
                .position(|&s| s == last)
                .expect("the owner lists the moved slot");
            moved.slots[position] = slot;
        }
        extent.len -= 1;
        block.len -= 1;
        if extent.len == 0 {
            self.arena.release(extent.cap);
            block.extents.remove(position);
        }
    }

    /// Rewrites the arena without garbage once garbage passes half of it (amortized O(1)).
    fn compact_if_sparse(&mut self) {
        if !self.arena.needs_compaction() {
            return;
        }
        let lists: Vec<Vec<Extent>> = self.blocks.iter().map(|b| b.extents.clone()).collect();
        let (arena, moved) = self.arena.compacted(&lists);
        self.arena = arena;
        for (block, extents) in self.blocks.iter_mut().zip(moved) {
            block.extents = extents;
        }
        for row in self.rows.values_mut() {
            row.slots.clear();
        }
        for block in &self.blocks {
            for extent in &block.extents {
                let (_, owners, _) = self.arena.extent(extent);
                for (offset, owner) in owners.iter().enumerate() {
                    let row = self
                        .rows
                        .get_mut(owner)
                        .expect("every vector's owner is a live row");
                    row.slots.push(extent.start + offset);
                }
            }
        }
    }

    fn blocks_under<'a>(&'a self, prefix: &'a [String]) -> impl Iterator<Item = &'a Block> + 'a {
        self.by_namespace
            .range(prefix.to_vec()..)
            .take_while(move |(namespace, _)| namespace.starts_with(prefix))
            .map(move |(_, &index)| &self.blocks[index])
    }

    fn scan_prefix(
        &self,
        query: &[f32],
        query_norm: f64,
        prefix: &[String],
        metric: Metric,
        top: &mut TopK,
    ) {
        let kernel = metric.kernel();
        let mut raw = vec![0f32; SCAN_BLOCK];
        for block in self.blocks_under(prefix) {
            for extent in &block.extents {
                let (data, owners, norms) = self.arena.extent(extent);
                let chunks = data.chunks(SCAN_BLOCK * self.dims);
                for ((chunk, owners), norms) in chunks
                    .zip(owners.chunks(SCAN_BLOCK))
                    .zip(norms.chunks(SCAN_BLOCK))
                {
                    let raw = &mut raw[..owners.len()];
                    kernels::scan(kernel, query, chunk, raw);
                    for ((&value, &owner), &norm) in raw.iter().zip(owners).zip(norms) {
                        top.offer(metric.score(value, query_norm, norm), owner);
                    }
                }
            }
        }
    }

    fn score_candidates(
        &self,
        query: &[f32],
        query_norm: f64,
        prefix: &[String],
        candidates: &[i64],
        metric: Metric,
        top: &mut TopK,
    ) {
        let kernel = metric.kernel();
        // The prefix check once per namespace, not once per candidate.
        let mut block_matches: Vec<Option<bool>> = vec![None; self.blocks.len()];
        let mut slots: Vec<usize> = Vec::with_capacity(candidates.len());
        for row_id in candidates {
            let Some(row) = self.rows.get(row_id) else {
                continue;
            };
            let matches = *block_matches[row.block]
                .get_or_insert_with(|| self.blocks[row.block].namespace.starts_with(prefix));
            if matches {
                slots.extend_from_slice(&row.slots);
            }
        }
        // Arena order: the reads then run front to back instead of jumping at random (measured
        // 4x faster for 10% of 1M rows), and a repeated id cannot take two places in the top-k.
        slots.sort_unstable();
        slots.dedup();
        for (i, &slot) in slots.iter().enumerate() {
            if let Some(&ahead) = slots.get(i + PREFETCH_SLOTS) {
                kernels::prefetch(self.arena.vector(ahead));
            }
            let raw = kernels::pair(kernel, query, self.arena.vector(slot));
            top.offer(
                metric.score(raw, query_norm, self.arena.norms[slot]),
                self.arena.owners[slot],
            );
        }
    }
}

#[cfg(test)]
mod tests;
