//! The in-process vector index: binary-quantised codes of every embedded message, searched by
//! Hamming distance, with exact cosine re-ranking of the candidates.
//!
//! Each vector is kept as its sign bits only (384 dimensions: six `u64`, 48 bytes), with its
//! message id and the conversation it belongs to: about 60 bytes per message, so a million
//! messages cost about 60 MB of RAM (`research/memory.md` §4: a Hamming scan for 400 candidates
//! and exact re-ranking gives recall ≈ 0.97 at p95 ≈ 2.4 ms for 1 M vectors on one core). The
//! full f32 vectors stay in the database (`message_embeddings`) and are read back only for the
//! candidates ([`Store::embeddings_of`](crate::Store::embeddings_of)).
//!
//! Scope is enforced during the scan: only vectors of the conversations a query may see are
//! compared at all, so a vector outside the scope can never take a candidate's place.
//! Deleted messages need no bookkeeping here: their stored vectors go with them (`ON DELETE
//! CASCADE`), so re-ranking, which reads from the database, drops them.

pub(crate) mod code;

use std::collections::{BinaryHeap, HashMap};
use std::sync::RwLock;

pub use code::{cosine, hamming, sign_code};

use crate::{ConversationId, MessageId};

/// How many Hamming candidates are re-ranked exactly by default (recall@10 ≈ 0.97 at 1 M).
pub const DEFAULT_CANDIDATES: usize = 400;

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
    /// Each code's conversation, as a slot into `conversations`.
    slots: Vec<u32>,
    /// Codes, `words` per message, in the order of `messages`.
    codes: Vec<u64>,
    /// Conversation ids by slot.
    conversations: Vec<i64>,
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
        state.codes.capacity() * 8
            + state.messages.capacity() * 8
            + state.slots.capacity() * 4
            + state.conversations.capacity() * 8
            + state.slot_of.capacity() * 12
    }

    /// Gives back the room grown for more vectors (after loading the stored ones at start).
    pub fn shrink_to_fit(&self) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.codes.shrink_to_fit();
        state.messages.shrink_to_fit();
        state.slots.shrink_to_fit();
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
        if state.dims != vector.len() || state.holds(message.0) {
            return false;
        }
        state.newest = state.newest.max(message.0);
        let slot = state.slot(conversation.0);
        state.messages.push(message.0);
        state.slots.push(slot);
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
        let mut kept = 0;
        for i in 0..before {
            if gone.contains(&state.messages[i]) {
                continue;
            }
            state.messages[kept] = state.messages[i];
            state.slots[kept] = state.slots[i];
            state
                .codes
                .copy_within(i * words..(i + 1) * words, kept * words);
            kept += 1;
        }
        state.messages.truncate(kept);
        state.slots.truncate(kept);
        state.codes.truncate(kept * words);
        before - kept
    }

    /// Up to `k` messages whose codes are nearest `query`'s by Hamming distance, nearest first,
    /// among the conversations `allowed` (all of them with `None`).
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
        let mask = allowed.map(|ids| state.mask(ids));
        let scan = Scan {
            query: &code,
            codes: &state.codes,
            words: state.words,
            slots: &state.slots,
            mask: mask.as_deref(),
            k,
        };
        scan.run()
            .into_sorted_vec()
            .into_iter()
            .map(|(_, i)| MessageId(state.messages[i]))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// One Hamming scan: the `k` codes nearest `query` among those the mask allows.
struct Scan<'a> {
    query: &'a [u64],
    codes: &'a [u64],
    words: usize,
    slots: &'a [u32],
    mask: Option<&'a [bool]>,
    k: usize,
}

impl Scan<'_> {
    /// The nearest codes as (distance, position), with the processor's popcount instruction
    /// where it has one (the portable build counts bits without it, several times slower).
    fn run(&self) -> BinaryHeap<(u32, usize)> {
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
    fn run_popcnt(&self) -> BinaryHeap<(u32, usize)> {
        self.scan()
    }

    /// The scan, with the code width known at compile time for the usual sizes (384 and 768
    /// dimensions: 6 and 12 words), so the distance loop unrolls.
    #[inline(always)]
    fn scan(&self) -> BinaryHeap<(u32, usize)> {
        match self.words {
            6 => self.scan_words::<6>(),
            12 => self.scan_words::<12>(),
            _ => self.scan_any(),
        }
    }

    #[inline(always)]
    fn scan_words<const W: usize>(&self) -> BinaryHeap<(u32, usize)> {
        let mut query = [0_u64; W];
        query.copy_from_slice(self.query);
        let mut top = Top::new(self.k);
        for (i, stored) in self.codes.chunks_exact(W).enumerate() {
            if self.allows(i) {
                let distance: u32 = (0..W).map(|w| (query[w] ^ stored[w]).count_ones()).sum();
                top.offer(distance, i);
            }
        }
        top.heap
    }

    #[inline(always)]
    fn scan_any(&self) -> BinaryHeap<(u32, usize)> {
        let mut top = Top::new(self.k);
        for (i, stored) in self.codes.chunks_exact(self.words).enumerate() {
            if self.allows(i) {
                top.offer(hamming(self.query, stored), i);
            }
        }
        top.heap
    }

    /// Whether code `i` is in scope.
    #[inline(always)]
    fn allows(&self, i: usize) -> bool {
        self.mask.is_none_or(|mask| mask[self.slots[i] as usize])
    }
}

/// The `k` smallest distances offered, as a max-heap (the worst on top, to be replaced).
struct Top {
    heap: BinaryHeap<(u32, usize)>,
    k: usize,
}

impl Top {
    fn new(k: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(k + 1),
            k,
        }
    }

    #[inline(always)]
    fn offer(&mut self, distance: u32, i: usize) {
        if self.heap.len() < self.k {
            self.heap.push((distance, i));
        } else if self.heap.peek().is_some_and(|&(worst, _)| distance < worst) {
            self.heap.pop();
            self.heap.push((distance, i));
        }
    }
}

impl State {
    /// Whether message `id` is held already (a scan only for an id below the newest).
    fn holds(&self, id: i64) -> bool {
        !self.messages.is_empty() && id <= self.newest && self.messages.contains(&id)
    }

    /// The slot of conversation `id`, made on first sight.
    fn slot(&mut self, id: i64) -> u32 {
        if let Some(&slot) = self.slot_of.get(&id) {
            return slot;
        }
        let slot = u32::try_from(self.conversations.len()).unwrap_or(u32::MAX);
        self.conversations.push(id);
        self.slot_of.insert(id, slot);
        slot
    }

    /// Which slots the conversations `allowed` hold.
    fn mask(&self, allowed: &[ConversationId]) -> Vec<bool> {
        let mut mask = vec![false; self.conversations.len()];
        for id in allowed {
            if let Some(&slot) = self.slot_of.get(&id.0) {
                mask[slot as usize] = true;
            }
        }
        mask
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
        assert_eq!(index.remove(&[]), 0);
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
