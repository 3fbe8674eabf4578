//! The exact scan: every selected vector scored with the canonical f32 kernel.
//!
//! Used for the l2 metric, for selections too small for the first pass to pay, and when the first
//! pass is switched off. Scores go through a 1024-score buffer (it stays in L1 beside the query)
//! into the top-k; nothing is allocated per row.

use super::{Metric, Selection, VectorIndex};
use crate::kernels;
use crate::topk::TopK;

/// Vectors scanned per call of the SIMD kernel: the scores fit in L1 beside the query.
pub(super) const SCAN_BLOCK: usize = 1024;

/// Candidate vectors prefetched ahead of the one being scored.
pub(super) const PREFETCH_SLOTS: usize = 4;

impl VectorIndex {
    pub(super) fn exact_scan(
        &self,
        query: &[f32],
        query_norm: f64,
        selection: &Selection<'_>,
        metric: Metric,
        top: &mut TopK,
    ) {
        match selection {
            Selection::Blocks(blocks) => {
                let kernel = metric.kernel();
                let mut raw = vec![0f32; SCAN_BLOCK];
                for block in blocks {
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
            Selection::Slots(slots) => self.score_slots(query, query_norm, slots, metric, top),
        }
    }

    /// Scores `slots` (in arena order) exactly.
    pub(super) fn score_slots(
        &self,
        query: &[f32],
        query_norm: f64,
        slots: &[usize],
        metric: Metric,
        top: &mut TopK,
    ) {
        let kernel = metric.kernel();
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
