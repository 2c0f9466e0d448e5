//! The in-process vector index: binary-quantised codes of every embedded message, searched by
//! Hamming distance and the query's [`Agreement`] with them, with exact cosine re-ranking of
//! the candidates.
//!
//! Each vector is kept as its sign bits only (384 dimensions: six `u64`, 48 bytes), with its
//! message id and its place in its conversation's list: about 60 bytes per message, so a
//! million messages cost about 60 MB of RAM. A query keeps the codes nearest by Hamming
//! distance (32 times the candidates it needs: a popcount per word, fast over a million), ranks
//! those by their agreement with the query's own f32 values (asymmetric, far closer to the
//! exact order), and returns the best [`DEFAULT_CANDIDATES`] for exact re-ranking
//! (`research/memory.md` §4 measured Hamming alone: 400 candidates for recall ≈ 0.97 at 1 M).
//! The full f32 vectors stay in the database (`message_embeddings`) and are read back only for
//! the candidates ([`Store::vectors_of`](crate::Store::vectors_of)).
//!
//! Scope is enforced during the scan: only vectors of the conversations a query may see are
//! compared at all, so a vector outside the scope can never take a candidate's place. Each
//! conversation keeps the positions of its codes (4 bytes a message, in place of a
//! conversation slot per code), so a scoped scan walks only the codes of the conversations it
//! may see: a person's recall over 50 of 10,000 conversations compares 5,000 codes, not a
//! million.
//! Deleted messages need no bookkeeping here: their stored vectors go with them (`ON DELETE
//! CASCADE`), so re-ranking, which reads from the database, drops them.

pub(crate) mod code;

use std::collections::HashMap;
use std::sync::RwLock;

pub use code::{Agreement, cosine, hamming, sign_code};

use crate::{ConversationId, MessageId};

/// How many candidates are re-ranked exactly by default: recall@10 1.000 over a million
/// clustered vectors, ≥ 0.95 over a person's 5,000 of them (`benches/search.rs`).
pub const DEFAULT_CANDIDATES: usize = 200;

/// How many times more codes the Hamming scan keeps than the candidates asked for, to be
/// ranked again by their [`Agreement`] with the query (a scope of up to 6,400 codes is thus
/// ranked by agreement alone).
const HAMMING_SHORTLIST: usize = 32;

/// Binary codes of one embedding model's vectors, by message. Cheap to share (`Arc`); reads run
/// concurrently, inserts take a short write lock.
#[derive(Debug)]
pub struct VectorIndex {
    model: String,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Dimensions of the vectors (set by the first one; others are refused).
    dims: usize,
    /// `u64` words per code.
    words: usize,
    /// Message ids, one per code.
    messages: Vec<i64>,
    /// Codes, `words` per message, in the order of `messages`.
    codes: Vec<u64>,
    /// Conversation ids by slot.
    conversations: Vec<i64>,
    /// The positions (into `messages`) of each slot's codes, in increasing order.
    members: Vec<Vec<u32>>,
    /// Slot of each conversation id.
    slot_of: HashMap<i64, u32>,
    /// The largest message id held: an insert above it needs no duplicate check (the indexer
    /// inserts in id order; an older one is looked for first).
    newest: i64,
}

