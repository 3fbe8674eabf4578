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

use super::arena::SlotBounds;
use super::{Metric, Selection, VectorIndex};
use crate::kernels;
use crate::kernels::int8::{self, Code, GROUP};

/// Candidates prefetched ahead in each section (a candidate list jumps around; a run is read
/// front to back, which the hardware prefetcher follows alone).
const PREFETCH_SLOTS: usize = 4;

/// Rows prefetched ahead in each of the sections read side by side: the hardware prefetcher
/// follows eight streams, but late. Measured at 1M x 384 (first pass, thread CPU p50): 28.7-29.7
/// ms without, 24.6-25.6 with 2 to 6 rows ahead, 27.1 with 32; a plain read of the codes 21-22.
const RUN_PREFETCH_ROWS: usize = 4;

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
struct Stream<'a> {
    runs: &'a [(usize, usize)],
    run: usize,
    offset: usize,
}

impl<'a> Stream<'a> {
    fn new(runs: &'a [(usize, usize)]) -> Self {
        Self {
            runs,
            run: 0,
            offset: 0,
        }
    }

    /// Slots left in the current run (0 at its end or past the last run).
    #[inline]
    fn left_in_run(&self) -> usize {
        self.runs
            .get(self.run)
            .map_or(0, |&(_, len)| len - self.offset)
    }

