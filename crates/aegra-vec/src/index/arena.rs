//! Where the codes live: one large buffer for the whole index, carved into extents.
//!
//! A namespace owns a list of extents (runs of slots), new vectors going to its last. Keeping every
//! code row in one allocation lets it sit on 2 MB pages (see `hugepages.rs`): with one small
//! allocation per namespace (1000 namespaces of 100 vectors at 384 dims), a scan ran about 1.5x
//! slower than over the same bytes on huge pages. Freed extents are garbage until a compaction
//! rewrites the buffer, once garbage passes half of it.
//!
//! A slot holds a vector's int8 codes (`kernels/int8.rs`), their scale and residual, the vector's
//! norm and its owner: 16 + 8 bytes beside the codes. The float32 vector itself is not kept: the
//! store reads the few that the first pass cannot rule out from its file.

use crate::codes::Record;
use crate::hugepages;
use crate::kernels::int8::{self, Code};

/// Smallest extent a put opens, in vectors: a namespace's extents grow geometrically from here.
/// Small, because a store may hold many namespaces of one or two items (an extent's free slots
/// are resident memory); a bulk load sizes extents exactly.
const MIN_EXTENT: usize = 4;

/// A slot's code scale and residual, and its vector's norm.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SlotBounds {
    pub code: Code,
    pub norm: f64,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Extent {
    pub start: usize,
    pub len: usize,
    pub cap: usize,
}

pub(super) struct Arena {
    dims: usize,
    /// The int8 codes of the vectors (`code_width` bytes a slot).
    codes: Vec<i8>,
    code_width: usize,
    /// Each slot's scale, residual and norm side by side: the scan reads them with the codes,
    /// and one array of them is one stream from memory where two were two.
    pub bounds: Vec<SlotBounds>,
    pub owners: Vec<i64>,
    /// Slots handed out so far (used, reserved in extents, or garbage).
    end: usize,
    /// Slots in extents that were given back.
    garbage: usize,
}

impl Arena {
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            codes: Vec::new(),
            code_width: int8::padded(dims),
            bounds: Vec::new(),
            owners: Vec::new(),
            end: 0,
            garbage: 0,
        }
    }

    pub fn code(&self, slot: usize) -> &[i8] {
        &self.codes[slot * self.code_width..(slot + 1) * self.code_width]
    }

    pub fn code_width(&self) -> usize {
        self.code_width
    }

    pub fn heap_bytes(&self) -> usize {
        self.codes.capacity()
            + self.bounds.capacity() * std::mem::size_of::<SlotBounds>()
            + self.owners.capacity() * 8
    }

    /// Makes room for `more` slots beyond `end` in one allocation (a bulk load), on 4 KB pages: the
    /// caller asks for huge pages once the load has written them (`huge_page_range`,
    /// `hugepages::promote`).
    pub fn reserve(&mut self, more: usize) {
        let wanted = self.end + more;
        if wanted > self.owners.capacity() {
            self.grow_to(wanted);
        }
    }

    /// The codes' whole 2 MB pages (address, length), for `hugepages::promote`.
    pub fn huge_page_range(&self) -> Option<(usize, usize)> {
        hugepages::huge_range(&self.codes)
    }

    fn grow_to(&mut self, slots: usize) {
        self.owners.reserve_exact(slots - self.owners.len());
        self.codes
            .reserve_exact(slots * self.code_width - self.codes.len());
        self.bounds.reserve_exact(slots - self.bounds.len());
    }

    /// A new extent for a namespace that already holds `held` vectors and needs `at_least` more;
    /// `exact` (a bulk load) gives it exactly `at_least` slots.
    pub fn allocate(&mut self, held: usize, at_least: usize, exact: bool) -> Extent {
        let cap = if exact {
            at_least
        } else {
            at_least.max(held).max(MIN_EXTENT)
        };
        let wanted = self.end + cap;
        if wanted > self.owners.capacity() {
            // 1.25x rather than Vec's 2x: a 400 MB index should not jump to 800 MB for one put.
            self.grow_to(wanted.max(self.owners.capacity() + self.owners.capacity() / 4));
            hugepages::advise(&self.codes); // a put's growth: faulted in as it is written
        }
        self.owners.resize(wanted, 0);
        self.codes.resize(wanted * self.code_width, 0);
        self.bounds.resize(wanted, SlotBounds::default());
        let extent = Extent {
            start: self.end,
            len: 0,
            cap,
        };
        self.end = wanted;
        extent
    }

    pub fn write(&mut self, slot: usize, record: &Record<'_>, owner: i64) {
        self.owners[slot] = owner;
        self.bounds[slot] = SlotBounds {
            code: record.code,
            norm: record.norm,
        };
        let width = self.code_width;
        let row = &mut self.codes[slot * width..(slot + 1) * width];
        for (code, &byte) in row.iter_mut().zip(record.codes) {
            *code = byte as i8;
        }
        row[record.codes.len()..].fill(0);
    }

    pub fn copy_slot(&mut self, from: usize, to: usize) {
        self.owners[to] = self.owners[from];
        let width = self.code_width;
        self.codes
            .copy_within(from * width..(from + 1) * width, to * width);
        self.bounds[to] = self.bounds[from];
    }

    /// Copies `from`'s slot `slot` into this arena's slot `to`.
    fn take_slot(&mut self, from: &Arena, slot: usize, to: usize) {
        self.owners[to] = from.owners[slot];
        self.bounds[to] = from.bounds[slot];
        let width = self.code_width;
        self.codes[to * width..(to + 1) * width].copy_from_slice(from.code(slot));
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
                let mut extent = fresh.allocate(0, len, true);
                for old in list {
                    for slot in old.start..old.start + old.len {
                        fresh.take_slot(self, slot, extent.start + extent.len);
                        extent.len += 1;
                    }
                }
                vec![extent]
            })
            .collect();
        (fresh, moved)
    }
}
