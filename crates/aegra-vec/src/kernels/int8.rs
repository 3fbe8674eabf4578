//! int8 codes of the vectors: what the index keeps in memory and scans (see `index/first_pass.rs`).
//!
//! A vector `v` is kept as `scale * codes`, with `scale = max|v_i| / 127` rounded to f32 and the
//! codes rounded (half away from zero) to `[-127, 127]`, plus an upper bound of the distance it lies
//! from that approximation (`residual`). The dot product of two code rows is an integer sum, exact
//! in `i32` (384 dims x 127 x 127 is about 6.2M), so every backend and instruction set computes the
//! same value and the error bounds built on it hold whatever the CPU. Rows are padded with zero codes
//! to a multiple of `CODE_ALIGN` bytes.
//!
//! Every step is spelled so that the numpy twin (`aegra/vec/_python/codes.py`) gets the same bits:
//! f64 arithmetic, one rounding each, and the residual summed in the lanes of `kernels::norm`.

use super::lane_sum_f64;

/// Code rows are padded to a multiple of this many bytes (one AVX2 register).
pub const CODE_ALIGN: usize = 32;

/// Bytes of a code row for vectors of `dims` dimensions.
pub fn padded(dims: usize) -> usize {
    dims.div_ceil(CODE_ALIGN) * CODE_ALIGN
}

/// How far the codes may lie from the real vector, and their scale: `v ~ scale * codes`, and
/// `|v - scale * codes| <= residual` (Euclidean).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Code {
    pub scale: f32,
    pub residual: f32,
}

/// The smallest f32 not below `value` (a non-negative f64): bounds rounded to f32 stay bounds.
pub fn f32_at_least(value: f64) -> f32 {
    let rounded = value as f32;
    if (rounded as f64) < value {
        // The next f32 up; `value` is finite and non-negative, so `rounded` is too.
        f32::from_bits(rounded.to_bits() + 1)
    } else {
        rounded
    }
}

/// `round()` of Rust (half away from zero), which the twin spells out with `trunc`.
#[inline]
fn round_half_away(x: f64) -> f64 {
    x.round()
}

/// Writes the codes of `v` into `out` (`padded(v.len())` bytes) and returns its scale and bound;
/// `norm` is `kernels::norm(v)`, the bound when the scale underflows.
pub fn quantize(v: &[f32], norm: f64, out: &mut [i8]) -> Code {
    debug_assert_eq!(out.len(), padded(v.len()));
    out.fill(0);
    let largest = v.iter().fold(0f64, |m, x| m.max((*x as f64).abs()));
    let scale = (largest / 127.0) as f32;
    if largest == 0.0 {
        return Code::default();
    }
    if scale == 0.0 || !scale.is_normal() {
        // A vector this small (subnormal coordinates) keeps no codes: it lies `norm` from zero.
        return Code {
            scale: 0.0,
            residual: f32_at_least(norm * (1.0 + 1e-9)),
        };
    }
    let s = scale as f64;
    let mut errors = vec![0f64; v.len()];
    for ((code, &x), error) in out.iter_mut().zip(v).zip(errors.iter_mut()) {
        let c = round_half_away(x as f64 / s).clamp(-127.0, 127.0);
        *code = c as i8;
        let e = x as f64 - s * c;
        *error = e * e;
    }
    // f64 rounding in the sum is relative 1e-16-ish; the slack keeps the bound a bound.
    let residual = lane_sum_f64(&errors).sqrt() * (1.0 + 1e-9) + f64::MIN_POSITIVE;
    Code {
        scale,
        residual: f32_at_least(residual),
    }
}

/// An upper bound of `|scale * codes|` (for the query's side of the bounds).
pub fn code_norm(codes: &[i8], scale: f32) -> f64 {
    let s = scale as f64;
    let squares: Vec<f64> = codes
        .iter()
        .map(|&c| (s * c as f64) * (s * c as f64))
        .collect();
    lane_sum_f64(&squares).sqrt() * (1.0 + 1e-9)
}

/// `sum(a[i] * b[i])` over two code rows of equal, `CODE_ALIGN`-padded length.
#[inline]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    assert_eq!(a.len(), b.len(), "code rows of different sizes");
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2() {
        // SAFETY: AVX2 is there (checked) and the lengths are equal.
        return unsafe { avx2::dot(a, b) };
    }
    dot_portable(a, b)
}

