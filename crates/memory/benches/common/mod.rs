//! What the `vectors` and `search` benches share: the clustered synthetic vectors and the
//! process's resident memory.
//!
//! The vectors are clustered like real embeddings, in two levels: a thousand random topics with
//! twenty subtopics each; a vector is its topic, plus its subtopic's direction (weight 0.6),
//! plus noise (weight 0.4), normalized.

#![allow(dead_code)] // each bench uses its part

/// Dimensions of the vectors (all-MiniLM-L6-v2's).
pub const DIMS: usize = 384;
/// Topics of the space.
pub const TOPICS: usize = 1_000;
/// Subtopics of each topic.
pub const SUBTOPICS: usize = 20;

/// A small deterministic generator (xorshift), values in [-1, 1).
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `DIMS` values, not normalized.
    pub fn raw(&mut self) -> Vec<f32> {
        (0..DIMS).map(|_| self.next()).collect()
    }
}

/// `v` scaled to length 1.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// Unit vectors: topics, and subtopic directions.
pub struct Space {
    topics: Vec<Vec<f32>>,
    subtopics: Vec<Vec<f32>>,
}

impl Space {
    /// A space drawn from `rng`.
    pub fn new(rng: &mut Rng) -> Self {
        Self {
            topics: (0..TOPICS).map(|_| normalized(rng.raw())).collect(),
            subtopics: (0..TOPICS * SUBTOPICS)
                .map(|_| normalized(rng.raw()))
                .collect(),
        }
    }

    /// A vector around a random subtopic of a random topic.
    pub fn vector(&self, rng: &mut Rng) -> Vec<f32> {
        let pick = (rng.next().abs() * (TOPICS * SUBTOPICS) as f32) as usize;
        let sub = pick % (TOPICS * SUBTOPICS);
        let topic = &self.topics[sub / SUBTOPICS];
        let direction = &self.subtopics[sub];
        let noise = normalized(rng.raw());
        normalized(
            topic
                .iter()
                .zip(direction)
                .zip(&noise)
                .map(|((t, d), e)| t + 0.6 * d + 0.4 * e)
                .collect(),
        )
    }

    /// `n` vectors.
    pub fn vectors(&self, n: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
        (0..n).map(|_| self.vector(rng)).collect()
    }
}

/// The process's resident memory now, in bytes.
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Gives the heap's free pages back to the system (glibc keeps what a thread freed in its
/// arena): what stays resident after this is held, not just once used. Elsewhere a no-op.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused heap memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
