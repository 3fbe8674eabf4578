//! Exact top-k with max pooling: a row scores as its best vector, rows rank by score (highest
//! first), ties by row id (lowest first) - the order both backends agree on.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

#[derive(Clone, Copy, Debug)]
struct Entry {
    score: f64,
    owner: i64,
}

impl Ord for Entry {
    /// "Greater" means "worse", so the max-heap's top is the entry to evict first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.owner.cmp(&other.owner))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

/// Keeps the `capacity` best vectors seen. With `capacity = k * (most vectors any row has)`,
/// the kept vectors always hold the k best distinct rows, so no second pass is ever needed.
pub struct TopK {
    capacity: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            heap: BinaryHeap::with_capacity(capacity.min(1 << 16)),
        }
    }

    #[inline]
    pub fn offer(&mut self, score: f64, owner: i64) {
        // -0.0 and 0.0 must tie (as they do in numpy), but total_cmp tells them apart.
        let entry = Entry {
            score: score + 0.0,
            owner,
        };
        if self.heap.len() < self.capacity {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if entry < *worst {
                *worst = entry;
            }
        }
    }

    /// The best `k` distinct rows as (row id, score), best first.
    pub fn finish(self, k: usize) -> Vec<(i64, f64)> {
        let mut seen = HashSet::with_capacity(k);
        self.heap
            .into_sorted_vec()
            .into_iter()
            .filter(|entry| seen.insert(entry.owner))
            .take(k)
            .map(|entry| (entry.owner, entry.score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_rows_and_breaks_ties_by_id() {
        let mut top = TopK::new(3);
        for (score, owner) in [(0.5, 9), (0.9, 4), (0.5, 2), (0.1, 1), (0.5, 3)] {
            top.offer(score, owner);
        }
        assert_eq!(top.finish(3), vec![(4, 0.9), (2, 0.5), (3, 0.5)]);
    }

    #[test]
    fn a_row_counts_once_with_its_best_vector() {
        let mut top = TopK::new(4);
        for (score, owner) in [(0.2, 7), (0.8, 7), (0.5, 1), (0.3, 2)] {
            top.offer(score, owner);
        }
        assert_eq!(top.finish(2), vec![(7, 0.8), (1, 0.5)]);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let mut top = TopK::new(2);
        top.offer(0.0, 5);
        top.offer(-0.0, 1);
        assert_eq!(top.finish(2), vec![(1, 0.0), (5, 0.0)]);
    }

    #[test]
    fn fewer_candidates_than_k() {
        let mut top = TopK::new(10);
        top.offer(1.0, 1);
        assert_eq!(top.finish(10), vec![(1, 1.0)]);
        assert!(TopK::new(5).finish(5).is_empty());
    }
}
