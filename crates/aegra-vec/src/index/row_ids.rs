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
        // The table's bucket is the hash's low bits, its tag byte the top 7. Low bits that follow
        // the id keep neighbouring ids in neighbouring buckets: a load (ids in order) and a
        // lookup of sorted candidates walk the table front to back instead of missing the cache
        // on every row (a million-row load spent about 0.2 s there). The id's higher bits are
        // folded in, so ids spaced by a power of two (every 1024th item embedded) still spread
        // over the buckets; the tag is Fibonacci-hashed from every bit.
        let id = self.0 ^ value;
        let folded = id ^ (id >> 12) ^ (id >> 24) ^ (id >> 40);
        let mixed = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = (folded & (u64::MAX >> 7)) | (mixed & !(u64::MAX >> 7));
    }
}

pub(super) type RowMap<V> = HashMap<i64, V, BuildHasherDefault<RowIdHasher>>;