    /// Moves `count` (at most `left_in_run`) slots on; returns the first of them.
    #[inline]
    fn skip_in_run(&mut self, count: usize) -> usize {
        let first = self.runs[self.run].0 + self.offset;
        self.offset += count;
        first
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
}

/// The used slots of `blocks`, as (first slot, count) runs in arena order, neighbours merged: a
/// bulk load gives each namespace an extent per chunk, and an unfiltered search over the whole
/// arena becomes one run read front to back.
fn merged_runs<'a>(blocks: impl Iterator<Item = &'a super::Block>) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = blocks
        .flat_map(|block| &block.extents)
        .filter(|extent| extent.len > 0)
        .map(|extent| (extent.start, extent.len))
        .collect();
    runs.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(runs.len());
    for (start, len) in runs {
        match merged.last_mut() {
            Some((first, count)) if *first + *count == start => *count += len,
            _ => merged.push((start, len)),
        }
    }
    merged
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
        // (A lower bound above the threshold implies an upper bound above it: `take` sees all
        // the vectors that can raise the threshold.)
        if self.passes_on(bounds, dot, code, norm) {
            self.take(slot, bounds.score_bounds(dot, code, norm));
        }
    }

    /// Whether `offer` hands the vector to `take`: its upper bound, on the numerator's scale,
    /// reaches the threshold carried there (`threshold * |q| * |v|` for cosine, less a slack).
    #[inline]
    fn passes_on(&self, bounds: &QueryBounds, dot: i32, code: &Code, norm: f64) -> bool {
        let (approx, error) = bounds.dot_bounds(dot, code, norm);
        let scaled = match bounds.metric {
            Metric::Cosine => self.threshold * bounds.norm * norm,
            _ => self.threshold,
        };
        let slack = scaled.abs() * 1e-9 + f64::MIN_POSITIVE;
        let high = approx + error;
        high >= scaled - slack || high.is_nan() || scaled.is_nan()
    }

    /// `offer` for a group of slots, the common case (no vector near the threshold) tested for
    /// the whole group at once: the same f64 operations in the same order as `offer`, four lanes
    /// at a time, so a vector is passed on exactly when `offer` would take it.
    #[inline]
    fn offer_group(
        &mut self,
        bounds: &QueryBounds,
        slots: &[usize; GROUP],
        dots: &[i32; GROUP],
        arena: &super::arena::Arena,
    ) {
        let slot_bounds: [SlotBounds; GROUP] = std::array::from_fn(|g| arena.bounds[slots[g]]);
        let codes: [Code; GROUP] = std::array::from_fn(|g| slot_bounds[g].code);
        let norms: [f64; GROUP] = std::array::from_fn(|g| slot_bounds[g].norm);
        let near = self.near_threshold(bounds, dots, &codes, &norms);
        if near == 0 {
            return;
        }
        for g in 0..GROUP {
            if near & (1 << g) != 0 {
                // Checked again: the threshold may have risen since (a lane before this one).
                self.offer(bounds, slots[g], dots[g], &codes[g], norms[g]);
            }
        }
    }

    /// Bit `g` set when `offer` would pass vector `g` on to `take` at the current threshold.
    #[inline]
    fn near_threshold(
        &self,
        bounds: &QueryBounds,
        dots: &[i32; GROUP],
        codes: &[Code; GROUP],
        norms: &[f64; GROUP],
    ) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            // SAFETY: AVX2 (and so AVX) is there (checked just above).
            return unsafe { self.near_threshold_avx(bounds, dots, codes, norms) };
        }
        let mut near = 0;
        for g in 0..GROUP {
            if self.passes_on(bounds, dots[g], &codes[g], norms[g]) {
                near |= 1 << g;
            }
        }
        near
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn near_threshold_avx(
        &self,
        bounds: &QueryBounds,
        dots: &[i32; GROUP],
        codes: &[Code; GROUP],
        norms: &[f64; GROUP],
    ) -> u32 {
        use std::arch::x86_64::*;
        let cosine = matches!(bounds.metric, Metric::Cosine);
        let scale = _mm256_set1_pd(bounds.scale);
        let residual = _mm256_set1_pd(bounds.residual);
        let code_norm = _mm256_set1_pd(bounds.code_norm);
        let rounding = _mm256_set1_pd(bounds.rounding);
        let underflow = _mm256_set1_pd(bounds.underflow);
        let widen = _mm256_set1_pd(1.0 + 1e-9);
        let tiny = _mm256_set1_pd(1e-12);
        let sign = _mm256_set1_pd(-0.0);
        let threshold = _mm256_set1_pd(self.threshold);
        let threshold_q = _mm256_set1_pd(self.threshold * bounds.norm);
        let min_positive = _mm256_set1_pd(f64::MIN_POSITIVE);
        let slack_rate = _mm256_set1_pd(1e-9);
        let mut near = 0u32;
        for half in 0..GROUP / 4 {
            let at = 4 * half;
            let lane =
                |f: &dyn Fn(usize) -> f64| _mm256_set_pd(f(at + 3), f(at + 2), f(at + 1), f(at));
            let dot = lane(&|g| dots[g] as f64);
            let code_scale = lane(&|g| codes[g].scale as f64);
            let code_residual = lane(&|g| codes[g].residual as f64);
            let norm = _mm256_loadu_pd(norms.as_ptr().add(at));
            // dot_bounds: approx = scale * code.scale * dot; error as written there.
            let approx = _mm256_mul_pd(_mm256_mul_pd(scale, code_scale), dot);
            let error = _mm256_add_pd(
                _mm256_add_pd(
                    _mm256_add_pd(
                        _mm256_mul_pd(residual, norm),
                        _mm256_mul_pd(code_norm, code_residual),
                    ),
                    _mm256_mul_pd(rounding, norm),
                ),
                underflow,
            );
            let error = _mm256_add_pd(
                _mm256_mul_pd(error, widen),
                _mm256_mul_pd(_mm256_andnot_pd(sign, approx), tiny),
            );
            let high = _mm256_add_pd(approx, error);
            // offer: scaled = threshold * |q| * |v| (cosine) or the threshold.
            let scaled = if cosine {
                _mm256_mul_pd(threshold_q, norm)
            } else {
                threshold
            };
            let slack = _mm256_add_pd(
                _mm256_mul_pd(_mm256_andnot_pd(sign, scaled), slack_rate),
                min_positive,
            );
            // Not (high < scaled - slack): true for NaN on either side, as in `offer`.
            let keep = _mm256_cmp_pd::<_CMP_NLT_UQ>(high, _mm256_sub_pd(scaled, slack));
            near |= (_mm256_movemask_pd(keep) as u32) << at;
        }
        near
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
    /// module doc), each with an upper bound of its score, and the threshold: every other vector
    /// scores below it.
    pub(super) fn first_pass(
        &self,
        query: &[f32],
        query_norm: f64,
        selection: &Selection<'_>,
        metric: Metric,
        capacity: usize,
    ) -> (Vec<(usize, f64)>, f64) {
        let bounds = QueryBounds::new(query, query_norm, metric, self.arena.code_width());
        let mut pass = Pass::new(capacity);
        match selection {
            Selection::Blocks(blocks) => {
                // GROUP sections of the runs, a row of each scored together: eight streams read
                // front to back side by side pull as much from DRAM as a plain read of the same
                // bytes (measured: 17 ms for 1M x 384 codes, against 35 ms for eight neighbouring
                // rows at a time, prefetched or not, and 24 ms for one row at a time).
                let merged;
                let runs: &[(usize, usize)] = if blocks.len() == self.blocks.len() {
                    self.all_runs
                        .get_or_init(|| merged_runs(self.blocks.iter()))
                } else {
                    merged = merged_runs(blocks.iter().copied());
                    &merged
                };
                let total: usize = runs.iter().map(|r| r.1).sum();
                let parts = split_runs(runs, total.div_ceil(GROUP));
                let mut streams: Vec<Stream<'_>> = parts.iter().map(|p| Stream::new(p)).collect();
                if streams.len() == GROUP {
                    let mut slots = [0usize; GROUP];
                    'groups: loop {
                        // Where every section is inside a run, its slots are counted off at once.
                        let ahead = streams.iter().map(Stream::left_in_run).min().unwrap_or(0);
                        if ahead > 0 {
                            let firsts: [usize; GROUP] =
                                std::array::from_fn(|r| streams[r].skip_in_run(ahead));
                            for i in 0..ahead {
                                if i + RUN_PREFETCH_ROWS < ahead {
                                    for &first in &firsts {
                                        let row = first + i + RUN_PREFETCH_ROWS;
                                        kernels::prefetch_bytes(self.arena.code(row));
                                    }
                                }
                                let group = std::array::from_fn(|r| firsts[r] + i);
                                self.score_group(&bounds, &mut pass, &group);
                            }
                            continue;
                        }
                        for r in 0..GROUP {
                            match streams[r].next() {
                                Some(slot) => slots[r] = slot,
                                None => {
                                    // Sections differ by a slot at most: the slots taken for
                                    // this group, and the others' last ones below, one by one.
                                    for &slot in &slots[..r] {
                                        self.score_one(&bounds, &mut pass, slot);
                                    }
                                    break 'groups;
                                }
                            }
                        }
                        self.score_group(&bounds, &mut pass, &slots);
                    }
                }
                for stream in &mut streams {
                    while let Some(slot) = stream.next() {
                        self.score_one(&bounds, &mut pass, slot);
                    }
                }
            }
            Selection::Slots(slots) => {
                // The same sections over the candidates' slots (in arena order).
                let section = slots.len() / GROUP;
                for g in 0..section {
                    for r in 0..GROUP {
                        if let Some(&ahead) = slots.get(r * section + g + PREFETCH_SLOTS) {
                            kernels::prefetch_bytes(self.arena.code(ahead));
                        }
                    }
                    let group: [usize; GROUP] = std::array::from_fn(|r| slots[r * section + g]);
                    self.score_group(&bounds, &mut pass, &group);
                }
                for &slot in &slots[GROUP * section..] {
                    self.score_one(&bounds, &mut pass, slot);
                }
            }
        }
        let threshold = pass.threshold;
        let survivors = pass
            .candidates
            .iter()
            .copied()
            .filter(|(_, hi)| may_reach(*hi, threshold))
            .collect();
        (survivors, threshold)
    }

    #[inline]
    fn score_group(&self, bounds: &QueryBounds, pass: &mut Pass, slots: &[usize; GROUP]) {
        let rows: [&[i8]; GROUP] = std::array::from_fn(|g| self.arena.code(slots[g]));
        let dots = int8::dot_group(&bounds.codes, &rows);
        pass.offer_group(bounds, slots, &dots, &self.arena);
    }

    #[inline]
    fn score_one(&self, bounds: &QueryBounds, pass: &mut Pass, slot: usize) {
        let dot = int8::dot(&bounds.codes, self.arena.code(slot));
        let arena = &self.arena;
        pass.offer(
            bounds,
            slot,
            dot,
            &arena.bounds[slot].code,
            arena.bounds[slot].norm,
        );
    }
}
