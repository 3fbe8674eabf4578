//! Where each row's vectors go: one block (a list of arena extents) per namespace, kept dense.
//!
//! Deleting swaps the block's last vector into the hole; garbage left by released extents is
//! compacted away once it passes half of the arena.

use super::arena::Extent;
use super::{Block, Row, VectorIndex, MORE};
use crate::codes::Record;

impl VectorIndex {
    /// The slots of a row's vectors, first slot first.
    fn slots_of(&self, row_id: i64, row: Row) -> Vec<usize> {
        let mut slots = vec![row.first as usize];
        if row.has_more() {
            slots.extend(self.more[&row_id].iter().map(|&s| s as usize));
        }
        slots
    }

    pub(super) fn remove_row(&mut self, row_id: i64) -> bool {
        let Some(row) = self.rows.get(row_id) else {
            return false;
        };
        let mut slots = self.slots_of(row_id, row);
        self.rows.remove(row_id);
        self.more.remove(&row_id);
        // Highest slot first, so a swap never moves one of this row's own remaining vectors.
        slots.sort_unstable_by(|a, b| b.cmp(a));
        for slot in slots {
            self.remove_slot(row.block(), slot);
        }
        true
    }

    pub(super) fn insert(&mut self, row_id: i64, namespace: &[String], records: &[Record<'_>]) {
        if records.is_empty() {
            return;
        }
        let block_index = self.block_for(namespace);
        self.insert_into(block_index, row_id, records);
    }

    /// `insert` into a known block (made room for, when it is a bulk load).
    pub(super) fn insert_into(&mut self, block_index: usize, row_id: i64, records: &[Record<'_>]) {
        self.make_room(block_index, records.len(), false);
        self.all_runs.take();
        let block = &mut self.blocks[block_index];
        let extent = block
            .extents
            .last_mut()
            .expect("make_room leaves an extent");
        let first = extent.start + extent.len;
        for (i, record) in records.iter().enumerate() {
            self.arena.write(first + i, record, row_id);
        }
        extent.len += records.len();
        block.len += records.len();
        self.max_vectors_per_row = self.max_vectors_per_row.max(records.len());
        let mut block_bits = block_index as u32;
        if records.len() > 1 {
            block_bits |= MORE;
            let rest = (first + 1..first + records.len()).map(|s| s as u32);
            self.more.insert(row_id, rest.collect());
        }
        self.rows.insert(
            row_id,
            Row {
                block: block_bits,
                first: first as u32,
            },
        );
    }

    /// Free slots in the block's last extent (where its next vectors go).
    pub(super) fn room(&self, block_index: usize) -> usize {
        self.blocks[block_index]
            .extents
            .last()
            .map_or(0, |last| last.cap - last.len)
    }

    /// Ensures the block's last extent has `count` free slots, opening a new one if needed
    /// (of exactly `count` slots when `exact`, for a bulk load).
    pub(super) fn make_room(&mut self, block_index: usize, count: usize, exact: bool) {
        self.all_runs.take();
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
        let extent = self.arena.allocate(block.len, count, exact);
        block.extents.push(extent);
    }

    /// The block of `namespace`, created empty if needed.
    pub(super) fn block_for(&mut self, namespace: &[String]) -> usize {
        if let Some(&index) = self.by_namespace.get(namespace) {
            return index;
        }
        assert!(self.blocks.len() < MORE as usize, "too many namespaces");
        self.blocks.push(Block {
            namespace: namespace.to_vec(),
            extents: Vec::new(),
            len: 0,
        });
        self.by_namespace
            .insert(namespace.to_vec(), self.blocks.len() - 1);
        self.blocks.len() - 1
    }

    /// Points the row owning slot `from` at slot `to` instead.
    fn move_owner_slot(&mut self, owner: i64, from: usize, to: usize) {
        let row = self
            .rows
            .get_mut(owner)
            .expect("every vector's owner is a live row");
        if row.first as usize == from {
            row.first = to as u32;
            return;
        }
        let more = self
            .more
            .get_mut(&owner)
            .expect("the owner lists the moved slot");
        let position = more
            .iter()
            .position(|&s| s as usize == from)
            .expect("the owner lists the moved slot");
        more[position] = to as u32;
    }

    /// Fills `slot` with the block's last vector and drops the last. A block's extents sit in
    /// rising arena order and use a prefix of their slots, so its last vector is the last used
    /// slot of its last non-empty extent (after it there may be one empty, reserved extent).
    fn remove_slot(&mut self, block_index: usize, slot: usize) {
        self.all_runs.take();
        let block = &mut self.blocks[block_index];
        let position = block
            .extents
            .iter()
            .rposition(|e| e.len > 0)
            .expect("a block with vectors has a non-empty extent");
        let extent = &mut block.extents[position];
        let last = extent.start + extent.len - 1;
        extent.len -= 1;
        block.len -= 1;
        if extent.len == 0 {
            self.arena.release(extent.cap);
            block.extents.remove(position);
        }
        if slot != last {
            let moved_owner = self.arena.owners[last];
            self.arena.copy_slot(last, slot);
            self.move_owner_slot(moved_owner, last, slot);
        }
    }

    /// Rewrites the arena without garbage once garbage passes half of it (amortized O(1)).
    pub(super) fn compact_if_sparse(&mut self) {
        if !self.arena.needs_compaction() {
            return;
        }
        self.all_runs.take();
        let lists: Vec<Vec<Extent>> = self.blocks.iter().map(|b| b.extents.clone()).collect();
        let (arena, moved) = self.arena.compacted(&lists);
        self.arena = arena;
        for (block, extents) in self.blocks.iter_mut().zip(moved) {
            block.extents = extents;
        }
        // Every row's slots again, in arena order: the first seen is its first slot.
        let mut seen: super::RowMap<bool> = super::RowMap::default();
        seen.reserve(self.rows.len());
        for more in self.more.values_mut() {
            more.clear();
        }
        for block in &self.blocks {
            for extent in &block.extents {
                for slot in extent.start..extent.start + extent.len {
                    let owner = self.arena.owners[slot];
                    if seen.insert(owner, true).is_none() {
                        let row = self
                            .rows
                            .get_mut(owner)
                            .expect("every vector's owner is a live row");
                        row.first = slot as u32;
                    } else {
                        self.more
                            .get_mut(&owner)
                            .expect("a row with several vectors is in `more`")
                            .push(slot as u32);
                    }
                }
            }
        }
    }

    /// The blocks whose namespace starts with `prefix` (a range of the sorted namespace map).
    pub(super) fn blocks_under<'a>(
        &'a self,
        prefix: &'a [String],
    ) -> impl Iterator<Item = &'a Block> + 'a {
        self.by_namespace
            .range(prefix.to_vec()..)
            .take_while(move |(namespace, _)| namespace.starts_with(prefix))
            .map(move |(_, &index)| &self.blocks[index])
    }

    /// The slots of the rows in `candidates` whose namespace starts with `prefix`, in arena
    /// order: reads then run front to back instead of jumping at random (measured 4x faster for
    /// 10% of 1M rows), and a repeated id cannot take two places in the top-k. The slots are
    /// marked in a bitmap of the arena and read back in order, where sorting them cost more than
    /// the scan itself for a 10% value filter at 1M rows (the value index's candidate sets).
    pub(super) fn candidate_slots(&self, prefix: &[String], candidates: &[i64]) -> Vec<usize> {
        // The prefix check once per namespace, not once per candidate.
        let mut block_matches: Vec<Option<bool>> = vec![None; self.blocks.len()];
        let mut marked = vec![0u64; self.arena.owners.len().div_ceil(64)];
        let mut count = 0usize;
        let mut mark = |slot: usize| {
            let (word, bit) = (slot / 64, 1u64 << (slot % 64));
            count += usize::from(marked[word] & bit == 0);
            marked[word] |= bit;
        };
        for row_id in candidates {
            let Some(row) = self.rows.get(*row_id) else {
                continue;
            };
            let matches = *block_matches[row.block()]
                .get_or_insert_with(|| self.blocks[row.block()].namespace.starts_with(prefix));
            if matches {
                mark(row.first as usize);
                if row.has_more() {
                    self.more[row_id].iter().for_each(|&s| mark(s as usize));
                }
            }
        }
        let mut slots: Vec<usize> = Vec::with_capacity(count);
        for (word, &bits) in marked.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                slots.push(word * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        slots
    }
}
