//! Unit tests of the index: every search is the first pass, then the exact ranking of the
//! surviving rows' vectors (read from a mirror, as the store reads them from its file), held to
//! the brute force (`exact::top_k` over every eligible vector).

use std::collections::BTreeMap;

use super::*;
use crate::codes::encode;
use crate::exact;
use crate::testdata::next_unit;

fn ns(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|s| s.to_string()).collect()
}

/// The index beside the float32 vectors it was given.
struct Mirror {
    index: VectorIndex,
    rows: BTreeMap<i64, (Vec<String>, Vec<f32>)>,
}

impl Mirror {
    fn new(dims: usize) -> Self {
        Self {
            index: VectorIndex::new(dims).unwrap(),
            rows: BTreeMap::new(),
        }
    }

    fn upsert(&mut self, row_id: i64, namespace: &[String], data: &[f32]) {
        let records = encode(data, self.index.dims()).unwrap();
        self.index.upsert(row_id, namespace, &records).unwrap();
        self.rows.remove(&row_id);
        if !data.is_empty() {
            self.rows
                .insert(row_id, (namespace.to_vec(), data.to_vec()));
        }
    }

    fn delete(&mut self, row_id: i64) -> bool {
        self.rows.remove(&row_id);
        self.index.delete(row_id)
    }

    /// The vectors of `rows` (owner per vector, row-major data).
    fn vectors_of(&self, rows: impl Iterator<Item = i64>) -> (Vec<i64>, Vec<f32>) {
        let dims = self.index.dims();
        let (mut owners, mut data) = (Vec::new(), Vec::new());
        for row in rows {
            if let Some((_, vectors)) = self.rows.get(&row) {
                owners.extend(std::iter::repeat(row).take(vectors.len() / dims));
                data.extend_from_slice(vectors);
            }
        }
        (owners, data)
    }

    fn search_stats(
        &self,
        query: &[f32],
        k: usize,
        prefix: &[String],
        candidates: Option<&[i64]>,
        metric: Metric,
    ) -> (Vec<(i64, f64)>, SearchStats) {
        let (rows, stats) = self
            .index
            .candidates(query, k, prefix, candidates, metric)
            .unwrap();
        let (owners, data) = self.vectors_of(rows.into_iter());
        let found = exact::top_k(query, k, &owners, &data, metric).unwrap();
        (found, stats)
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        prefix: &[String],
        candidates: Option<&[i64]>,
        metric: Metric,
    ) -> Vec<(i64, f64)> {
        self.search_stats(query, k, prefix, candidates, metric).0
    }

    fn brute_force(
        &self,
        query: &[f32],
        k: usize,
        prefix: &[String],
        candidates: Option<&[i64]>,
        metric: Metric,
    ) -> Vec<(i64, f64)> {
        let eligible = self.rows.iter().filter(|(id, (space, _))| {
            space.starts_with(prefix) && candidates.is_none_or(|c| c.contains(id))
        });
        let (owners, data) = self.vectors_of(eligible.map(|(id, _)| *id));
        exact::top_k(query, k, &owners, &data, metric).unwrap()
    }
}

fn sample() -> Mirror {
    let mut index = Mirror::new(2);
    index.upsert(1, &ns(&["users", "a"]), &[1.0, 0.0]);
    index.upsert(2, &ns(&["users", "b"]), &[0.0, 1.0]);
    index.upsert(3, &ns(&["users", "a"]), &[1.0, 1.0]);
    index.upsert(4, &ns(&["docs"]), &[-1.0, 0.0]);
    index
}