impl VectorIndex {
    /// An empty index for the vectors of `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            state: RwLock::new(State::default()),
        }
    }

    /// The embedding model whose vectors this index holds.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.read().messages.len()
    }

    /// Whether it holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dimensions of its vectors (0 while empty).
    pub fn dims(&self) -> usize {
        self.read().dims
    }

    /// Bytes held for codes, ids and scope (what a million messages cost, divided by a million).
    pub fn heap_bytes(&self) -> usize {
        let state = self.read();
        let members: usize = state.members.iter().map(|m| m.capacity() * 4).sum();
        state.codes.capacity() * 8
            + state.messages.capacity() * 8
            + members
            + state.members.capacity() * std::mem::size_of::<Vec<u32>>()
            + state.conversations.capacity() * 8
            + state.slot_of.capacity() * 12
    }

    /// Gives back the room grown for more vectors (after loading the stored ones at start).
    pub fn shrink_to_fit(&self) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.codes.shrink_to_fit();
        state.messages.shrink_to_fit();
        state.members.iter_mut().for_each(Vec::shrink_to_fit);
    }

    /// Adds the vector of `message` in `conversation`. Returns `false` (and keeps nothing) when
    /// the message is there already or the vector's dimensions differ from the others'.
    pub fn insert(&self, message: MessageId, conversation: ConversationId, vector: &[f32]) -> bool {
        if vector.is_empty() {
            return false;
        }
        let code = sign_code(vector);
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if state.dims == 0 {
            state.dims = vector.len();
            state.words = code.len();
        }
        let Ok(position) = u32::try_from(state.messages.len()) else {
            return false;
        };
        if state.dims != vector.len() || state.holds(message.0) {
            return false;
        }
        state.newest = state.newest.max(message.0);
        let slot = state.slot(conversation.0);
        state.members[slot].push(position);
        state.messages.push(message.0);
        state.codes.extend_from_slice(&code);
        true
    }

    /// Drops the codes of `messages` (deleted or forgotten); returns how many were held.
    pub fn remove(&self, messages: &[MessageId]) -> usize {
        if messages.is_empty() {
            return 0;
        }
        let gone: std::collections::HashSet<i64> = messages.iter().map(|m| m.0).collect();
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let words = state.words;
        let before = state.messages.len();
        // The new position of each old one (`GONE` for a removed code).
        let mut moved = Vec::with_capacity(before);
        let mut kept = 0;
        for i in 0..before {
            if gone.contains(&state.messages[i]) {
                moved.push(GONE);
                continue;
            }
            state.messages[kept] = state.messages[i];
            state
                .codes
                .copy_within(i * words..(i + 1) * words, kept * words);
            moved.push(kept as u32);
            kept += 1;
        }
        state.messages.truncate(kept);
        state.codes.truncate(kept * words);
        if kept < before {
            state.renumber(&moved);
        }
        before - kept
    }

    /// Up to `k` messages whose codes are nearest `query`, nearest first, among the
    /// conversations `allowed` (all of them with `None`): the codes nearest by Hamming
    /// distance, [`HAMMING_SHORTLIST`] times `k` of them, ranked by their [`Agreement`] with
    /// the query's values.
    pub fn candidates(
        &self,
        query: &[f32],
        allowed: Option<&[ConversationId]>,
        k: usize,
    ) -> Vec<MessageId> {
        let state = self.read();
        if k == 0 || state.dims != query.len() || state.messages.is_empty() {
            return Vec::new();
        }
        let code = sign_code(query);
        let lists = allowed.map(|ids| state.lists(ids));
        let scan = Scan {
            query: &code,
            codes: &state.codes,
            words: state.words,
            lists: lists.as_deref(),
            k: k.saturating_mul(HAMMING_SHORTLIST),
        };
        let agreement = Agreement::new(query);
        let words = state.words;
        let mut ranked: Vec<(f32, usize)> = scan
            .run()
            .into_iter()
            .map(|(_, i)| (agreement.score(&state.codes[i * words..(i + 1) * words]), i))
            .collect();
        let order = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if ranked.len() > k {
            ranked.select_nth_unstable_by(k, order);
            ranked.truncate(k);
        }
        ranked.sort_by(order);
        ranked
            .into_iter()
            .map(|(_, i)| MessageId(state.messages[i]))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// A removed code's new position.
const GONE: u32 = u32::MAX;

/// One Hamming scan: the `k` codes nearest `query`, among the positions of `lists` (every
/// code with `None`).
struct Scan<'a> {
    query: &'a [u64],
    codes: &'a [u64],
    words: usize,
    lists: Option<&'a [&'a [u32]]>,
    k: usize,
}

impl Scan<'_> {
    /// The nearest codes as (distance, position), with the processor's popcount instruction
    /// where it has one (the portable build counts bits without it, several times slower).
    fn run(&self) -> Vec<(u32, usize)> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the processor was just found to support `popcnt`.
            return unsafe { self.run_popcnt() };
        }
        self.scan()
    }

    /// [`scan`](Self::scan) compiled with `popcnt`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    fn run_popcnt(&self) -> Vec<(u32, usize)> {
        self.scan()
    }

    /// The scan, with the code width known at compile time for the usual sizes (384 and 768
    /// dimensions: 6 and 12 words), so the distance loop unrolls.
    #[inline(always)]
    fn scan(&self) -> Vec<(u32, usize)> {
        match self.words {
            6 => self.scan_words::<6>(),
            12 => self.scan_words::<12>(),
            _ => self.scan_any(),
        }
    }

    #[inline(always)]
    fn scan_words<const W: usize>(&self) -> Vec<(u32, usize)> {
        let mut query = [0_u64; W];
        query.copy_from_slice(self.query);
        let mut top = Top::new(self.k);
        let mut offer = |i: usize, stored: &[u64]| {
            let distance: u32 = (0..W).map(|w| (query[w] ^ stored[w]).count_ones()).sum();
            top.offer(distance, i);
        };
        match self.lists {
            None => {
                for (i, stored) in self.codes.chunks_exact(W).enumerate() {
                    offer(i, stored);
                }
            }
            Some(lists) => {
                for i in lists
                    .iter()
                    .flat_map(|list| list.iter())
                    .map(|&i| i as usize)
                {
                    offer(i, &self.codes[i * W..(i + 1) * W]);
                }
            }
        }
        top.into_best()
    }

    #[inline(always)]
    fn scan_any(&self) -> Vec<(u32, usize)> {
        let mut top = Top::new(self.k);
        let words = self.words;
        let all = self.codes.len() / words.max(1);
        let positions: Box<dyn Iterator<Item = usize>> = match self.lists {
            None => Box::new(0..all),
            Some(lists) => Box::new(
                lists
                    .iter()
                    .flat_map(|list| list.iter().map(|&i| i as usize)),
            ),
        };
        for i in positions {
            top.offer(
                hamming(self.query, &self.codes[i * words..(i + 1) * words]),
                i,
            );
        }
        top.into_best()
    }
}

