//! The in-memory KNN index: int8 codes of the vectors, grouped by namespace, all in one arena.
//!
//! A row (the store's item id) owns one or more vectors, all in its namespace's block. Grouping by
//! namespace makes a namespace-prefix filter a range lookup in a `BTreeMap` followed by a scan of
//! just the matching blocks; a candidate-id filter (rows that passed a value filter in SQL) scans
//! only those rows' vectors.
//!
//! The index keeps codes, not the float32 vectors (a quarter of the memory): a search is in two
//! steps. `candidates` scans the codes and returns the rows that may hold a top-k vector - a proof,
//! not a guess (`first_pass.rs`); the caller reads those rows' float32 vectors (the store, from
//! its file) and `exact::top_k` ranks them with the canonical kernel. The result is the exact
//! scan's, bit for bit. The index has no persistence: the store loads it from its code records.
//!
//! - `arena.rs`: the one buffer of codes, carved into extents;
//! - `blocks.rs`: which extents a namespace owns, inserting, removing, compacting;
//! - `first_pass.rs`: the scan of the codes and its bounds;
//! - `metric.rs`: the scores; `row_ids.rs`: the row table (id -> vectors) and its hasher.

use std::collections::BTreeMap;
use std::mem::size_of;
use std::sync::OnceLock;

use crate::codes::{self, Record};
use crate::errors::{check_dims_positive, VecError, VecResult};
use crate::packing;

mod arena;
mod blocks;
mod first_pass;
mod metric;
mod row_ids;

use arena::{Arena, Extent};
pub use metric::Metric;
use row_ids::{RowMap, RowTable};

/// One namespace: its extents of the arena (each using a prefix of its slots) and its vector count.
struct Block {
    namespace: Vec<String>,
    extents: Vec<Extent>,
    len: usize,
}

/// Where a row's vectors are: its block and its first slot; the slots of its other vectors (rows
/// with several embedded fields) are in `VectorIndex::more`. 16 bytes a row in the map, where a
/// `Vec` of slots cost about 70 with its allocation - a tenth of the codes at 384 dims.
#[derive(Clone, Copy, PartialEq)]
struct Row {
    /// The block's index; the top bit says whether `more` holds further slots.
    block: u32,
    first: u32,
}

const MORE: u32 = 1 << 31;

impl Row {
    /// No row (the row table's empty places): no block has index `!MORE` (`block_for`).
    const VACANT: Self = Self {
        block: u32::MAX,
        first: u32::MAX,
    };

    fn block(self) -> usize {
        (self.block & !MORE) as usize
    }

    fn has_more(self) -> bool {
        self.block & MORE != 0
    }
}

/// What a search scans: whole namespace blocks, or the slots of candidate rows.
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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SearchStats {
    /// Vectors selected by the filters (and scanned).
    pub selected: usize,
    /// Vectors the first pass could not rule out.
    pub survivors: usize,
    /// Every vector ruled out scores below this (-inf when none was).
    pub threshold: f64,
}

pub struct VectorIndex {
    dims: usize,
    arena: Arena,
    blocks: Vec<Block>,
    by_namespace: BTreeMap<Vec<String>, usize>,
    rows: RowTable<Row>,
    more: RowMap<Vec<u32>>,
    /// Never shrinks: sizes the first pass's threshold (see `first_pass.rs`).
    max_vectors_per_row: usize,
    /// The used slots of every block as merged runs, what a search of the whole index scans:
    /// made by the first such search, emptied by every change of an extent (`blocks.rs`).
    /// Sorting a million-vector load's 61k extents took ~2 ms of each search.
    all_runs: OnceLock<Vec<(usize, usize)>>,
}