#[test]
fn cosine_search_ranks_by_similarity() {
    let index = sample();
    let found = index.search(&[1.0, 0.0], 10, &[], None, Metric::Cosine);
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![1, 3, 2, 4]);
    assert_eq!(found[0].1, 1.0);
    assert!((found[1].1 - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    assert_eq!(found[3].1, -1.0);
    let ip = index.search(&[2.0, 2.0], 1, &[], None, Metric::InnerProduct);
    assert_eq!(ip, vec![(3, 4.0)]);
}

#[test]
fn namespace_prefix_and_candidates_narrow_the_search() {
    let index = sample();
    let users = ns(&["users"]);
    let found = index.search(&[1.0, 0.0], 10, &users, None, Metric::Cosine);
    assert_eq!(found.len(), 3);
    let only = index.search(
        &[1.0, 0.0],
        10,
        &users,
        Some(&[2, 4, 99, 2]),
        Metric::Cosine,
    );
    assert_eq!(only, vec![(2, 0.0)]);
    assert!(index
        .search(&[1.0, 0.0], 10, &ns(&["nobody"]), None, Metric::Cosine)
        .is_empty());
    // "user" is not a prefix of the label "users".
    assert!(index
        .search(&[1.0, 0.0], 10, &ns(&["user"]), None, Metric::Cosine)
        .is_empty());
}

#[test]
fn rows_with_several_vectors_score_their_best_one_once() {
    let mut index = sample();
    index.upsert(9, &ns(&["docs"]), &[0.0, 1.0, 1.0, 0.1]);
    let found = index.search(&[1.0, 0.0], 2, &[], None, Metric::Cosine);
    assert_eq!(found[0].0, 1);
    assert_eq!(found[1].0, 9);
    assert_eq!(index.index.vector_count(), 6);
}

#[test]
fn delete_and_replace_keep_blocks_dense_and_consistent() {
    let mut index = sample();
    index.upsert(5, &ns(&["users", "a"]), &[0.5, 0.5, 0.2, 0.9]);
    assert!(index.delete(1));
    assert!(!index.delete(1));
    index.upsert(3, &ns(&["docs"]), &[0.0, 1.0]); // moves namespace
    index.upsert(2, &ns(&["users", "b"]), &[]); // no vectors: removed
    assert_eq!(index.index.len(), 3);
    assert_eq!(index.index.vector_count(), 4);
    let found = index.search(&[0.0, 1.0], 10, &ns(&["users"]), None, Metric::Cosine);
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![5]);
    let found = index.search(&[0.0, 1.0], 10, &[], None, Metric::Cosine);
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![3, 5, 4]);
}

#[test]
fn upsert_many_groups_records_by_row_and_rejects_bad_input_whole() {
    let mut index = VectorIndex::new(2).unwrap();
    let spaces = vec![ns(&["a"]), ns(&["b"])];
    let records = encode(&[1.0, 0.0, 0.0, 1.0, 0.0, -1.0], 2).unwrap();
    index
        .upsert_many(&[7, 8, 7], &[0, 1, 0], &spaces, &records)
        .unwrap();
    assert_eq!((index.len(), index.vector_count()), (2, 3));
    let two = encode(&[1.0, 0.0, 0.0, 1.0], 2).unwrap();
    let err = index
        .upsert_many(&[1, 1], &[0, 1], &spaces, &two)
        .unwrap_err();
    assert!(err.0.contains("two namespaces"), "{err}");
    let err = index
        .upsert_many(&[1, 2], &[0, 5], &spaces, &two)
        .unwrap_err();
    assert_eq!(err.0, "namespace id 5 is out of range (2 namespaces)");
    let err = index.upsert_many(&[1], &[0], &spaces, &two).unwrap_err();
    assert_eq!(
        err.0,
        "got 2 code records but 1 row ids and 1 namespace ids"
    );
    assert_eq!(index.len(), 2);
}

#[test]
fn errors_are_clear() {
    let index = sample();
    let err = index
        .index
        .candidates(&[1.0], 3, &[], None, Metric::Cosine)
        .unwrap_err();
    assert_eq!(err.0, "expected vectors of 2 dimensions, got 1");
    assert_eq!(
        Metric::parse("l2").unwrap_err().0,
        "unknown metric 'l2'; expected 'cosine' or 'inner_product'"
    );
    assert!(VectorIndex::new(0).is_err());
    assert!(index
        .search(&[1.0, 0.0], 0, &[], None, Metric::Cosine)
        .is_empty());
}

#[test]
fn ties_break_by_row_id_across_blocks() {
    let mut index = Mirror::new(2);
    for (id, space) in [(30, "c"), (10, "a"), (20, "b"), (5, "c")] {
        index.upsert(id, &ns(&[space]), &[1.0, 1.0]);
    }
    let found = index.search(&[1.0, 1.0], 3, &[], None, Metric::Cosine);
    assert_eq!(
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![5, 10, 20]
    );
}

