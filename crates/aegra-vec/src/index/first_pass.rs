//! The first pass: which vectors may be in the exact top-k, from a scan of their int8 codes.
//!
//! The query is quantized as the vectors are (`kernels/int8.rs`); the integer dot product of the
//! codes is exact, and from the two residuals (how far each side lies from its codes) and the f32
//! kernel's worst rounding error it gives a rigorous interval `[lo, hi]` around the score the exact
//! kernel would return. The pass keeps the `capacity`-th largest `lo` seen so far (`threshold`): a
//! vector whose `hi` lies below it is beaten by at least `capacity` vectors and cannot be in the
//! exact top-k (`capacity` = k x the most vectors a row has, so those vectors span k rows). The few
//! others survive; scoring them with the canonical f32 kernel (`exact::top_k`) gives the exact
//! scan's results, bit for bit and in the same tie order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::{Metric, Selection, VectorIndex};
use crate::kernels;
use crate::kernels::int8::{self, Code};

/// Candidate slots prefetched ahead of the one being scored (a candidate list jumps around).
const PREFETCH_SLOTS: usize = 4;

/// Code rows prefetched ahead of the one being scored, in each stream.
const PREFETCH_ROWS: usize = 16;

/// Runs of slots (first slot, count) read side by side by the first pass.
const STREAMS: usize = 2;

type Runs = Vec<(usize, usize)>;

/// `runs` cut into parts of `size` slots (the last may be shorter).
fn split_runs(runs: &[(usize, usize)], size: usize) -> Vec<Runs> {
    let mut parts = vec![Runs::new()];
    let mut room = size.max(1);
    for &(mut first, mut len) in runs {
        while len > 0 {
            if room == 0 {
                parts.push(Runs::new());
                room = size.max(1);
            }
            let take = len.min(room);
            parts
                .last_mut()
                .expect("one part at least")
                .push((first, take));
            first += take;
            len -= take;
            room -= take;
        }
    }
    parts
}

/// Walks the slots of a list of runs.
struct Cursor<'a> {
    runs: &'a [(usize, usize)],
    run: usize,
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn new(runs: &'a [(usize, usize)]) -> Self {
        Self {
            runs,
            run: 0,
            offset: 0,
        }
    }

    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            let &(first, len) = self.runs.get(self.run)?;
            if self.offset < len {
                self.offset += 1;
                return Some(first + self.offset - 1);
            }
            self.run += 1;
            self.offset = 0;
        }
    }

    /// The slot `n` places after the last one returned, if any.
    #[inline]
    fn ahead(&self, n: usize) -> Option<usize> {
        let (mut run, mut offset) = (self.run, self.offset + n - 1);
        loop {
            let &(first, len) = self.runs.get(run)?;
            if offset < len {
                return Some(first + offset);
            }
            offset -= len;
            run += 1;
        }
    }
}

/// Unit roundoff of f32.
const F32_UNIT: f64 = 1.0 / (1u64 << 24) as f64;
/// Half the gap between f32 subnormals: the most a product loses to underflow.
const F32_UNDERFLOW: f64 = f32::MIN_POSITIVE as f64 / (1u64 << 24) as f64;

/// The query's codes and the constants of its score bounds.
struct QueryBounds {
    codes: Vec<i8>,
    metric: Metric,
    norm: f64,
    /// The query's scale and residual, and an upper bound of its codes' norm.
    scale: f64,
    residual: f64,
    code_norm: f64,
    /// Times `|v|`: bounds the f32 kernel's rounding, relative to `|q| |v|`.
    rounding: f64,
    /// Products that underflow lose at most this much in all.
    underflow: f64,
}

impl QueryBounds {
    fn new(query: &[f32], norm: f64, metric: Metric, width: usize) -> Self {
        let mut codes = vec![0i8; width];
        let code = int8::quantize(query, norm, &mut codes);
        let n = query.len() as f64;
        // Any summation order of n products rounds by at most gamma(n + 1) = (n + 1)u / (1 - (n + 1)u)
        // of the sum of |products| <= |q| |v|; twice that, for slack.
        let rounding = 2.0 * (n + 1.0) * F32_UNIT / (1.0 - (n + 1.0) * F32_UNIT) * norm;
        Self {
            code_norm: int8::code_norm(&codes, code.scale),
            codes,
            metric,
            norm,
            scale: code.scale as f64,
            residual: code.residual as f64,
            rounding,
            underflow: 2.0 * n * F32_UNDERFLOW,
        }
    }

    /// The bounds of the numerator (`q.v`) of the score: `(approx, error)` with `|kernel(q, v) -
    /// approx| <= error`, given the codes' dot product.
    #[inline]
    fn dot_bounds(&self, dot: i32, code: &Code, norm: f64) -> (f64, f64) {
        // q.v = q~.v~ + (q - q~).v + q~.(v - v~), and Cauchy-Schwarz on the last two terms.
        let approx = self.scale * code.scale as f64 * dot as f64;
        let error = self.residual * norm
            + self.code_norm * code.residual as f64
            + self.rounding * norm
            + self.underflow;
        // f64 rounding of the lines above is ~1e-16 relative: the slack covers it (and the one
        // rounding of `* (1 / den)` in `hot_test` below).
        (approx, error * (1.0 + 1e-9) + approx.abs() * 1e-12)
    }

    /// What the score divides the kernel's output by (1 for the inner product); None when the
    /// score is exactly 0 (cosine with a zero vector).
    #[inline]
    fn denominator(&self, norm: f64) -> Option<f64> {
        match self.metric {
            Metric::Cosine if self.norm == 0.0 || norm == 0.0 => None,
            Metric::Cosine => Some(self.norm * norm),
            Metric::InnerProduct => Some(1.0),
        }
    }

