//! Deterministic pseudo-random coordinates in [-0.5, 0.5) (a 64-bit LCG), shared by the crate's
//! tests and its examples so that they draw the same data.

/// The next coordinate from `state`, which it advances.
pub fn next_unit(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
}

/// `len` coordinates from `seed`.
pub fn vectors(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len).map(|_| next_unit(&mut state)).collect()
}