#[test]
fn extents_survive_reloads_deletes_and_compaction() {
    let mut index = Mirror::new(2);
    let space = ns(&["a"]);
    for id in 0..40 {
        index.upsert(id, &space, &[id as f32, 1.0]);
    }
    // A bulk reload of rows already there.
    let ids: Vec<i64> = (0..40).collect();
    let data: Vec<f32> = (0..40).flat_map(|id| [1.0, id as f32]).collect();
    let records = encode(&data, 2).unwrap();
    index
        .index
        .upsert_many(&ids, &[0; 40], std::slice::from_ref(&space), &records)
        .unwrap();
    for id in 0..40 {
        index.rows.insert(id, (space.clone(), vec![1.0, id as f32]));
    }
    assert_eq!((index.index.len(), index.index.vector_count()), (40, 40));
    // Deleting most rows, and filling and emptying another namespace again and again, leaves
    // garbage; compaction must give it back and keep every survivor findable.
    let before = index.index.memory_bytes();
    for round in 0..20 {
        for id in 100..140 {
            index.upsert(id, &ns(&["b"]), &[1.0, round as f32]);
        }
        for id in 100..140 {
            assert!(index.delete(id));
        }
    }
    for id in 0..36 {
        assert!(index.delete(id));
    }
    let found = index.search(&[0.0, 1.0], 10, &[], None, Metric::Cosine);
    assert_eq!(
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![39, 38, 37, 36]
    );
    for id in 36..40 {
        let only = index.search(&[0.0, 1.0], 1, &[], Some(&[id]), Metric::InnerProduct);
        assert_eq!(only, vec![(id, id as f64)]);
    }
    let after = index.index.memory_bytes();
    assert!(
        after < 2 * before,
        "compaction gave memory back: {before} -> {after}"
    );
}

/// Vectors built to tie and to sit near the bounds: duplicates, scaled copies, zero vectors,
/// subnormal and large coordinates, and rows owning several vectors.
fn awkward_index(dims: usize, rows: usize, seed: u64) -> Mirror {
    let mut state = seed;
    let mut index = Mirror::new(dims);
    let base: Vec<f32> = (0..dims).map(|_| next_unit(&mut state)).collect();
    for row in 0..rows as i64 {
        let kind = row % 7;
        let count = 1 + (row % 3) as usize;
        let mut data = Vec::new();
        for copy in 0..count {
            let vector: Vec<f32> = match kind {
                0 => base.clone(),
                1 => base.iter().map(|x| x * 3.0).collect(),
                2 if copy == 0 => vec![0.0; dims],
                3 => base.iter().map(|x| x * 1e-39).collect(),
                4 => base.iter().map(|x| x * 1e15).collect(),
                5 => (0..dims)
                    .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
                    .collect(),
                _ => (0..dims).map(|_| next_unit(&mut state)).collect(),
            };
            data.extend(vector);
        }
        let namespace = ns(&["t", &(row % 3).to_string()]);
        index.upsert(row, &namespace, &data);
    }
    index
}

