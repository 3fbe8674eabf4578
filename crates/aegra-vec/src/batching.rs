//! Feeding the embedder: one embedding per distinct text, and batches cut by a padded-length
//! budget over length-sorted texts (embedders pad each batch to its longest text, so mixing a
//! 5-character and a 2,000-character text in one batch wastes almost all of the short one's work).

use std::collections::HashMap;
use std::hash::Hash;

use crate::errors::{VecError, VecResult};

/// `(first, inverse)`: `first[u]` is the position where distinct key `u` first occurs, and
/// `inverse[i]` the distinct key of position `i`.
pub fn dedupe<K: Hash + Eq>(keys: impl IntoIterator<Item = K>) -> (Vec<usize>, Vec<usize>) {
    let mut seen: HashMap<K, usize> = HashMap::new();
    let mut first = Vec::new();
    let mut inverse = Vec::new();
    for (position, key) in keys.into_iter().enumerate() {
        let next = first.len();
        let unique = *seen.entry(key).or_insert(next);
        if unique == next {
            first.push(position);
        }
        inverse.push(unique);
    }
    (first, inverse)
}

/// Code points of UTF-8 (or surrogate-escaped WTF-8) bytes, which is Python's `len(text)`.
pub fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// Batches of text positions: shortest texts first (ties by position), each batch at most
/// `max_batch` texts and at most `budget` padded characters (`count * longest`, an empty text
/// counting as 1). A text longer than the budget goes alone in its batch.
pub fn length_batches(
    lengths: &[usize],
    budget: usize,
    max_batch: usize,
) -> VecResult<Vec<Vec<usize>>> {
    if budget == 0 || max_batch == 0 {
        return Err(VecError(format!(
            "budget and max_batch must be positive, got budget={budget} and max_batch={max_batch}"
        )));
    }
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so this text is the longest of the batch it joins.
        let padded = lengths[i].max(1);
        let full =
            current.len() >= max_batch || (current.len() + 1).saturating_mul(padded) > budget;
        if !current.is_empty() && full {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_maps_every_position_to_its_first_occurrence() {
        let (first, inverse) = dedupe(["a", "b", "a", "c", "b"]);
        assert_eq!(first, vec![0, 1, 3]);
        assert_eq!(inverse, vec![0, 1, 0, 2, 1]);
        let (first, inverse) = dedupe(Vec::<&str>::new());
        assert!(first.is_empty() && inverse.is_empty());
    }

    #[test]
    fn counts_code_points() {
        assert_eq!(char_count("héllo ✓".as_bytes()), 7);
        assert_eq!(char_count(b""), 0);
    }

    #[test]
    fn batches_sort_by_length_and_respect_the_budget() {
        let lengths = [100, 1, 2, 100, 3, 0];
        assert_eq!(
            length_batches(&lengths, 200, 10).unwrap(),
            vec![vec![5, 1, 2, 4], vec![0, 3]]
        );
        assert_eq!(
            length_batches(&lengths, 1000, 2).unwrap(),
            vec![vec![5, 1], vec![2, 4], vec![0, 3]]
        );
        // Longer than the budget: alone.
        assert_eq!(
            length_batches(&[500, 1], 10, 4).unwrap(),
            vec![vec![1], vec![0]]
        );
        assert!(length_batches(&[], 10, 4).unwrap().is_empty());
        assert!(length_batches(&[1], 0, 4).is_err());
    }
}