    /// `[lo, hi]` around `metric.score(kernel(q, v), |q|, |v|)`: the same f64 division as
    /// `Metric::score`, which is monotonic, so the exact score lies in between.
    #[inline]
    fn score_bounds(&self, dot: i32, code: &Code, norm: f64) -> (f64, f64) {
        let Some(denominator) = self.denominator(norm) else {
            return (0.0, 0.0);
        };
        let (approx, error) = self.dot_bounds(dot, code, norm);
        (
            (approx - error) / denominator,
            (approx + error) / denominator,
        )
    }
}

/// f64 ordered by `total_cmp`, for the heap of lower bounds.
#[derive(Clone, Copy, PartialEq)]
struct Bound(f64);

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The pass's state: the `capacity` largest lower bounds and the vectors still in the running.
struct Pass {
    capacity: usize,
    lows: BinaryHeap<Reverse<Bound>>,
    /// The `capacity`-th largest lower bound so far (-inf until there are `capacity`).
    threshold: f64,
    candidates: Vec<(usize, f64)>,
}

/// Whether a vector whose score is at most `hi` may still beat `threshold`; a NaN bound (never
/// expected) keeps the vector rather than dropping it.
#[inline]
fn may_reach(hi: f64, threshold: f64) -> bool {
    hi >= threshold || hi.is_nan()
}

impl Pass {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            lows: BinaryHeap::with_capacity(capacity.min(1 << 16) + 1),
            threshold: f64::NEG_INFINITY,
            candidates: Vec::new(),
        }
    }

    /// Takes the vector in `slot` into account. The common case - its bounds are nowhere near the
    /// threshold - costs no division: the threshold is carried to the numerator's scale instead,
    /// with a slack that only ever lets more vectors through to the exact tests.
    #[inline]
    fn offer(&mut self, bounds: &QueryBounds, slot: usize, dot: i32, code: &Code, norm: f64) {
        let (approx, error) = bounds.dot_bounds(dot, code, norm);
        let scaled = match bounds.metric {
            Metric::Cosine => self.threshold * bounds.norm * norm,
            _ => self.threshold,
        };
        let slack = scaled.abs() * 1e-9 + f64::MIN_POSITIVE;
        let high = approx + error;
        // (A lower bound above the threshold implies an upper bound above it: `take` sees all
        // the vectors that can raise the threshold.)
        if high >= scaled - slack || high.is_nan() || scaled.is_nan() {
            self.take(slot, bounds.score_bounds(dot, code, norm));
        }
    }

    #[cold]
    fn take(&mut self, slot: usize, (lo, hi): (f64, f64)) {
        if may_reach(hi, self.threshold) {
            self.candidates.push((slot, hi));
        }
        if lo > self.threshold {
            self.lows.push(Reverse(Bound(lo)));
            if self.lows.len() > self.capacity {
                self.lows.pop();
            }
            if self.lows.len() == self.capacity {
                self.threshold = self.lows.peek().map_or(f64::NEG_INFINITY, |b| b.0 .0);
            }
        }
    }
}

impl VectorIndex {
    /// The slots of `selection` that may hold a vector of the exact top `capacity` (see the
    /// module doc), and the threshold: every other vector scores below it.
    pub(super) fn first_pass(
        &self,
        query: &[f32],
        query_norm: f64,
        selection: &Selection<'_>,
        metric: Metric,
        capacity: usize,
    ) -> (Vec<usize>, f64) {
        let bounds = QueryBounds::new(query, query_norm, metric, self.arena.code_width());
        let mut pass = Pass::new(capacity);
        let code_bounds = &self.arena.code_bounds;
        let norms = &self.arena.norms;
        match selection {
            Selection::Blocks(blocks) => {
                // The used slots of the blocks' extents, as (first slot, count) runs.
                let runs: Vec<(usize, usize)> = blocks
                    .iter()
                    .flat_map(|block| &block.extents)
                    .filter(|extent| extent.len > 0)
                    .map(|extent| (extent.start, extent.len))
                    .collect();
                // STREAMS parts read side by side: several streams pull more from DRAM than one
                // (two: 20% faster from DRAM at 100k x 384 than one).
                let total: usize = runs.iter().map(|r| r.1).sum();
                let parts = split_runs(&runs, total.div_ceil(STREAMS));
                let mut cursors: Vec<Cursor<'_>> = parts.iter().map(|p| Cursor::new(p)).collect();
                let mut live = cursors.len();
                while live > 0 {
                    live = 0;
                    for cursor in &mut cursors {
                        let Some(slot) = cursor.next() else { continue };
                        live += 1;
                        if let Some(ahead) = cursor.ahead(PREFETCH_ROWS) {
                            kernels::prefetch_bytes(self.arena.code(ahead));
                        }
                        let dot = int8::dot(&bounds.codes, self.arena.code(slot));
                        pass.offer(&bounds, slot, dot, &code_bounds[slot], norms[slot]);
                    }
                }
            }
            Selection::Slots(slots) => {
                for (i, &slot) in slots.iter().enumerate() {
                    if let Some(&ahead) = slots.get(i + 2 * PREFETCH_SLOTS) {
                        kernels::prefetch_bytes(self.arena.code(ahead));
                    }
                    let dot = int8::dot(&bounds.codes, self.arena.code(slot));
                    pass.offer(&bounds, slot, dot, &code_bounds[slot], norms[slot]);
                }
            }
        }
        let threshold = pass.threshold;
        let survivors = pass
            .candidates
            .iter()
            .filter(|(_, hi)| may_reach(*hi, threshold))
            .map(|(slot, _)| *slot)
            .collect();
        (survivors, threshold)
    }
}
