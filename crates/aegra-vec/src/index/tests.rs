//! Unit tests of the index.

use super::*;
use crate::testdata::next_unit;

fn ns(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|s| s.to_string()).collect()
}

fn sample() -> VectorIndex {
    let mut index = VectorIndex::new(2).unwrap();
    index.upsert(1, &ns(&["users", "a"]), &[1.0, 0.0]).unwrap();
    index.upsert(2, &ns(&["users", "b"]), &[0.0, 1.0]).unwrap();
    index.upsert(3, &ns(&["users", "a"]), &[1.0, 1.0]).unwrap();
    index.upsert(4, &ns(&["docs"]), &[-1.0, 0.0]).unwrap();
    index
}

#[test]
fn cosine_search_ranks_by_similarity() {
    let index = sample();
    let found = index
        .search(&[1.0, 0.0], 10, &[], None, Metric::Cosine)
        .unwrap();
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![1, 3, 2, 4]);
    assert_eq!(found[0].1, 1.0);
    assert!((found[1].1 - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    assert_eq!(found[3].1, -1.0);
}

#[test]
fn namespace_prefix_and_candidates_narrow_the_search() {
    let index = sample();
    let users = ns(&["users"]);
    let found = index
        .search(&[1.0, 0.0], 10, &users, None, Metric::Cosine)
        .unwrap();
    assert_eq!(found.len(), 3);
    let only = index
        .search(
            &[1.0, 0.0],
            10,
            &users,
            Some(&[2, 4, 99, 2]),
            Metric::Cosine,
        )
        .unwrap();
    assert_eq!(only, vec![(2, 0.0)]);
    let none = index.search(&[1.0, 0.0], 10, &ns(&["nobody"]), None, Metric::Cosine);
    assert!(none.unwrap().is_empty());
    // "user" is not a prefix of the label "users".
    assert!(index
        .search(&[1.0, 0.0], 10, &ns(&["user"]), None, Metric::Cosine)
        .unwrap()
        .is_empty());
}

#[test]
fn other_metrics() {
    let index = sample();
    let l2 = index.search(&[1.0, 0.0], 1, &[], None, Metric::L2).unwrap();
    assert_eq!(l2, vec![(1, -0.0)]);
    let ip = index
        .search(&[2.0, 2.0], 1, &[], None, Metric::InnerProduct)
        .unwrap();
    assert_eq!(ip, vec![(3, 4.0)]);
}

#[test]
fn rows_with_several_vectors_score_their_best_one_once() {
    let mut index = sample();
    index
        .upsert(9, &ns(&["docs"]), &[0.0, 1.0, 1.0, 0.1])
        .unwrap();
    let found = index
        .search(&[1.0, 0.0], 2, &[], None, Metric::Cosine)
        .unwrap();
    assert_eq!(found[0].0, 1);
    assert_eq!(found[1].0, 9);
    assert_eq!(index.vector_count(), 6);
}

#[test]
fn delete_and_replace_keep_blocks_dense_and_consistent() {
    let mut index = sample();
    index
        .upsert(5, &ns(&["users", "a"]), &[0.5, 0.5, 0.2, 0.9])
        .unwrap();
    assert!(index.delete(1));
    assert!(!index.delete(1));
    index.upsert(3, &ns(&["docs"]), &[0.0, 1.0]).unwrap(); // moves namespace
    index.upsert(2, &ns(&["users", "b"]), &[]).unwrap(); // no vectors: removed
    assert_eq!(index.len(), 3);
    assert_eq!(index.vector_count(), 4);
    let found = index
        .search(&[0.0, 1.0], 10, &ns(&["users"]), None, Metric::Cosine)
        .unwrap();
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![5]);
    let found = index
        .search(&[0.0, 1.0], 10, &[], None, Metric::Cosine)
        .unwrap();
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![3, 5, 4]);
}

#[test]
fn upsert_many_groups_vectors_by_row_and_rejects_bad_input_whole() {
    let mut index = VectorIndex::new(2).unwrap();
    let spaces = vec![ns(&["a"]), ns(&["b"]), ns(&["a"])];
    index
        .upsert_many(&[7, 8, 7], &spaces, &[1.0, 0.0, 0.0, 1.0, 0.0, -1.0])
        .unwrap();
    assert_eq!((index.len(), index.vector_count()), (2, 3));
    let err = index
        .upsert_many(&[1, 1], &[ns(&["a"]), ns(&["b"])], &[1.0, 0.0, 0.0, 1.0])
        .unwrap_err();
    assert!(err.0.contains("two namespaces"), "{err}");
    let err = index
        .upsert_many(&[1], &[ns(&["a"])], &[1.0, f32::NAN])
        .unwrap_err();
    assert_eq!(err.0, "vector 0 has a non-finite value (nan) at position 1");
    assert_eq!(index.len(), 2);
}

