//! The row table (`RowTable`: row id -> where its vectors are) and the hasher of the maps keyed by
//! row id: row ids are SQLite rowids, small dense integers chosen by us, so SipHash's protection
//! against chosen keys buys nothing, and it cost about a third of a search over 100k candidate ids
//! (one lookup each).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::size_of;

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

/// Ids below `2 x rows + DENSE_SLACK` are kept in the dense array (see `RowTable`).
const DENSE_SLACK: usize = 1 << 16;

/// Where each row's vectors are, by row id: a dense array indexed by the id for the ids a store
/// hands out (SQLite rowids, 1 to about the item count), and a hashed map for any other (negative,
/// or far past the count). A lookup is then an array read: a 10% value filter at 1M rows looks
/// up 100k candidate ids, which cost ~1.3 ms in the hashed map and ~0.2 ms here; and 1M rows take
/// 8 MB instead of the map's 35 MB (2^21 buckets of 17 bytes).
///
/// The array covers ids `0..dense.len()`, and every row with such an id is there (`grow` moves the
/// map's rows it comes to cover); it grows by half at least while the id stays under
/// `2 x rows + DENSE_SLACK`, so its size is bounded by about 3 x the rows at their most.
pub(super) struct RowTable<V: Copy + PartialEq> {
    dense: Vec<V>,
    sparse: RowMap<V>,
    vacant: V,
    len: usize,
}

impl<V: Copy + PartialEq> RowTable<V> {
    /// `vacant`: the value that marks an id without a row (never a real row's).
    pub(super) fn new(vacant: V) -> Self {
        Self {
            dense: Vec::new(),
            sparse: RowMap::default(),
            vacant,
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn position(&self, id: i64) -> Option<usize> {
        usize::try_from(id).ok().filter(|&i| i < self.dense.len())
    }

    #[inline]
    pub(super) fn get(&self, id: i64) -> Option<V> {
        match self.position(id) {
            Some(i) => Some(self.dense[i]).filter(|v| *v != self.vacant),
            None => self.sparse.get(&id).copied(),
        }
    }

    pub(super) fn get_mut(&mut self, id: i64) -> Option<&mut V> {
        match self.position(id) {
            Some(i) => Some(&mut self.dense[i]).filter(|v| **v != self.vacant),
            None => self.sparse.get_mut(&id),
        }
    }

    pub(super) fn contains(&self, id: i64) -> bool {
        self.get(id).is_some()
    }

    /// Sets the row of `id` (`value` is not `vacant`).
    pub(super) fn insert(&mut self, id: i64, value: V) {
        debug_assert!(value != self.vacant);
        if self.position(id).is_none() {
            self.grow(id);
        }
        let old = match self.position(id) {
            Some(i) => std::mem::replace(&mut self.dense[i], value),
            None => self.sparse.insert(id, value).unwrap_or(self.vacant),
        };
        self.len += usize::from(old == self.vacant);
    }

    pub(super) fn remove(&mut self, id: i64) -> Option<V> {
        let old = match self.position(id) {
            Some(i) => Some(std::mem::replace(&mut self.dense[i], self.vacant))
                .filter(|v| *v != self.vacant),
            None => self.sparse.remove(&id),
        };
        self.len -= usize::from(old.is_some());
        old
    }

    /// Extends the array to cover `id` when it is in the dense range (else it goes to the map).
    fn grow(&mut self, id: i64) {
        let Ok(id) = usize::try_from(id) else {
            return;
        };
        if id >= 2 * (self.len + 1) + DENSE_SLACK {
            return;
        }
        let mut size = (id + 1).max(self.dense.len() + self.dense.len() / 2);
        if size > self.dense.capacity() && id < self.dense.capacity() {
            size = self.dense.capacity(); // what `reserve` made room for, no reallocation
        }
        self.dense.resize(size, self.vacant);
        if !self.sparse.is_empty() {
            let covered: Vec<(i64, V)> = self
                .sparse
                .iter()
                .filter(|(&k, _)| usize::try_from(k).is_ok_and(|k| k < size))
                .map(|(&k, &v)| (k, v))
                .collect();
            for (k, v) in covered {
                self.sparse.remove(&k);
                self.dense[k as usize] = v;
            }
        }
    }

    /// Room for `rows` more rows, if their ids follow the ones held (a load).
    pub(super) fn reserve(&mut self, rows: usize) {
        let top = self.len + rows + 1;
        self.dense.reserve(top.saturating_sub(self.dense.len()));
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.dense.capacity() * size_of::<V>()
            + self.sparse.capacity() * (size_of::<(i64, V)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table against a plain map, through ids of every kind: dense, negative, far out, and
    /// far-out ids the array later comes to cover.
    #[test]
    fn the_table_holds_what_a_map_holds() {
        let mut table = RowTable::new(u64::MAX);
        let mut model: HashMap<i64, u64> = HashMap::new();
        let far = (DENSE_SLACK * 4) as i64;
        let mut ids: Vec<i64> = vec![-5, 0, i64::MIN, i64::MAX, far, far + 1, 3, 3];
        ids.extend(1..(DENSE_SLACK as i64 * 3)); // the array grows over `far` (moved from the map)
        ids.extend([far + 2, -5, 7]);
        for (n, &id) in ids.iter().enumerate() {
            let value = n as u64;
            if n % 5 == 4 {
                assert_eq!(table.remove(id), model.remove(&id), "remove {id}");
            } else {
                table.insert(id, value);
                model.insert(id, value);
            }
            assert_eq!(table.len(), model.len());
        }
        for id in [
            -5,
            0,
            3,
            7,
            far,
            far + 1,
            far + 2,
            i64::MIN,
            i64::MAX,
            12345,
            -1,
        ] {
            assert_eq!(table.get(id), model.get(&id).copied(), "id {id}");
            assert_eq!(table.contains(id), model.contains_key(&id));
        }
        for (&id, &value) in &model {
            assert_eq!(table.get(id), Some(value));
            *table.get_mut(id).unwrap() += 1;
            assert_eq!(table.get(id), Some(value + 1));
        }
        assert!(table
            .sparse
            .keys()
            .all(|&id| usize::try_from(id).map_or(true, |i| i >= table.dense.len())));
        assert!(table.dense.len() <= 3 * (ids.len() + DENSE_SLACK));
    }

    #[test]
    fn a_reserved_load_fills_the_array_without_reallocating() {
        let mut table = RowTable::new(u64::MAX);
        table.reserve(100_000);
        let capacity = table.dense.capacity();
        for id in 1..=100_000 {
            table.insert(id, id as u64);
        }
        assert_eq!(table.dense.capacity(), capacity);
        assert!(table.sparse.is_empty());
        assert_eq!(table.len(), 100_000);
    }
}
