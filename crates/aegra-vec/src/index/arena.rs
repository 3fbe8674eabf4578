//! Where the vectors live: one large buffer for the whole index, carved into extents.
//!
//! A namespace owns a list of extents (runs of slots), new vectors going to its last. Keeping every
//! vector in one allocation lets it sit on 2 MB pages (see `hugepages.rs`): with one small
//! allocation per namespace (1000 namespaces of 100 vectors at 384 dims), a scan ran about 1.5x
//! slower than over the same bytes on huge pages. Freed extents are garbage until a compaction
//! rewrites the buffer, once garbage passes half of it.
//!
//! Beside each vector sit its int8 codes (`kernels/int8.rs`, a quarter of the bytes, scanned by the
//! first pass) and their bounds, kept in step by every write, move and compaction.

use crate::hugepages;
use crate::kernels::int8::{self, Code};

/// Smallest extent, in vectors: a namespace's extents grow geometrically from here.
const MIN_EXTENT: usize = 16;

#[derive(Clone, Copy, Debug)]
pub(super) struct Extent {
    pub start: usize,
    pub len: usize,
    pub cap: usize,
}

pub(super) struct Arena {
    dims: usize,
    /// `end * dims` floats; slot `s` is `data[s * dims..(s + 1) * dims]`.
    data: Vec<f32>,
    /// The int8 codes of the vectors (`code_width` bytes a slot) for the first pass.
    codes: Vec<i8>,
    code_width: usize,
    pub code_bounds: Vec<Code>,
    pub owners: Vec<i64>,
    pub norms: Vec<f64>,
    /// Slots handed out so far (used, reserved in extents, or garbage).
    end: usize,
    /// Slots in extents that were given back.
    garbage: usize,
}

impl Arena {
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            data: Vec::new(),
            codes: Vec::new(),
            code_width: int8::padded(dims),
            code_bounds: Vec::new(),
            owners: Vec::new(),
            norms: Vec::new(),
            end: 0,
            garbage: 0,
        }
    }

    pub fn vector(&self, slot: usize) -> &[f32] {
        &self.data[slot * self.dims..(slot + 1) * self.dims]
    }

    pub fn code(&self, slot: usize) -> &[i8] {
        &self.codes[slot * self.code_width..(slot + 1) * self.code_width]
    }

    pub fn code_width(&self) -> usize {
        self.code_width
    }

    /// The vectors, owners and norms of an extent's used slots.
    pub fn extent(&self, extent: &Extent) -> (&[f32], &[i64], &[f64]) {
        let slots = extent.start..extent.start + extent.len;
        let floats = extent.start * self.dims..(extent.start + extent.len) * self.dims;
        (
            &self.data[floats],
            &self.owners[slots.clone()],
            &self.norms[slots],
        )
    }

    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() * 4
            + self.codes.capacity()
            + self.code_bounds.capacity() * std::mem::size_of::<Code>()
            + self.owners.capacity() * 8
            + self.norms.capacity() * 8
    }

    /// Makes room for `more` slots beyond `end` in one allocation (a bulk load).
    pub fn reserve(&mut self, more: usize) {
        let wanted = self.end + more;
        if wanted > self.owners.capacity() {
            self.grow_to(wanted);
        }
    }

    fn grow_to(&mut self, slots: usize) {
        self.data.reserve_exact(slots * self.dims - self.data.len());
        self.owners.reserve_exact(slots - self.owners.len());
        self.norms.reserve_exact(slots - self.norms.len());
        self.codes
            .reserve_exact(slots * self.code_width - self.codes.len());
        self.code_bounds
            .reserve_exact(slots - self.code_bounds.len());
        hugepages::advise(&self.data);
        hugepages::advise(&self.codes);
    }

    /// A new extent for a namespace that already holds `held` vectors and needs `at_least` more.
    pub fn allocate(&mut self, held: usize, at_least: usize) -> Extent {
        let cap = at_least.max(held).max(MIN_EXTENT);
        let wanted = self.end + cap;
        if wanted > self.owners.capacity() {
            // 1.25x rather than Vec's 2x: a 1.5 GB index should not jump to 3 GB for one put.
            self.grow_to(wanted.max(self.owners.capacity() + self.owners.capacity() / 4));
        }
        self.data.resize(wanted * self.dims, 0.0);
        self.owners.resize(wanted, 0);
        self.norms.resize(wanted, 0.0);
        self.codes.resize(wanted * self.code_width, 0);
        self.code_bounds.resize(wanted, Code::default());
        let extent = Extent {
            start: self.end,
            len: 0,
            cap,
        };
        self.end = wanted;
        extent
    }

    pub fn write(&mut self, slot: usize, vector: &[f32], owner: i64, norm: f64) {
        self.data[slot * self.dims..(slot + 1) * self.dims].copy_from_slice(vector);
        self.owners[slot] = owner;
        self.norms[slot] = norm;
        let width = self.code_width;
        self.code_bounds[slot] =
            int8::quantize(vector, &mut self.codes[slot * width..(slot + 1) * width]);
    }

    pub fn copy_slot(&mut self, from: usize, to: usize) {
        let dims = self.dims;
        self.data
            .copy_within(from * dims..(from + 1) * dims, to * dims);
        self.owners[to] = self.owners[from];
        self.norms[to] = self.norms[from];
        let width = self.code_width;
        self.codes
            .copy_within(from * width..(from + 1) * width, to * width);
        self.code_bounds[to] = self.code_bounds[from];
    }

    /// Gives back slots no namespace uses any more.
    pub fn release(&mut self, slots: usize) {
        self.garbage += slots;
    }

    pub fn needs_compaction(&self) -> bool {
        self.garbage > 0 && self.garbage * 2 > self.end
    }

    /// A new arena holding `extents` (in order) back to back; returns their new extents.
    pub fn compacted(&self, extents: &[Vec<Extent>]) -> (Self, Vec<Vec<Extent>>) {
        let total: usize = extents.iter().flatten().map(|e| e.len).sum();
        let mut fresh = Self::new(self.dims);
        fresh.reserve(total);
        let moved = extents
            .iter()
            .map(|list| {
                let len: usize = list.iter().map(|e| e.len).sum();
                if len == 0 {
                    return Vec::new();
                }
                let mut extent = fresh.allocate(0, len);
                for old in list {
                    for slot in old.start..old.start + old.len {
                        fresh.write(
                            extent.start + extent.len,
                            self.vector(slot),
                            self.owners[slot],
                            self.norms[slot],
                        );
                        extent.len += 1;
                    }
                }
                // Exactly full: a later put opens a new, geometrically larger extent.
                fresh.garbage += extent.cap - extent.len;
                extent.cap = extent.len;
                vec![extent]
            })
            .collect();
        (fresh, moved)
    }
}