#[test]
fn errors_are_clear() {
    let index = sample();
    let err = index
        .search(&[1.0], 3, &[], None, Metric::Cosine)
        .unwrap_err();
    assert_eq!(err.0, "expected vectors of 2 dimensions, got 1");
    assert!(Metric::parse("dot")
        .unwrap_err()
        .0
        .contains("unknown metric"));
    assert!(VectorIndex::new(0).is_err());
    assert!(index
        .search(&[1.0, 0.0], 0, &[], None, Metric::Cosine)
        .unwrap()
        .is_empty());
}

#[test]
fn ties_break_by_row_id_across_blocks() {
    let mut index = VectorIndex::new(2).unwrap();
    for (id, space) in [(30, "c"), (10, "a"), (20, "b"), (5, "c")] {
        index.upsert(id, &ns(&[space]), &[1.0, 1.0]).unwrap();
    }
    let found = index
        .search(&[1.0, 1.0], 3, &[], None, Metric::Cosine)
        .unwrap();
    assert_eq!(
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![5, 10, 20]
    );
}

#[test]
fn extents_survive_reloads_deletes_and_compaction() {
    let mut index = VectorIndex::new(2).unwrap();
    let space = ns(&["a"]);
    for id in 0..40 {
        index.upsert(id, &space, &[id as f32, 1.0]).unwrap();
    }
    // A bulk reload of rows already there: room is reserved before the old vectors go.
    let ids: Vec<i64> = (0..40).collect();
    let spaces = vec![space.clone(); 40];
    let data: Vec<f32> = (0..40).flat_map(|id| [1.0, id as f32]).collect();
    index.upsert_many(&ids, &spaces, &data).unwrap();
    assert_eq!((index.len(), index.vector_count()), (40, 40));
    // Deleting most rows leaves garbage; compaction must keep every survivor findable.
    let before = index.memory_bytes();
    for id in 0..36 {
        assert!(index.delete(id));
    }
    let found = index
        .search(&[0.0, 1.0], 10, &[], None, Metric::Cosine)
        .unwrap();
    assert_eq!(
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![39, 38, 37, 36]
    );
    for id in 36..40 {
        let only = index
            .search(&[0.0, 1.0], 1, &[], Some(&[id]), Metric::InnerProduct)
            .unwrap();
        assert_eq!(only, vec![(id, id as f64)]);
    }
    assert!(index.memory_bytes() < before, "compaction gave memory back");
}

/// Vectors built to tie and to sit near the bounds: duplicates, scaled copies, zero vectors,
/// subnormal and large coordinates, and rows owning several vectors.
fn awkward_index(dims: usize, rows: usize, seed: u64) -> VectorIndex {
    let mut state = seed;
    let mut index = VectorIndex::new(dims).unwrap();
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
        index.upsert(row, &namespace, &data).unwrap();
    }
    index
}

#[test]
fn the_first_pass_returns_exactly_what_the_exact_scan_returns() {
    for (dims, rows, seed) in [(1, 50, 1), (3, 300, 2), (33, 500, 3), (384, 400, 4)] {
        let mut index = awkward_index(dims, rows, seed);
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
                            index.set_first_pass_min_vectors(None);
                            let (exact, plain) = index
                                .search_with_stats(query, k, &prefix, filter, metric)
                                .unwrap();
                            index.set_first_pass_min_vectors(Some(0));
                            let (fast, stats) = index
                                .search_with_stats(query, k, &prefix, filter, metric)
                                .unwrap();
                            assert!(stats.first_pass && !plain.first_pass);
                            assert_eq!(fast, exact, "dims={dims} k={k} {metric:?} {prefix:?}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_first_pass_skips_most_vectors_and_l2_never_takes_it() {
    let dims = 64;
    let mut state = 9;
    let data: Vec<f32> = (0..20_000 * dims).map(|_| next_unit(&mut state)).collect();
    let ids: Vec<i64> = (0..20_000).collect();
    let spaces = vec![ns(&["a"]); 20_000];
    let mut index = VectorIndex::new(dims).unwrap();
    index.upsert_many(&ids, &spaces, &data).unwrap();
    let query: Vec<f32> = (0..dims).map(|_| next_unit(&mut state)).collect();
    let (fast, stats) = index
        .search_with_stats(&query, 10, &[], None, Metric::Cosine)
        .unwrap();
    assert!(stats.first_pass && stats.selected == 20_000);
    assert!(stats.rescored < 1000, "{stats:?}");
    index.set_first_pass_min_vectors(None);
    assert_eq!(
        index.search(&query, 10, &[], None, Metric::Cosine).unwrap(),
        fast
    );
    index.set_first_pass_min_vectors(Some(0));
    let (_, l2) = index
        .search_with_stats(&query, 10, &[], None, Metric::L2)
        .unwrap();
    assert!(!l2.first_pass && l2.rescored == 20_000);
}