impl VectorIndex {
    pub fn new(dims: usize) -> VecResult<Self> {
        check_dims_positive(dims)?;
        Ok(Self {
            dims,
            arena: Arena::new(dims),
            blocks: Vec::new(),
            by_namespace: BTreeMap::new(),
            rows: RowTable::new(Row::VACANT),
            more: RowMap::default(),
            max_vectors_per_row: 1,
            all_runs: OnceLock::new(),
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
        self.rows.contains(row_id)
    }

    /// Heap bytes held by codes, bounds, owners, norms and the row map (allocated capacity).
    pub fn memory_bytes(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                size_of::<Block>()
                    + b.extents.capacity() * size_of::<Extent>()
                    + 2 * b.namespace.iter().map(|s| s.capacity() + 24).sum::<usize>()
            })
            .sum();
        let more: usize = self.more.values().map(|s| s.capacity() * 4).sum();
        self.arena.heap_bytes()
            + blocks
            + more
            + self.rows.heap_bytes()
            + self.more.capacity() * (size_of::<(i64, Vec<u32>)>() + 1)
    }

    pub fn clear(&mut self) {
        *self = Self::new(self.dims).expect("dims were checked");
    }

    /// Room for `vectors` more vectors (and as many rows), allocated now: a load in chunks then
    /// grows nothing (each growth of a 400 MB arena copied it, and held both copies meanwhile).
    pub fn reserve(&mut self, vectors: usize) {
        self.arena.reserve(vectors);
        self.rows.reserve(vectors);
    }

    /// Room for a load of `counts[i]` vectors in `namespaces[i]`, one extent each: a load in
    /// chunks of ids (every namespace in every chunk) then lays each namespace out in one run,
    /// where it gave a namespace an extent per chunk (a 1% prefix of 1M vectors: ~600 runs of ~16
    /// slots, a scan waiting on DRAM at each). A namespace given too few slots (an item with two
    /// vectors) gets another extent for the rest, as before.
    pub fn reserve_namespaces(&mut self, namespaces: &[Vec<String>], counts: &[usize]) {
        self.reserve(counts.iter().sum());
        for (namespace, &count) in namespaces.iter().zip(counts) {
            if count > 0 {
                let block = self.block_for(namespace);
                self.make_room(block, count, true);
            }
        }
    }

    /// The codes' whole 2 MB pages (address, length): after a load (`reserve`, then writes on 4 KB
    /// pages), for `hugepages::promote`.
    pub fn huge_page_range(&self) -> Option<(usize, usize)> {
        self.arena.huge_page_range()
    }

    /// Replaces the vectors of `row_id` with those of its code `records` (none removes the row).
    pub fn upsert(&mut self, row_id: i64, namespace: &[String], records: &[u8]) -> VecResult<()> {
        let parsed = codes::parse(records, self.dims)?;
        self.remove_row(row_id);
        self.insert(row_id, namespace, &parsed);
        self.compact_if_sparse();
        Ok(())
    }

