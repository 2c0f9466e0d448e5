//! Hot state kept in memory on SQLite, so a turn reads no disk before the model: the whole
//! preferences and disabled-tools tables (small: a row only where somebody chose something),
//! and the live conversations of recent keys.
//!
//! Why it is correct: on SQLite one bot process serves the database (several processes need
//! PostgreSQL), and every change to these tables goes through this process's [`Store`], whose
//! writers update or drop the copy before they return — so the next turn sees the change. On
//! PostgreSQL, where several processes share the database and one cannot see another's
//! writes, nothing is cached: there reads run concurrently on the server and wait for no
//! fsync queue. Nor on a SQLite file that several processes share (each running part of the
//! shards): the wiring says so with [`Store::set_shared`].
//!
//! A table copy is loaded whole on first use (once, however many turns ask at that moment) and
//! dropped by any write to the table; the next read loads it again. A load that raced with a
//! write is not kept (a generation number tells). Conversations are kept by key as they were
//! read or created; changes to one (title, model, `/new`, retention) update or drop it.
//!
//! Beside them, the keys that have a live conversation, as hashes: read when the store opens
//! and added to before any write that may give a key a live conversation. A key not among
//! them has none, so a person's first message there creates its conversation in memory, its
//! write queued (see `group.rs`), without reading anything. The set only grows (a key whose
//! conversation retention or forgetting removed stays in it, and so does a hash two keys
//! share): a key in it is read from the database, as without the set. Eight bytes (and the
//! hash set's room) per live conversation: a million cost some 16 MB.
//!
//! [`Store`]: crate::Store
//! [`Store::set_shared`]: crate::Store::set_shared

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::{
    Conversation, ConversationId, DisabledTool, MemoryError, Preference, Started, Written,
};

/// The most conversations kept; past it the copy starts again empty (a burst of new
/// conversations costs a read each, as without the cache).
const CONVERSATIONS: usize = 4096;

/// The preferences table: (level, target id as stored) → that level's choices.
pub(crate) type PreferenceTable = HashMap<(&'static str, i64), Preference>;
/// The disabled-tools table: channel id as stored → its tools off, sorted.
pub(crate) type DisabledTable = HashMap<i64, Vec<DisabledTool>>;

/// What a SQLite store keeps in memory (see the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct Hot {
    pub(crate) preferences: Mirror<PreferenceTable>,
    pub(crate) disabled: Mirror<DisabledTable>,
    conversations: Mutex<Kept>,
    /// Other processes write to the database: nothing is kept.
    off: AtomicBool,
}

/// The conversations kept, and the generation that every change to conversations bumps (a
/// conversation read before a change is not kept after it).
#[derive(Debug, Default)]
struct Kept {
    generation: u64,
    by_key: HashMap<String, Conversation>,
    /// The hashes of every key with a live conversation (and of some without); `None` when
    /// not known (the set is read when the store opens, and forgotten while the database is
    /// shared).
    live: Option<HashSet<u64>>,
}

impl Kept {
    /// Keeps `conversation` under its key (starting again empty when full).
    fn keep(&mut self, conversation: &Conversation) {
        if self.by_key.len() >= CONVERSATIONS {
            self.by_key.clear();
        }
        self.by_key
            .insert(conversation.key.as_str().to_owned(), conversation.clone());
    }
}

/// What [`Hot::claim`] found for a key.
pub(crate) enum Claim {
    /// Its live conversation, kept.
    Kept(Conversation),
    /// It had no live conversation: one was created with the message (its write queued) and
    /// is kept.
    Created(Box<(Started, Written)>),
    /// Not known here: read it (and keep it with this generation).
    Unknown(u64),
}