/// The `k` smallest distances offered: offers below the bound are kept in a buffer of up to
/// `2 k`; a full buffer is cut to its best `k` (a selection, linear) and the bound tightened to
/// its worst. Per offer amortised O(1), where a heap's replacements cost O(log k) each (a
/// 6,400-code shortlist of 100 k codes took 1.2 ms in a heap).
struct Top {
    items: Vec<(u32, usize)>,
    k: usize,
    /// Offers at or above it can no longer be among the best `k`.
    bound: u32,
}

impl Top {
    fn new(k: usize) -> Self {
        Self {
            items: Vec::with_capacity(k.min(1 << 16) * 2),
            k,
            bound: u32::MAX,
        }
    }

    #[inline(always)]
    fn offer(&mut self, distance: u32, i: usize) {
        if distance < self.bound {
            self.items.push((distance, i));
            if self.items.len() >= self.k * 2 {
                self.cut();
            }
        }
    }

    /// Keeps the best `k`, and refuses from now on what is no better than the worst of them.
    fn cut(&mut self) {
        if self.items.len() <= self.k {
            return;
        }
        let Some(last) = self.k.checked_sub(1) else {
            self.items.clear();
            self.bound = 0;
            return;
        };
        self.items.select_nth_unstable(last);
        self.items.truncate(self.k);
        self.bound = self.items.iter().map(|&(d, _)| d).max().unwrap_or(0);
    }

    /// The best `k` offered, in no particular order.
    fn into_best(mut self) -> Vec<(u32, usize)> {
        self.cut();
        self.items
    }
}

impl State {
    /// Whether message `id` is held already (a scan only for an id below the newest).
    fn holds(&self, id: i64) -> bool {
        !self.messages.is_empty() && id <= self.newest && self.messages.contains(&id)
    }

    /// The slot of conversation `id`, made on first sight.
    fn slot(&mut self, id: i64) -> usize {
        if let Some(&slot) = self.slot_of.get(&id) {
            return slot as usize;
        }
        let slot = u32::try_from(self.conversations.len()).unwrap_or(u32::MAX);
        self.conversations.push(id);
        self.members.push(Vec::new());
        self.slot_of.insert(id, slot);
        slot as usize
    }

    /// The position lists of the conversations `allowed` (each once; unknown ones have none).
    fn lists(&self, allowed: &[ConversationId]) -> Vec<&[u32]> {
        let mut slots: Vec<u32> = allowed
            .iter()
            .filter_map(|id| self.slot_of.get(&id.0).copied())
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots
            .into_iter()
            .map(|slot| self.members[slot as usize].as_slice())
            .collect()
    }

    /// Gives every conversation's positions their new values after a removal (`moved`: the
    /// new position of each old one, [`GONE`] for a removed code).
    fn renumber(&mut self, moved: &[u32]) {
        for list in &mut self.members {
            list.retain_mut(|position| {
                *position = moved[*position as usize];
                *position != GONE
            });
        }
    }
}

