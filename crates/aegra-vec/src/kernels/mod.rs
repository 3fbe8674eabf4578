//! Distance kernels over contiguous float32 rows.
//!
//! Every sum follows one canonical order so that the numpy twin
//! (`aegra/vec/_python/kernels.py`) reproduces the scores bit for bit: products are added into
//! `LANES` f32 accumulators (element `i` goes to lane `i % LANES`, chunk after chunk, a short last
//! chunk only touching its first lanes), then the lanes are folded in halves
//! (`acc[l] += acc[l + w]` for w = 16, 8, 4, 2, 1). Rust never contracts `a * b + c` into an FMA
//! on its own, and the 32 independent lanes are what lets LLVM keep four AVX2 registers busy.
//!
//! `int8.rs` holds the first pass's integer kernels (exact, so no order to agree on).
//!
//! One portable source is compiled twice: as is (SSE2 baseline) and inside an
//! `#[target_feature(enable = "avx2")]` wrapper chosen at run time, so both give identical bits.

pub mod int8;

/// Accumulator lanes of the canonical summation order.
pub const LANES: usize = 32;

/// Which per-row quantity a scan produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `sum(q[i] * v[i])`
    Dot,
    /// `sum((q[i] - v[i])^2)`
    SquaredL2,
}

/// Folds the lanes in halves: `acc[l] += acc[l + w]` for w = 16, 8, 4, 2, 1 (f32 for the kernels,
/// f64 for norms and code residuals).
#[inline(always)]
fn fold<T: Copy + std::ops::AddAssign>(mut acc: [T; LANES]) -> T {
    let mut width = LANES / 2;
    while width >= 1 {
        for lane in 0..width {
            let other = acc[lane + width];
            acc[lane] += other;
        }
        width /= 2;
    }
    acc[0]
}

/// A chunk as a fixed-size array: without it, LLVM keeps a bounds check per lane and the loops
/// stay scalar (measured: 3-4x slower).
#[inline(always)]
fn lanes(chunk: &[f32]) -> &[f32; LANES] {
    chunk.try_into().expect("chunks_exact yields LANES items")
}

/// `sum(term(a[i], b[i]))` in the canonical order: lane `i % LANES`, chunk after chunk, then folded.
#[inline(always)]
fn lanewise(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks_a = a.chunks_exact(LANES);
    let mut chunks_b = b.chunks_exact(LANES);
    for (x, y) in (&mut chunks_a).zip(&mut chunks_b) {
        let (x, y) = (lanes(x), lanes(y));
        for lane in 0..LANES {
            acc[lane] += term(x[lane], y[lane]);
        }
    }
    for (lane, (x, y)) in chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .enumerate()
    {
        acc[lane] += term(*x, *y);
    }
    fold(acc)
}

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    lanewise(a, b, |x, y| x * y)
}

#[inline(always)]
fn squared_l2_portable(a: &[f32], b: &[f32]) -> f32 {
    lanewise(a, b, |x, y| {
        let d = x - y;
        d * d
    })
}

#[inline(always)]
fn scan_portable(kernel: Kernel, query: &[f32], rows: &[f32], out: &mut [f32]) {
    let dims = query.len();
    match kernel {
        Kernel::Dot => {
            for (row, slot) in rows.chunks_exact(dims).zip(out.iter_mut()) {
                *slot = dot_portable(query, row);
            }
        }
        Kernel::SquaredL2 => {
            for (row, slot) in rows.chunks_exact(dims).zip(out.iter_mut()) {
                *slot = squared_l2_portable(query, row);
            }
        }
    }
}