/// The hash a key is known by among the live keys.
pub(crate) fn key_hash(key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

impl Hot {
    /// Stops keeping anything (another process writes to the database too), or starts again.
    /// Turned off, the live keys are forgotten for good (other processes create
    /// conversations too): back on, keys are read from the database.
    pub(crate) fn set_off(&self, off: bool) {
        self.off.store(off, Ordering::SeqCst);
        self.preferences.changed();
        self.disabled.changed();
        self.forget_conversations();
        if off {
            self.lock_conversations().live = None;
        }
    }

    /// Sets the keys with a live conversation, read when the store opened.
    pub(crate) fn set_live_keys(&self, keys: HashSet<u64>) {
        self.lock_conversations().live = Some(keys);
    }

    /// Marks `key` as one that may have a live conversation: call before any write that may
    /// give it one.
    pub(crate) fn mark_live(&self, key: &str) {
        if let Some(live) = &mut self.lock_conversations().live {
            live.insert(key_hash(key));
        }
    }

    /// The live conversation under `key` if kept; else, when the key is known to have none,
    /// `create`'s (called under the lock, so no other turn creates one for the key meanwhile),
    /// kept; else the generation to keep the conversation read with.
    pub(crate) fn claim(
        &self,
        key: &str,
        create: impl FnOnce() -> Result<Option<(Started, Written)>, MemoryError>,
    ) -> Result<Claim, MemoryError> {
        let mut kept = self.lock_conversations();
        if let Some(found) = kept.by_key.get(key) {
            return Ok(Claim::Kept(found.clone()));
        }
        let hash = key_hash(key);
        let absent = kept.live.as_ref().is_some_and(|live| !live.contains(&hash));
        if absent && let Some(created) = create()? {
            kept.keep(&created.0.conversation);
            if let Some(live) = &mut kept.live {
                live.insert(hash);
            }
            return Ok(Claim::Created(Box::new(created)));
        }
        Ok(Claim::Unknown(kept.generation))
    }

    /// Whether nothing is kept.
    pub(crate) fn is_off(&self) -> bool {
        self.off.load(Ordering::SeqCst)
    }

    /// The live conversation under `key` if kept, else the generation to give [`keep`](Self::keep)
    /// with the conversation read.
    pub(crate) fn conversation(&self, key: &str) -> Result<Conversation, u64> {
        let kept = self.lock_conversations();
        kept.by_key.get(key).cloned().ok_or(kept.generation)
    }

    /// Keeps `conversation`, read at `generation`, as the live one under its key, unless a
    /// change to conversations came since.
    pub(crate) fn keep(&self, generation: u64, conversation: &Conversation) {
        let mut kept = self.lock_conversations();
        if kept.generation == generation {
            kept.keep(conversation);
        }
    }

    /// Forgets the conversation under `key` (archived by `/new`).
    pub(crate) fn forget_key(&self, key: &str) {
        let mut kept = self.lock_conversations();
        kept.generation += 1;
        kept.by_key.remove(key);
    }

    /// Forgets the conversation with `id` (its title or model changed).
    pub(crate) fn forget_id(&self, id: ConversationId) {
        let mut kept = self.lock_conversations();
        kept.generation += 1;
        kept.by_key.retain(|_, c| c.id != id);
    }

    /// Forgets every conversation (retention deleted some).
    pub(crate) fn forget_conversations(&self) {
        let mut kept = self.lock_conversations();
        kept.generation += 1;
        kept.by_key.clear();
    }

    fn lock_conversations(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.conversations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A whole table's copy, loaded on first use and dropped by writes.
#[derive(Debug)]
pub(crate) struct Mirror<T> {
    state: RwLock<MirrorState<T>>,
    /// One load at a time: turns arriving together wait for it instead of each reading.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct MirrorState<T> {
    /// Bumped by every write; a load started before a write is not kept.
    generation: u64,
    table: Option<Arc<T>>,
}

impl<T> Default for Mirror<T> {
    fn default() -> Self {
        Self {
            state: RwLock::new(MirrorState {
                generation: 0,
                table: None,
            }),
            loading: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T> Mirror<T> {
    /// The table, loaded with `load` unless kept; a load that raced with a write is used for
    /// this read (it is as fresh as a read would be) but not kept.
    pub(crate) async fn get<F>(&self, load: impl FnOnce() -> F) -> Result<Arc<T>, MemoryError>
    where
        F: Future<Output = Result<T, MemoryError>>,
    {
        if let Some(table) = self.kept() {
            return Ok(table);
        }
        let _one = self.loading.lock().await;
        if let Some(table) = self.kept() {
            return Ok(table);
        }
        let generation = self.read().generation;
        let table = Arc::new(load().await?);
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.generation == generation {
            state.table = Some(table.clone());
        }
        Ok(table)
    }

    /// Drops the copy: the table changed (call after the change is committed).
    pub(crate) fn changed(&self) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.generation += 1;
        state.table = None;
    }

    fn kept(&self) -> Option<Arc<T>> {
        self.read().table.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, MirrorState<T>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }
}