/// The widest instruction set the int8 kernels use on this CPU.
pub fn active_simd() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2() {
        return "avx2";
    }
    "portable"
}

/// `out[r] = dot(query, rows[r])` for each code row of `rows`.
pub fn dot_rows(query: &[i8], rows: &[i8], out: &mut [i32]) {
    let width = query.len();
    assert!(width > 0 && width % CODE_ALIGN == 0, "a padded code row");
    assert_eq!(rows.len() % width, 0, "rows are not whole code rows");
    assert!(out.len() >= rows.len() / width, "output buffer too short");
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2() {
        // SAFETY: AVX2 is there (checked) and the shapes were checked just above.
        unsafe { avx2::dot_rows(query, rows, out) };
        return;
    }
    for (row, slot) in rows.chunks_exact(width).zip(out.iter_mut()) {
        *slot = dot_portable(query, row);
    }
}

/// Code rows `dot_group` scores at once.
pub const GROUP: usize = 8;

/// `dot(query, rows[r])` for `GROUP` code rows at once, each `query.len()` long: the query's
/// registers are loaded once for the group, and the sums are reduced together.
#[inline]
pub fn dot_group(query: &[i8], rows: &[&[i8]; GROUP]) -> [i32; GROUP] {
    assert!(query.len() % CODE_ALIGN == 0, "a padded code row");
    assert!(
        rows.iter().all(|row| row.len() == query.len()),
        "code rows of different sizes"
    );
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2() {
        // SAFETY: AVX2 is there (checked) and every row is as long as the query (checked).
        return unsafe { avx2::dot_group(query, rows) };
    }
    rows.map(|row| dot_portable(query, row))
}

