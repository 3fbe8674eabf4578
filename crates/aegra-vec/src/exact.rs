//! The exact ranking: float32 vectors scored with the canonical kernel, rows by their best vector.
//!
//! The second step of a search (the first, `VectorIndex::candidates`, says which rows' vectors to
//! read), and on its own the brute force that tests hold the index to: given every vector, it is
//! the exact answer by definition.

use crate::errors::{VecError, VecResult};
use crate::index::Metric;
use crate::kernels::{self, Kernel};
use crate::packing;
use crate::topk::TopK;

/// The `k` best rows as (row id, score), best first, ties by row id; vector `i` (row `i` of the
/// row-major `data`) belongs to `owners[i]`.
pub fn top_k(
    query: &[f32],
    k: usize,
    owners: &[i64],
    data: &[f32],
    metric: Metric,
) -> VecResult<Vec<(i64, f64)>> {
    let dims = query.len();
    let query_norm = packing::validate_query(query, dims)?;
    if data.len() % dims.max(1) != 0 || data.len() / dims.max(1) != owners.len() {
        return Err(VecError(format!(
            "got {} floats for {} owners of {dims}-dimension vectors",
            data.len(),
            owners.len()
        )));
    }
    let norms = packing::validate(data, dims)?;
    let mut top = TopK::new(owners.len().max(1));
    for ((vector, &norm), &owner) in data.chunks_exact(dims).zip(&norms).zip(owners) {
        let raw = kernels::pair(Kernel::Dot, query, vector);
        top.offer(metric.score(raw, query_norm, norm), owner);
    }
    Ok(top.finish(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_rank_by_their_best_vector() {
        let data = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.0];
        let found = top_k(&[1.0, 0.0], 3, &[7, 2, 7, 1], &data, Metric::Cosine).unwrap();
        assert_eq!(found[0], (7, 1.0));
        assert_eq!(found[1], (2, 0.0));
        assert_eq!(found[2], (1, -1.0));
        assert_eq!(
            top_k(&[1.0, 0.0], 3, &[1], &data, Metric::Cosine)
                .unwrap_err()
                .0,
            "got 8 floats for 1 owners of 2-dimension vectors"
        );
    }
}
