//! The hasher of the row map: row ids are SQLite rowids, small dense integers chosen by us, so
//! SipHash's protection against chosen keys buys nothing, and it cost about a third of a search
//! over 100k candidate ids (one lookup each).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub(super) struct RowIdHasher(u64);

impl Hasher for RowIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(byte as u64);
        }
    }

    #[inline]
    fn write_i64(&mut self, id: i64) {
        self.write_u64(id as u64);
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        // Fibonacci hashing, high half folded down: low bits (the bucket) and high bits (the
        // table's tag byte) both depend on every bit of the id.
        let mixed = (self.0 ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = mixed ^ (mixed >> 32);
    }
}

pub(super) type RowMap<V> = HashMap<i64, V, BuildHasherDefault<RowIdHasher>>;