    /// Loads many code records at once: record `i` belongs to `row_ids[i]` in namespace
    /// `namespaces[namespace_ids[i]]`. Each row named gets exactly its vectors from this call.
    /// Nothing changes if any input is invalid.
    pub fn upsert_many(
        &mut self,
        row_ids: &[i64],
        namespace_ids: &[u32],
        namespaces: &[Vec<String>],
        records: &[u8],
    ) -> VecResult<()> {
        let parsed = codes::parse(records, self.dims)?;
        if row_ids.len() != parsed.len() || namespace_ids.len() != parsed.len() {
            return Err(VecError(format!(
                "got {} code records but {} row ids and {} namespace ids",
                parsed.len(),
                row_ids.len(),
                namespace_ids.len()
            )));
        }
        if let Some(&bad) = namespace_ids
            .iter()
            .find(|&&n| n as usize >= namespaces.len())
        {
            return Err(VecError(format!(
                "namespace id {bad} is out of range ({} namespaces)",
                namespaces.len()
            )));
        }
        // The batch's positions grouped by row id (a sort, not a map of vectors: a load names a
        // million rows), each row's records in batch order.
        let mut order: Vec<usize> = (0..row_ids.len()).collect();
        order.sort_by_key(|&i| row_ids[i]);
        let mut runs: Vec<(usize, usize)> = Vec::new(); // (start in `order`, length)
        for (position, &i) in order.iter().enumerate() {
            match runs.last_mut() {
                Some((start, len)) if row_ids[order[*start]] == row_ids[i] => {
                    if namespace_ids[order[*start]] != namespace_ids[i] {
                        return Err(VecError(format!(
                            "row {} has vectors in two namespaces",
                            row_ids[i]
                        )));
                    }
                    *len += 1;
                }
                _ => runs.push((position, 1)),
            }
        }
        if !self.rows.is_empty() {
            for &(start, _) in &runs {
                self.remove_row(row_ids[order[start]]);
            }
        }
        // Exact room up front, a block per namespace looked up once: growing by doubling would
        // leave up to half of a bulk load unused.
        let mut counts = vec![0usize; namespaces.len()];
        for &n in namespace_ids {
            counts[n as usize] += 1;
        }
        let mut blocks = vec![usize::MAX; namespaces.len()];
        let mut new_slots = 0;
        for (n, &count) in counts.iter().enumerate() {
            if count > 0 {
                blocks[n] = self.block_for(&namespaces[n]);
                if self.room(blocks[n]) < count {
                    new_slots += count; // room made by `reserve_namespaces` is used as it is
                }
            }
        }
        self.arena.reserve(new_slots);
        self.rows.reserve(runs.len());
        for (n, &count) in counts.iter().enumerate() {
            if count > 0 {
                self.make_room(blocks[n], count, true);
            }
        }
        let mut picked: Vec<Record<'_>> = Vec::new();
        for (start, len) in runs {
            let picks = &order[start..start + len];
            picked.clear();
            picked.extend(picks.iter().map(|&i| parsed[i]));
            let block = blocks[namespace_ids[picks[0]] as usize];
            self.insert_into(block, row_ids[picks[0]], &picked);
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

    /// The rows among those whose namespace starts with `prefix` (and, when given, whose id is in
    /// `candidates`) that may hold one of the `k` best rows' vectors, ascending: every row of the
    /// exact top-k is among them (see `first_pass.rs`).
    pub fn candidates(
        &self,
        query: &[f32],
        k: usize,
        prefix: &[String],
        candidates: Option<&[i64]>,
        metric: Metric,
    ) -> VecResult<(Vec<i64>, SearchStats)> {
        let (bounded, stats) = self.bounded_candidates(query, k, prefix, candidates, metric)?;
        let mut owners: Vec<i64> = bounded.iter().map(|&(owner, _)| owner).collect();
        owners.sort_unstable();
        Ok((owners, stats))
    }

    /// `candidates` with an upper bound of each row's score (its best vector's), best bound
    /// first (ties by id): a caller that checks a filter on the rows can stop once the k-th best
    /// passing score reaches the bound of the rows left (and the threshold).
    pub fn bounded_candidates(
        &self,
        query: &[f32],
        k: usize,
        prefix: &[String],
        candidates: Option<&[i64]>,
        metric: Metric,
    ) -> VecResult<(Vec<(i64, f64)>, SearchStats)> {
        let query_norm = packing::validate_query(query, self.dims)?;
        if k == 0 {
            let stats = SearchStats {
                threshold: f64::INFINITY,
                ..SearchStats::default()
            };
            return Ok((Vec::new(), stats));
        }
        let selection = match candidates {
            None => Selection::Blocks(self.blocks_under(prefix).collect()),
            Some(ids) => Selection::Slots(self.candidate_slots(prefix, ids)),
        };
        let capacity = k.saturating_mul(self.max_vectors_per_row);
        let (survivors, threshold) =
            self.first_pass(query, query_norm, &selection, metric, capacity);
        let stats = SearchStats {
            selected: selection.vector_count(),
            survivors: survivors.len(),
            threshold,
        };
        let mut owners: Vec<(i64, f64)> = survivors
            .iter()
            .map(|&(slot, hi)| (self.arena.owners[slot], hi))
            .collect();
        // A row once, with its highest bound (a NaN bound, never expected, counts as +inf).
        let high = |hi: f64| if hi.is_nan() { f64::INFINITY } else { hi };
        owners.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(high(b.1).total_cmp(&high(a.1))));
        owners.dedup_by_key(|entry| entry.0);
        owners.sort_by(|a, b| high(b.1).total_cmp(&high(a.1)).then(a.0.cmp(&b.0)));
        Ok((
            owners.into_iter().map(|(id, hi)| (id, high(hi))).collect(),
            stats,
        ))
    }
}

#[cfg(test)]
mod tests;