/// Explicit AVX2 versions: LLVM only half-vectorizes the portable loops (xmm, measured 2x
/// slower). Same order of operations, so the same bits: four 8-wide registers hold lanes 0..32,
/// and the fold adds lane `l + w` into lane `l` exactly as `fold` does.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{fold, Kernel, LANES};
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn term(kernel: Kernel, x: __m256, y: __m256) -> __m256 {
        match kernel {
            Kernel::Dot => _mm256_mul_ps(x, y),
            Kernel::SquaredL2 => {
                let d = _mm256_sub_ps(x, y);
                _mm256_mul_ps(d, d)
            }
        }
    }

    /// # Safety
    /// AVX2 must be available and `a`, `b` of equal length.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn pair(kernel: Kernel, a: &[f32], b: &[f32]) -> f32 {
        let full = a.len() / LANES * LANES;
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i < full {
            for (r, slot) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_ps(pa.add(i + 8 * r));
                let y = _mm256_loadu_ps(pb.add(i + 8 * r));
                *slot = _mm256_add_ps(*slot, term(kernel, x, y));
            }
            i += LANES;
        }
        if full < a.len() {
            // A short last chunk: finish in memory with the portable tail and fold.
            let mut lanes = [0f32; LANES];
            for (r, slot) in acc.iter().enumerate() {
                _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * r), *slot);
            }
            for (lane, (x, y)) in a[full..].iter().zip(&b[full..]).enumerate() {
                lanes[lane] += match kernel {
                    Kernel::Dot => x * y,
                    Kernel::SquaredL2 => (x - y) * (x - y),
                };
            }
            return fold(lanes);
        }
        fold_registers(acc)
    }

    /// `fold` on the four registers: lanes l + l+16, then l + l+8, l + l+4, l + l+2, l + l+1.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn fold_registers(acc: [__m256; 4]) -> f32 {
        let s8 = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        let s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
        _mm_cvtss_f32(s1)
    }

    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub unsafe fn read_all(data: &[f32]) -> f32 {
        // READ_STREAMS sections read side by side, 32 floats (two lines) of each per step: one
        // stream alone reached about 60% of what numpy's matrix-vector product (several rows at a
        // time) pulls from DRAM, so a single-stream floor would flatter the scans held to it.
        let section = data.len() / READ_STREAMS / 32 * 32;
        let mut acc = [_mm256_setzero_ps(); READ_STREAMS];
        let base = data.as_ptr();
        let mut i = 0;
        while i < section {
            for (s, slot) in acc.iter_mut().enumerate() {
                let p = base.add(s * section + i);
                let pair = _mm256_add_ps(
                    _mm256_add_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))),
                    _mm256_add_ps(_mm256_loadu_ps(p.add(16)), _mm256_loadu_ps(p.add(24))),
                );
                *slot = _mm256_add_ps(*slot, pair);
            }
            i += 32;
        }
        let mut lanes = [0f32; 8];
        let total = acc
            .iter()
            .fold(_mm256_setzero_ps(), |sum, x| _mm256_add_ps(sum, *x));
        _mm256_storeu_ps(lanes.as_mut_ptr(), total);
        lanes.iter().sum::<f32>() + data[READ_STREAMS * section..].iter().sum::<f32>()
    }

    /// Sections `read_all` reads at once.
    const READ_STREAMS: usize = 8;

    /// Rows prefetched ahead of the one being scored: the hardware prefetcher alone left the
    /// scan about 25% slower than a plain read of the same bytes.
    const PREFETCH_ROWS: usize = 8;

    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub unsafe fn scan(kernel: Kernel, query: &[f32], rows: &[f32], out: &mut [f32]) {
        let dims = query.len();
        for (r, (row, slot)) in rows.chunks_exact(dims).zip(out.iter_mut()).enumerate() {
            if let Some(next) = rows.get((r + PREFETCH_ROWS) * dims..(r + PREFETCH_ROWS + 1) * dims)
            {
                for line in next.chunks(16) {
                    _mm_prefetch::<_MM_HINT_T0>(line.as_ptr() as *const i8);
                }
            }
            *slot = pair(kernel, query, row);
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2() -> bool {
    // std caches the CPUID answer, so this is a load and a branch per call.
    std::arch::is_x86_feature_detected!("avx2")
}

/// The widest instruction set the scan uses on this CPU (for build info and benchmarks).
pub fn active_simd() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        return "avx2";
    }
    "portable"
}

/// `out[r] = kernel(query, rows[r])` for each `query.len()`-wide row of `rows`.
///
/// `rows.len()` must be a multiple of `query.len()` and `out` at least as long as the row count.
pub fn scan(kernel: Kernel, query: &[f32], rows: &[f32], out: &mut [f32]) {
    assert!(!query.is_empty(), "scan needs a non-empty query");
    assert_eq!(
        rows.len() % query.len(),
        0,
        "rows are not a whole number of vectors"
    );
    assert!(
        out.len() >= rows.len() / query.len(),
        "output buffer too short"
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { avx2::scan(kernel, query, rows, out) };
        return;
    }
    scan_portable(kernel, query, rows, out)
}

/// Sums `data` in one streaming read: the memory-bandwidth floor that benchmarks hold a scan of
/// the same bytes against (no order guarantees: nothing but benchmarks uses the sum).
pub fn read_all(data: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { avx2::read_all(data) };
    }
    data.iter().sum()
}

