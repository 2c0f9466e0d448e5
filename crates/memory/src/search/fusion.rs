//! Reciprocal rank fusion of ranked lists, and recency decay.
//!
//! Rankings from different sources (bm25 or `ts_rank`, vector similarity, recency) have scores
//! on scales that cannot be compared; their ranks can. Reciprocal rank fusion (Cormack et al.,
//! 2009) scores an item `Σ 1 / (k + rank)` over the lists it appears in (ranks from 1), so an
//! item near the top of several lists beats one at the top of one; `k` damps the weight of the
//! very first places (60 is the value from the paper, and what search engines use).

use std::collections::HashMap;
use std::time::Duration;

use crate::MessageId;

/// The usual `k` of reciprocal rank fusion.
pub const DEFAULT_RRF_K: f64 = 60.0;

/// How long it takes a message's recency weight to halve, unless told otherwise.
pub const DEFAULT_HALF_LIFE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Fuses ranked lists of messages (best first) by reciprocal rank fusion with constant `k`:
/// each message scores `Σ 1 / (k + rank)` over the lists it appears in, ranks counted from 1.
///
/// Returns every message of every list once, best first; equal scores keep the order in which
/// the messages were first met (the first list's order first). A message listed twice in one
/// list counts at its better place only.
pub fn fuse(lists: &[&[MessageId]], k: f64) -> Vec<(MessageId, f64)> {
    let weighted: Vec<(&[MessageId], f64)> = lists.iter().map(|list| (*list, 1.0)).collect();
    fuse_weighted(&weighted, k)
}

/// [`fuse`] with a weight per list: a message scores `Σ weight / (k + rank)`.
pub fn fuse_weighted(lists: &[(&[MessageId], f64)], k: f64) -> Vec<(MessageId, f64)> {
    // Score and the order in which each message was first met (for stable ties).
    let mut scores: HashMap<MessageId, (f64, usize)> = HashMap::new();
    for (list, weight) in lists {
        let mut seen = std::collections::HashSet::new();
        for (index, id) in list.iter().enumerate() {
            if !seen.insert(*id) {
                continue;
            }
            let rank = index as f64 + 1.0;
            let order = scores.len();
            let entry = scores.entry(*id).or_insert((0.0, order));
            entry.0 += weight / (k + rank);
        }
    }
    let mut fused: Vec<(MessageId, f64, usize)> = scores
        .into_iter()
        .map(|(id, (score, order))| (id, score, order))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(id, score, _)| (id, score))
        .collect()
}

/// How much a message of this `age` still counts: 1 when new, halving every `half_life`
/// (`0.5 ^ (age / half_life)`), towards 0 and never below. A zero half-life counts only the
/// present moment.
pub fn recency_weight(age: Duration, half_life: Duration) -> f64 {
    if half_life.is_zero() {
        return if age.is_zero() { 1.0 } else { 0.0 };
    }
    0.5_f64.powf(age.as_secs_f64() / half_life.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(values: &[i64]) -> Vec<MessageId> {
        values.iter().copied().map(MessageId).collect()
    }

    #[test]
    fn an_item_high_in_two_lists_beats_the_top_of_one() {
        let keyword = ids(&[1, 2, 3]);
        let vector = ids(&[4, 2, 5]);
        let fused = fuse(&[&keyword, &vector], DEFAULT_RRF_K);
        assert_eq!(fused[0].0, MessageId(2));
        let expected = 2.0 / (DEFAULT_RRF_K + 2.0);
        assert!((fused[0].1 - expected).abs() < 1e-12);
        assert_eq!(fused.len(), 5);
    }

    #[test]
    fn ties_keep_the_order_first_met() {
        let a = ids(&[7, 8]);
        let b = ids(&[8, 7]);
        let fused = fuse(&[&a, &b], DEFAULT_RRF_K);
        assert_eq!(
            fused.iter().map(|(id, _)| id.0).collect::<Vec<_>>(),
            vec![7, 8]
        );
        assert!((fused[0].1 - fused[1].1).abs() < 1e-12);
    }

    #[test]
    fn duplicates_in_a_list_count_once_and_empty_lists_are_fine() {
        let a = ids(&[3, 3, 4]);
        let fused = fuse(&[&a, &[]], DEFAULT_RRF_K);
        assert_eq!(fused.len(), 2);
        assert!((fused[0].1 - 1.0 / (DEFAULT_RRF_K + 1.0)).abs() < 1e-12);
        assert!(fuse(&[], DEFAULT_RRF_K).is_empty());
    }

    #[test]
    fn weights_scale_a_lists_votes() {
        let a = ids(&[1, 2]);
        let b = ids(&[2, 1]);
        let fused = fuse_weighted(&[(&a, 1.0), (&b, 0.5)], DEFAULT_RRF_K);
        assert_eq!(fused[0].0, MessageId(1));
    }

    #[test]
    fn recency_halves_every_half_life() {
        let day = Duration::from_secs(86_400);
        assert!((recency_weight(Duration::ZERO, day) - 1.0).abs() < 1e-12);
        assert!((recency_weight(day, day) - 0.5).abs() < 1e-12);
        assert!((recency_weight(day * 3, day) - 0.125).abs() < 1e-12);
        assert!(recency_weight(day * 10_000, day) >= 0.0);
        assert_eq!(recency_weight(Duration::ZERO, Duration::ZERO), 1.0);
        assert_eq!(recency_weight(day, Duration::ZERO), 0.0);
    }
}