#[inline]
fn dot_portable(a: &[i8], b: &[i8]) -> i32 {
    // i16 products summed in i32: LLVM vectorizes this with pmaddwd on the SSE2 baseline.
    a.iter()
        .zip(b)
        .map(|(x, y)| *x as i16 as i32 * *y as i16 as i32)
        .sum()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::CODE_ALIGN;
    use std::arch::x86_64::*;

    /// Code rows prefetched ahead of the one being scored.
    const PREFETCH_ROWS: usize = 16;

    /// # Safety
    /// AVX2 must be available; equal lengths, a multiple of `CODE_ALIGN`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot(a: &[i8], b: &[i8]) -> i32 {
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        while i < a.len() {
            let x = _mm256_loadu_si256(a.as_ptr().add(i) as *const __m256i);
            let y = _mm256_loadu_si256(b.as_ptr().add(i) as *const __m256i);
            // |x| * (y * sign(x)) = x * y, as u8 x i8 pairs summed into i16: at most
            // 2 * 127 * 127 = 32258, so `maddubs` never saturates (codes stay in [-127, 127]).
            let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
            i += CODE_ALIGN;
        }
        let half = _mm_add_epi32(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256(acc, 1),
        );
        let quarter = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0b01_00_11_10));
        let one = _mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 0b10_11_00_01));
        _mm_cvtsi128_si32(one)
    }

    /// # Safety
    /// AVX2 must be available; every row as long as `query`, a multiple of `CODE_ALIGN`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_group(query: &[i8], rows: &[&[i8]; super::GROUP]) -> [i32; super::GROUP] {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_si256(); super::GROUP];
        let mut i = 0;
        while i < query.len() {
            let q = _mm256_loadu_si256(query.as_ptr().add(i) as *const __m256i);
            // |q| once for the group (see `dot` for why `maddubs` cannot saturate).
            let magnitude = _mm256_sign_epi8(q, q);
            for (slot, row) in acc.iter_mut().zip(rows) {
                let y = _mm256_loadu_si256(row.as_ptr().add(i) as *const __m256i);
                let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(y, q));
                *slot = _mm256_add_epi32(*slot, _mm256_madd_epi16(pairs, ones));
            }
            i += CODE_ALIGN;
        }
        // Eight registers of eight partial sums to one register of eight sums, in pairs (integer
        // sums: the order does not matter).
        let h01 = _mm256_hadd_epi32(acc[0], acc[1]);
        let h23 = _mm256_hadd_epi32(acc[2], acc[3]);
        let h45 = _mm256_hadd_epi32(acc[4], acc[5]);
        let h67 = _mm256_hadd_epi32(acc[6], acc[7]);
        let h0123 = _mm256_hadd_epi32(h01, h23); // lanes: 0 1 2 3 (low half) | 0 1 2 3 (high half)
        let h4567 = _mm256_hadd_epi32(h45, h67);
        let sums = _mm256_add_epi32(
            _mm256_permute2x128_si256(h0123, h4567, 0x20),
            _mm256_permute2x128_si256(h0123, h4567, 0x31),
        );
        let mut out = [0i32; super::GROUP];
        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, sums);
        out
    }

    /// # Safety
    /// AVX2 must be available; `rows` whole rows of `query.len()` codes, `out` long enough.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_rows(query: &[i8], rows: &[i8], out: &mut [i32]) {
        let width = query.len();
        for (r, (row, slot)) in rows.chunks_exact(width).zip(out.iter_mut()).enumerate() {
            if let Some(next) =
                rows.get((r + PREFETCH_ROWS) * width..(r + PREFETCH_ROWS + 1) * width)
            {
                for line in next.chunks(64) {
                    _mm_prefetch::<_MM_HINT_T0>(line.as_ptr());
                }
            }
            *slot = dot(query, row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::norm;

    #[test]
    fn codes_bound_the_vector() {
        let v: Vec<f32> = (0..70)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let mut codes = vec![0i8; padded(70)];
        let code = quantize(&v, norm(&v), &mut codes);
        assert_eq!(codes.len(), 96);
        assert!(codes[70..].iter().all(|&c| c == 0));
        assert_eq!(codes.iter().map(|c| c.unsigned_abs()).max(), Some(127));
        let error: f64 = v
            .iter()
            .zip(&codes)
            .map(|(x, c)| (*x as f64 - code.scale as f64 * *c as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(error <= code.residual as f64 && code.residual < 0.05);
        assert_eq!(quantize(&[0.0; 3], 0.0, &mut [0; 32]), Code::default());
        let tiny = [3e-39f32, -1e-45];
        let code = quantize(&tiny, norm(&tiny), &mut [0; 32]);
        assert_eq!(code.scale, 0.0);
        assert!(code.residual as f64 >= norm(&tiny) && code.residual > 0.0);
    }

    #[test]
    fn bounds_round_up_to_f32() {
        assert_eq!(f32_at_least(1.0), 1.0);
        let up = f32_at_least(1.0 + 1e-12);
        assert!(up > 1.0 && (up as f64) >= 1.0 + 1e-12);
        assert_eq!(f32_at_least(0.0), 0.0);
        assert!(f32_at_least(1e-50) > 0.0);
    }

    #[test]
    fn simd_and_portable_dots_agree_exactly() {
        let a: Vec<i8> = (0i32..96).map(|i| (i * 91 % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0i32..96).map(|i| (i * 53 % 255 - 127) as i8).collect();
        let naive: i32 = a.iter().zip(&b).map(|(x, y)| *x as i32 * *y as i32).sum();
        assert_eq!(dot(&a, &b), naive);
        assert_eq!(dot_portable(&a, &b), naive);
        let extremes = vec![-127i8; 384];
        assert_eq!(dot(&extremes, &extremes), 384 * 127 * 127);
        let mixed: Vec<i8> = (0..384)
            .map(|i| if i % 3 == 0 { 127 } else { -127 })
            .collect();
        assert_eq!(dot(&extremes, &mixed), dot_portable(&extremes, &mixed));
        let group: Vec<Vec<i8>> = (0..GROUP as i32)
            .map(|g| {
                (0..96)
                    .map(|i| ((i * 17 + g * 29) % 255 - 127) as i8)
                    .collect()
            })
            .collect();
        let refs: [&[i8]; GROUP] = std::array::from_fn(|g| group[g].as_slice());
        let expected: [i32; GROUP] = std::array::from_fn(|g| dot_portable(&a, &group[g]));
        assert_eq!(dot_group(&a, &refs), expected);
        let mut out = vec![0; 3];
        let rows: Vec<i8> = [a.clone(), b.clone(), a.clone()].concat();
        dot_rows(&a, &rows, &mut out);
        assert_eq!(out, vec![dot(&a, &a), naive, dot(&a, &a)]);
    }
}