/// Asks the CPU to start loading `vector` into cache (a hint: never faults, may do nothing).
#[inline]
pub fn prefetch(vector: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in vector.chunks(16) {
        // SAFETY: SSE is part of x86_64; a prefetch reads nothing architecturally.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr() as *const i8
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = vector;
}

/// `prefetch` for a row of int8 codes.
#[inline]
pub fn prefetch_bytes(codes: &[i8]) {
    #[cfg(target_arch = "x86_64")]
    for line in codes.chunks(64) {
        // SAFETY: SSE is part of x86_64; a prefetch reads nothing architecturally.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = codes;
}

/// The kernel on one pair of vectors, in the canonical order.
pub fn pair(kernel: Kernel, a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "vectors of different sizes");
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and the lengths are equal (both checked just above).
        return unsafe { avx2::pair(kernel, a, b) };
    }
    pair_portable(kernel, a, b)
}

fn pair_portable(kernel: Kernel, a: &[f32], b: &[f32]) -> f32 {
    match kernel {
        Kernel::Dot => dot_portable(a, b),
        Kernel::SquaredL2 => squared_l2_portable(a, b),
    }
}

/// `sum(values)` in f64 in the canonical lanes (`i % LANES`, then folded in halves): the order the
/// numpy twin reproduces for norms and code residuals.
pub fn lane_sum_f64(values: &[f64]) -> f64 {
    let mut acc = [0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (slot, x) in acc.iter_mut().zip(chunk) {
            *slot += *x;
        }
    }
    for (slot, x) in acc.iter_mut().zip(chunks.remainder()) {
        *slot += *x;
    }
    fold(acc)
}

/// Euclidean norm, summed in f64 (same lanes and fold as the f32 kernels).
///
/// In f64 the squares of float32 values neither overflow nor underflow, so a tiny vector keeps
/// its direction and only an all-zero vector has norm 0. Not on the hot path: norms are computed
/// once per stored vector and once per query.
pub fn norm(v: &[f32]) -> f64 {
    let squares: Vec<f64> = v.iter().map(|x| *x as f64 * *x as f64).collect();
    lane_sum_f64(&squares).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_vectors(n: usize, dims: usize, seed: u64) -> Vec<f32> {
        crate::testdata::vectors(n * dims, seed)
    }

    #[test]
    fn dot_matches_a_naive_sum_closely() {
        let v = lcg_vectors(2, 100, 7);
        let (a, b) = v.split_at(100);
        let naive: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((pair(Kernel::Dot, a, b) as f64 - naive).abs() < 1e-5);
    }

    #[test]
    fn lanes_are_folded_in_the_canonical_order() {
        // 33 elements: a full chunk then a 1-element tail that only touches lane 0.
        let a: Vec<f32> = (0..33).map(|i| i as f32).collect();
        let ones = vec![1f32; 33];
        let mut acc = [0f32; LANES];
        for (i, x) in a.iter().enumerate() {
            acc[i % LANES] += x;
        }
        assert_eq!(pair(Kernel::Dot, &a, &ones), fold(acc));
        assert_eq!(pair(Kernel::Dot, &a, &ones), (0..33).sum::<i32>() as f32);
    }

    #[test]
    fn squared_l2_of_a_vector_with_itself_is_zero() {
        let v = lcg_vectors(1, 384, 3);
        assert_eq!(pair(Kernel::SquaredL2, &v, &v), 0.0);
        let w: Vec<f32> = v.iter().map(|x| x + 1.0).collect();
        assert!((pair(Kernel::SquaredL2, &v, &w) - 384.0).abs() < 1e-3);
    }

    #[test]
    fn simd_scan_gives_the_same_bits_as_the_portable_one() {
        for dims in [1, 7, 32, 33, 384, 385] {
            let rows = lcg_vectors(50, dims, dims as u64);
            let query = lcg_vectors(1, dims, 99);
            for kernel in [Kernel::Dot, Kernel::SquaredL2] {
                let mut fast = vec![0f32; 50];
                let mut slow = vec![0f32; 50];
                scan(kernel, &query, &rows, &mut fast);
                scan_portable(kernel, &query, &rows, &mut slow);
                assert_eq!(fast, slow, "dims={dims} kernel={kernel:?}");
                for (r, row) in rows.chunks_exact(dims).enumerate() {
                    assert_eq!(fast[r], pair(kernel, &query, row));
                    assert_eq!(fast[r], pair_portable(kernel, &query, row));
                }
            }
        }
    }

    #[test]
    fn read_all_sums_everything() {
        let data: Vec<f32> = (0..100).map(|i| i as f32).collect();
        assert_eq!(read_all(&data), 4950.0);
    }

    #[test]
    fn norm_is_the_euclidean_length() {
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
        assert_eq!(norm(&[0.0; 10]), 0.0);
        assert!((norm(&[3e-39]) - 3e-39).abs() < 1e-45);
        assert!(norm(&[3e38, 3e38]).is_finite());
    }
}
