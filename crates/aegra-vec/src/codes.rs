//! Code records: a vector's int8 codes and bounds as bytes. The store keeps one beside each float32
//! vector (SQLite table `store_vector_codes`) and loads the index from them, so a start reads a
//! quarter of the bytes and quantizes nothing.
//!
//! Layout, little-endian: `norm` f64 | `scale` f32 | `residual` f32 | `dims` int8 codes. The size,
//! `16 + dims`, differs for every `dims`, so records of another model's size are told apart by
//! length alone, as the float32 BLOBs are.

use crate::errors::{check_dims_positive, VecError, VecResult};
use crate::kernels::int8::{self, Code};
use crate::kernels::norm;
use crate::packing;

/// Bytes before the codes.
pub const HEADER: usize = 16;

/// Bytes of one record for vectors of `dims` dimensions.
pub fn record_size(dims: usize) -> usize {
    HEADER + dims
}

/// One record, read and checked.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub norm: f64,
    pub code: Code,
    pub codes: &'a [u8],
}

/// The records of a row-major `rows x dims` matrix, validated as `packing::validate` does.
pub fn encode(data: &[f32], dims: usize) -> VecResult<Vec<u8>> {
    let norms = packing::validate(data, dims)?;
    let size = record_size(dims);
    let mut out = vec![0u8; norms.len() * size];
    let mut codes = vec![0i8; int8::padded(dims)];
    for ((row, &norm), record) in data
        .chunks_exact(dims)
        .zip(&norms)
        .zip(out.chunks_exact_mut(size))
    {
        let code = int8::quantize(row, norm, &mut codes);
        write(record, norm, code, &codes[..dims]);
    }
    Ok(out)
}

fn write(record: &mut [u8], norm: f64, code: Code, codes: &[i8]) {
    record[..8].copy_from_slice(&norm.to_le_bytes());
    record[8..12].copy_from_slice(&code.scale.to_le_bytes());
    record[12..16].copy_from_slice(&code.residual.to_le_bytes());
    for (byte, &c) in record[HEADER..].iter_mut().zip(codes) {
        *byte = c as u8;
    }
}

fn malformed(index: usize, what: &str) -> VecError {
    VecError(format!("code record {index} is malformed: {what}"))
}

/// Splits `records` into checked records: whole records, finite non-negative bounds, a norm whose
/// square fits f32 (as `packing::validate` demands of vectors), codes in [-127, 127] (the AVX2
/// kernel's sign trick needs -128 absent).
pub fn parse(records: &[u8], dims: usize) -> VecResult<Vec<Record<'_>>> {
    check_dims_positive(dims)?;
    let size = record_size(dims);
    if records.len() % size != 0 {
        return Err(VecError(format!(
            "{} bytes are not whole code records of {size} bytes ({dims} dimensions)",
            records.len()
        )));
    }
    records
        .chunks_exact(size)
        .enumerate()
        .map(|(index, record)| {
            let norm = f64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
            let scale = f32::from_le_bytes(record[8..12].try_into().expect("4 bytes"));
            let residual = f32::from_le_bytes(record[12..16].try_into().expect("4 bytes"));
            let fits = norm * norm <= f32::MAX as f64;
            if !(norm.is_finite() && norm >= 0.0 && fits) {
                return Err(malformed(index, "bad norm"));
            }
            if !(scale.is_finite() && scale >= 0.0 && residual.is_finite() && residual >= 0.0) {
                return Err(malformed(index, "bad scale or residual"));
            }
            let codes = &record[HEADER..];
            if codes.contains(&0x80) {
                return Err(malformed(index, "a code of -128"));
            }
            Ok(Record {
                norm,
                code: Code { scale, residual },
                codes,
            })
        })
        .collect()
}

/// The record of one vector (for tests and the query side).
pub fn encode_one(v: &[f32]) -> Vec<u8> {
    let mut codes = vec![0i8; int8::padded(v.len())];
    let n = norm(v);
    let code = int8::quantize(v, n, &mut codes);
    let mut out = vec![0u8; record_size(v.len())];
    write(&mut out, n, code, &codes[..v.len()]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_are_checked() {
        let data = [3.0f32, 4.0, 0.0, 0.0, 1e-39, 0.0];
        let records = encode(&data, 2).unwrap();
        assert_eq!(records.len(), 3 * record_size(2));
        assert_eq!(&records[..18], &encode_one(&[3.0, 4.0])[..]);
        let parsed = parse(&records, 2).unwrap();
        assert_eq!(parsed[0].norm, 5.0);
        assert_eq!(parsed[0].codes, &[95u8, 127]);
        assert_eq!(parsed[1].code, Code::default());
        assert_eq!(parsed[2].code.scale, 0.0);
        assert!(parsed[2].code.residual > 0.0);
        assert_eq!(
            parse(&records[1..], 2).unwrap_err().0,
            "53 bytes are not whole code records of 18 bytes (2 dimensions)"
        );
        let mut bad = records.clone();
        bad[16] = 0x80;
        assert_eq!(
            parse(&bad, 2).unwrap_err().0,
            "code record 0 is malformed: a code of -128"
        );
        let mut bad = records.clone();
        bad[18..26].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(
            parse(&bad, 2).unwrap_err().0,
            "code record 1 is malformed: bad norm"
        );
        assert_eq!(
            encode(&[1.0, f32::NAN], 2).unwrap_err().0,
            "vector 0 has a non-finite value (nan) at position 1"
        );
    }
}