/// The `n` vectors of `candidates` most similar to `query` by cosine, best first, with their
/// similarity; vectors of other dimensions are left out.
pub fn rerank(
    query: &[f32],
    candidates: &[(MessageId, Vec<f32>)],
    n: usize,
) -> Vec<(MessageId, f32)> {
    let mut scored: Vec<(MessageId, f32)> = candidates
        .iter()
        .filter(|(_, v)| v.len() == query.len())
        .map(|(id, v)| (*id, cosine(query, v)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(n);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(seed: u64, dims: usize) -> Vec<f32> {
        let mut state = seed;
        (0..dims)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn the_nearest_vector_comes_first_and_scope_is_enforced() {
        let index = VectorIndex::new("m");
        for i in 0..200_i64 {
            let conversation = ConversationId(i % 4);
            assert!(index.insert(MessageId(i), conversation, &vector(i as u64, 384)));
        }
        assert_eq!(index.len(), 200);
        // A query close to message 7 (conversation 3).
        let mut query = vector(7, 384);
        query[0] += 0.01;
        let all = index.candidates(&query, None, 5);
        assert_eq!(all[0], MessageId(7));
        let scoped = index.candidates(&query, Some(&[ConversationId(1), ConversationId(2)]), 50);
        assert_eq!(scoped.len(), 50);
        assert!(scoped.iter().all(|id| id.0 % 4 == 1 || id.0 % 4 == 2));
        assert!(!scoped.contains(&MessageId(7)));
        assert!(index.candidates(&query, Some(&[]), 5).is_empty());
        // A conversation named twice is scanned once; an unknown one adds nothing.
        let twice = [ConversationId(1), ConversationId(1), ConversationId(99)];
        let once = index.candidates(&query, Some(&twice), 200);
        assert_eq!(once.len(), 50);
        assert!(once.iter().all(|id| id.0 % 4 == 1));
        // Other code widths (not 6 or 12 words) take the generic scan, scoped too.
        let wide = VectorIndex::new("w");
        for i in 0..40_i64 {
            assert!(wide.insert(MessageId(i), ConversationId(i % 2), &vector(i as u64, 200)));
        }
        let found = wide.candidates(&vector(8, 200), Some(&[ConversationId(0)]), 5);
        assert_eq!(found[0], MessageId(8));
        assert!(found.iter().all(|id| id.0 % 2 == 0));
        assert_eq!(
            wide.candidates(&vector(9, 200), None, 1),
            vec![MessageId(9)]
        );
    }

    #[test]
    fn duplicates_and_other_dimensions_are_refused() {
        let index = VectorIndex::new("m");
        assert!(index.insert(MessageId(1), ConversationId(1), &vector(1, 8)));
        assert!(!index.insert(MessageId(1), ConversationId(1), &vector(2, 8)));
        assert!(!index.insert(MessageId(2), ConversationId(1), &vector(2, 9)));
        assert!(!index.insert(MessageId(3), ConversationId(1), &[]));
        assert_eq!(index.len(), 1);
        assert!(index.candidates(&vector(1, 9), None, 3).is_empty());
    }

    #[test]
    fn removed_messages_are_never_candidates_again() {
        let index = VectorIndex::new("m");
        for i in 0..20_i64 {
            assert!(index.insert(MessageId(i), ConversationId(i % 2), &vector(i as u64, 64)));
        }
        assert_eq!(
            index.remove(&[MessageId(3), MessageId(4), MessageId(99)]),
            2
        );
        assert_eq!(index.len(), 18);
        let found = index.candidates(&vector(3, 64), None, 20);
        assert_eq!(found.len(), 18);
        assert!(!found.contains(&MessageId(3)) && !found.contains(&MessageId(4)));
        // The others keep their own codes: each is still its own nearest.
        assert_eq!(
            index.candidates(&vector(5, 64), None, 1),
            vec![MessageId(5)]
        );
        assert_eq!(
            index.candidates(&vector(19, 64), None, 1),
            vec![MessageId(19)]
        );
        // A scoped scan follows the conversations' renumbered positions.
        let odd = index.candidates(&vector(5, 64), Some(&[ConversationId(1)]), 20);
        assert_eq!(odd.len(), 9, "ten odd messages, 3 removed");
        assert_eq!(odd[0], MessageId(5));
        assert!(odd.iter().all(|id| id.0 % 2 == 1 && id.0 != 3));
        let even = index.candidates(&vector(4, 64), Some(&[ConversationId(0)]), 20);
        assert_eq!(even.len(), 9, "ten even messages, 4 removed");
        assert!(even.iter().all(|id| id.0 % 2 == 0 && id.0 != 4));
        assert_eq!(index.remove(&[]), 0);
    }

    #[test]
    fn top_keeps_the_smallest_distances_offered() {
        for k in [0, 1, 7, 64] {
            let mut top = Top::new(k);
            let distances: Vec<u32> = (0..1_000_u32).map(|i| (i * 7_919) % 389).collect();
            for (i, &d) in distances.iter().enumerate() {
                top.offer(d, i);
            }
            let mut kept: Vec<u32> = top.into_best().iter().map(|&(d, _)| d).collect();
            kept.sort_unstable();
            let mut expected = distances.clone();
            expected.sort_unstable();
            expected.truncate(k);
            assert_eq!(kept, expected, "k = {k}");
        }
    }

    #[test]
    fn reranking_orders_by_cosine() {
        let query = vec![1.0, 0.0, 0.0];
        let candidates = vec![
            (MessageId(1), vec![0.0, 1.0, 0.0]),
            (MessageId(2), vec![1.0, 0.1, 0.0]),
            (MessageId(3), vec![-1.0, 0.0, 0.0]),
            (MessageId(4), vec![1.0]),
        ];
        let ranked = rerank(&query, &candidates, 2);
        assert_eq!(ranked[0].0, MessageId(2));
        assert!(ranked[0].1 > 0.99);
        assert_eq!(ranked[1].0, MessageId(1));
        assert_eq!(ranked.len(), 2);
    }
}