#[test]
fn searches_return_exactly_the_brute_force() {
    for (dims, rows, seed) in [(1, 50, 1), (3, 300, 2), (33, 500, 3), (384, 400, 4)] {
        let mut index = awkward_index(dims, rows, seed);
        // Deletes and re-inserts move vectors around (swaps, compaction).
        for row in (0..rows as i64).step_by(5) {
            let (space, data) = index.rows[&row].clone();
            index.delete(row);
            if row % 10 == 0 {
                index.upsert(row, &space, &data);
            }
        }
        let mut state = seed * 7 + 1;
        let mut queries: Vec<Vec<f32>> = (0..4)
            .map(|_| (0..dims).map(|_| next_unit(&mut state)).collect())
            .collect();
        queries.push(vec![0.0; dims]);
        queries.push(
            (0..dims)
                .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
                .collect(),
        );
        queries.push(queries[0].iter().map(|x| x * 1e-38).collect());
        let candidates: Vec<i64> = (0..rows as i64).filter(|r| r % 4 != 1).collect();
        for query in &queries {
            for metric in [Metric::Cosine, Metric::InnerProduct] {
                for k in [1, 3, 10, rows] {
                    for prefix in [ns(&[]), ns(&["t", "1"])] {
                        for filter in [None, Some(candidates.as_slice())] {
                            let found = index.search(query, k, &prefix, filter, metric);
                            let expected = index.brute_force(query, k, &prefix, filter, metric);
                            assert_eq!(found, expected, "dims={dims} k={k} {metric:?} {prefix:?}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_first_pass_rules_out_most_vectors() {
    let dims = 64;
    let mut state = 9;
    let data: Vec<f32> = (0..20_000 * dims).map(|_| next_unit(&mut state)).collect();
    let ids: Vec<i64> = (0..20_000).collect();
    let mut index = Mirror::new(dims);
    let records = encode(&data, dims).unwrap();
    index
        .index
        .upsert_many(&ids, &vec![0; 20_000], &[ns(&["a"])], &records)
        .unwrap();
    for (id, vector) in ids.iter().zip(data.chunks_exact(dims)) {
        index.rows.insert(*id, (ns(&["a"]), vector.to_vec()));
    }
    let query: Vec<f32> = (0..dims).map(|_| next_unit(&mut state)).collect();
    let (found, stats) = index.search_stats(&query, 10, &[], None, Metric::Cosine);
    assert_eq!(stats.selected, 20_000);
    assert!(stats.survivors < 1000, "{stats:?}");
    assert_eq!(
        found,
        index.brute_force(&query, 10, &[], None, Metric::Cosine)
    );
}

#[test]
fn the_first_pass_offers_every_selected_vector_once() {
    // With k = every row, no row can be ruled out: a slot the sectioned scan skipped (or scored
    // twice) would show here, for selections of every size around the group's.
    let dims = 40;
    let mut state = 5;
    for rows in [1usize, 7, 8, 9, 15, 16, 17, 63, 64, 65, 130] {
        let mut index = Mirror::new(dims);
        for row in 0..rows as i64 {
            let data: Vec<f32> = (0..dims).map(|_| next_unit(&mut state)).collect();
            // Interleaved namespaces: a prefix selects many short extents.
            index.upsert(row, &ns(&["t", &(row % 3).to_string()]), &data);
        }
        let query: Vec<f32> = (0..dims).map(|_| next_unit(&mut state)).collect();
        let everyone: Vec<i64> = (0..rows as i64).collect();
        let odd: Vec<i64> = (0..rows as i64).filter(|r| r % 2 == 1).collect();
        for (prefix, filter, expected) in [
            (ns(&[]), None, everyone.clone()),
            (
                ns(&["t", "1"]),
                None,
                everyone.iter().copied().filter(|r| r % 3 == 1).collect(),
            ),
            (ns(&[]), Some(odd.as_slice()), odd.clone()),
        ] {
            let (found, stats) = index
                .index
                .candidates(&query, rows, &prefix, filter, Metric::Cosine)
                .unwrap();
            assert_eq!(found, expected, "rows={rows} prefix={prefix:?}");
            assert_eq!(stats.selected, expected.len());
        }
        // The whole index's runs are kept between searches: every change must show.
        let extra: Vec<f32> = (0..dims).map(|_| next_unit(&mut state)).collect();
        index.upsert(rows as i64, &ns(&["t", "new"]), &extra);
        index.delete(0);
        let all = |index: &Mirror| {
            let k = index.rows.len().max(1);
            let found = index.index.candidates(&query, k, &[], None, Metric::Cosine);
            found.unwrap().0
        };
        let expected: Vec<i64> = (1..=rows as i64).collect();
        assert_eq!(
            all(&index),
            expected,
            "rows={rows} after a put and a delete"
        );
    }
}

#[test]
fn a_load_after_reserve_namespaces_lays_each_namespace_in_one_run() {
    let dims = 8;
    let spaces = [ns(&["t", "0"]), ns(&["t", "1"]), ns(&["u"])];
    let mut index = Mirror::new(dims);
    // Counts as a store's loader gives them, but short for "u": row 5 has two vectors.
    index.index.reserve_namespaces(&spaces, &[20, 20, 18]);
    let mut state: u64 = 7;
    for chunk in (0..60i64).collect::<Vec<_>>().chunks(7) {
        let (mut ids, mut space_ids, mut data) = (Vec::new(), Vec::new(), Vec::new());
        for &id in chunk {
            let space = (id % 3) as u32;
            let vectors = if id == 5 { 2 } else { 1 };
            let mut row = Vec::new();
            for _ in 0..vectors {
                ids.push(id);
                space_ids.push(space);
                row.extend((0..dims).map(|_| next_unit(&mut state)));
            }
            data.extend_from_slice(&row);
            index.rows.insert(id, (spaces[space as usize].clone(), row));
        }
        let records = encode(&data, dims).unwrap();
        index
            .index
            .upsert_many(&ids, &space_ids, &spaces, &records)
            .unwrap();
    }
    let runs = |space: &[String]| {
        let block = index.index.by_namespace[space];
        index.index.blocks[block].extents.len()
    };
    assert_eq!((runs(&spaces[0]), runs(&spaces[1])), (1, 1));
    assert!(runs(&spaces[2]) > 1); // its count was short: runs for the rest, as without the room
    assert_eq!(index.index.vector_count(), 61);
    for q in 0..8 {
        let query: Vec<f32> = (0..dims).map(|_| next_unit(&mut state)).collect();
        for prefix in [ns(&[]), ns(&["t"]), ns(&["t", "1"]), ns(&["u"])] {
            for candidates in [None, Some(&[1i64, 4, 5, 9, 30, 59][..])] {
                let k = 1 + q % 6;
                assert_eq!(
                    index.search(&query, k, &prefix, candidates, Metric::Cosine),
                    index.brute_force(&query, k, &prefix, candidates, Metric::Cosine),
                );
            }
        }
    }
}
