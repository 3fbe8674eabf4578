//! Validating, normalizing and packing float32 vectors into sqlite-vec's BLOB layout
//! (little-endian float32, no header - what `sqlite_vec.serialize_float32` writes).

use crate::errors::{
    check_dims_positive, non_finite, too_large, vector_label, wrong_dims, VecResult,
};
use crate::kernels;

/// Whether the squared norm fits float32: then no partial sum of a float32 dot product of two such
/// vectors can overflow (each is at most the product of the norms, by Cauchy-Schwarz).
fn fits_f32(norm: f64) -> bool {
    norm * norm <= f32::MAX as f64
}

/// Checks a row-major `rows x dims` matrix and returns each row's norm.
///
/// All values are checked for NaN/inf before any norm, so the first error reported is the same
/// whatever the order of the two checks in another implementation.
pub fn validate(data: &[f32], dims: usize) -> VecResult<Vec<f64>> {
    check_dims_positive(dims)?;
    assert_eq!(data.len() % dims, 0, "the caller checks the matrix shape");
    if let Some(index) = data.iter().position(|x| !x.is_finite()) {
        return Err(non_finite(
            &vector_label(Some(index / dims)),
            index % dims,
            data[index],
        ));
    }
    data.chunks_exact(dims)
        .enumerate()
        .map(|(row, v)| {
            let norm = kernels::norm(v);
            if fits_f32(norm) {
                Ok(norm)
            } else {
                Err(too_large(&vector_label(Some(row))))
            }
        })
        .collect()
}

/// Checks a query vector and returns its norm.
pub fn validate_query(query: &[f32], dims: usize) -> VecResult<f64> {
    if query.len() != dims {
        return Err(wrong_dims(dims, query.len()));
    }
    let label = vector_label(None);
    if let Some(index) = query.iter().position(|x| !x.is_finite()) {
        return Err(non_finite(&label, index, query[index]));
    }
    let norm = kernels::norm(query);
    if fits_f32(norm) {
        Ok(norm)
    } else {
        Err(too_large(&label))
    }
}

/// Writes `row` (divided by `norm` when normalizing a non-zero vector) as little-endian float32.
///
/// A zero vector stays zero: it cannot be normalized and scores 0 under cosine, as in LangGraph.
pub fn write_row(row: &[f32], norm: f64, normalize: bool, out: &mut [u8]) {
    debug_assert_eq!(out.len(), row.len() * 4);
    let scale = normalize && norm > 0.0;
    for (value, bytes) in row.iter().zip(out.chunks_exact_mut(4)) {
        let v = if scale {
            (*value as f64 / norm) as f32
        } else {
            *value
        };
        bytes.copy_from_slice(&v.to_le_bytes());
    }
}

/// The normalized copy of a validated matrix (what `write_row` would pack, as floats).
pub fn normalized(data: &[f32], dims: usize, norms: &[f64]) -> Vec<f32> {
    data.chunks_exact(dims)
        .zip(norms)
        .flat_map(|(row, &norm)| {
            row.iter().map(move |v| {
                if norm > 0.0 {
                    (*v as f64 / norm) as f32
                } else {
                    *v
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_of_valid_rows() {
        assert_eq!(validate(&[3.0, 4.0, 0.0, 0.0], 2).unwrap(), vec![5.0, 0.0]);
    }

    #[test]
    fn bad_shapes_and_values_are_named() {
        assert_eq!(
            validate(&[], 0).unwrap_err().0,
            "dims must be a positive integer, got 0"
        );
        let err = validate(&[1.0, 2.0, f32::INFINITY, f32::NAN], 2).unwrap_err();
        assert_eq!(err.0, "vector 1 has a non-finite value (inf) at position 0");
        let err = validate(&[1.0, f32::NAN], 2).unwrap_err();
        assert_eq!(err.0, "vector 0 has a non-finite value (nan) at position 1");
        let err = validate(&[1.0, 1.0, 2e19, 0.0], 2).unwrap_err();
        assert_eq!(
            err.0,
            "vector 1 is too large: its squared norm overflows float32"
        );
        assert_eq!(
            validate_query(&[1.0], 2).unwrap_err().0,
            "expected vectors of 2 dimensions, got 1"
        );
        assert_eq!(
            validate_query(&[1.0, f32::NEG_INFINITY], 2).unwrap_err().0,
            "the query vector has a non-finite value (-inf) at position 1"
        );
        assert_eq!(validate_query(&[3.0, 4.0], 2).unwrap(), 5.0);
    }

    #[test]
    fn rows_are_packed_little_endian_and_normalized() {
        let mut out = [0u8; 8];
        write_row(&[3.0, 4.0], 5.0, true, &mut out);
        assert_eq!(&out[..4], &0.6f32.to_le_bytes());
        assert_eq!(&out[4..], &0.8f32.to_le_bytes());
        write_row(&[3.0, 4.0], 5.0, false, &mut out);
        assert_eq!(&out[..4], &3.0f32.to_le_bytes());
        write_row(&[0.0, 0.0], 0.0, true, &mut out);
        assert_eq!(out, [0u8; 8]);
        assert_eq!(
            normalized(&[3.0, 4.0, 0.0, 0.0], 2, &[5.0, 0.0]),
            vec![0.6, 0.8, 0.0, 0.0]
        );
    }
}
