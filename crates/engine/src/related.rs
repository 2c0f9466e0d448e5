//! Related conversations, for front ends: after an answer, the person's earlier conversation
//! (in scope: this guild's, or their DMs in a DM; never another person's) whose newest summary
//! is very close in meaning to the current conversation's, for a quiet "Related: <title>"
//! button that continues it.
//!
//! It is asked for once the answer is final, never on the turn's path to the model, and gives
//! up after `memory.recall_timeout`. The current conversation is compared by its newest
//! summary's vector, or, lacking one, by the embedding of its latest exchange. Failures (the
//! embedding model down, a slow database) mean no button, never an error shown.

use mcpcord_memory::{
    ConversationId, ListedConversation, MessageId, PreferenceLevel, Preferences, RelatedQuery,
    Role, Scope, UserId,
};

use crate::memory::MemoryConfig;
use crate::{Engine, EngineError};

/// Messages of the latest exchange embedded for a conversation without a summary.
const EXCHANGE_MESSAGES: usize = 2;

/// A related earlier conversation and how close it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    /// The conversation, as a list shows it (title, where it lives).
    pub conversation: ListedConversation,
    /// The cosine similarity of the two conversations' vectors.
    pub similarity: f32,
}

/// Whether answers point at related conversations: the person's choice, else the guild's,
/// else the configuration's; never without an embedding model or summaries.
pub(crate) fn related_on(preferences: &Preferences, config: &MemoryConfig) -> bool {
    config.embedding_model.is_some()
        && config.summaries
        && preferences
            .user
            .related
            .or(preferences.guild.related)
            .unwrap_or(config.related)
}

impl Engine {
    /// The earlier conversation of `person` most related to `conversation`, where they are
    /// (`scope`: its guild, or none for a DM), if one is at least
    /// `memory.related_min_similarity` similar and the switch is on. `None` also when it takes
    /// longer than `memory.recall_timeout` or fails (logged at debug).
    pub async fn related_conversation(
        &self,
        conversation: ConversationId,
        person: UserId,
        scope: &Scope,
    ) -> Option<Related> {
        let config = self.inner.config.load_full();
        let timeout = config.memory.recall_timeout;
        let find = self.find_related(conversation, person, scope, &config.memory);
        match tokio::time::timeout(timeout, find).await {
            Ok(Ok(related)) => related,
            Ok(Err(error)) => {
                tracing::debug!(%error, "could not look for a related conversation");
                None
            }
            Err(_) => {
                tracing::debug!(?timeout, "looking for a related conversation took too long");
                None
            }
        }
    }

    /// [`related_conversation`](Self::related_conversation) for the conversation of the stored
    /// answer `answer` (a front end knows the answer, not its conversation).
    pub async fn related_to_answer(
        &self,
        answer: MessageId,
        person: UserId,
        scope: &Scope,
    ) -> Option<Related> {
        match self.inner.store.message(answer).await {
            Ok(message) => {
                self.related_conversation(message.conversation_id, person, scope)
                    .await
            }
            Err(error) => {
                tracing::debug!(%error, "no conversation for the answer; no related one");
                None
            }
        }
    }

    /// [`related_conversation`](Self::related_conversation) without its timeout.
    async fn find_related(
        &self,
        conversation: ConversationId,
        person: UserId,
        scope: &Scope,
        config: &MemoryConfig,
    ) -> Result<Option<Related>, EngineError> {
        let store = &self.inner.store;
        let Some(model) = config.embedding_model.as_deref() else {
            return Ok(None);
        };
        if !related_on(&store.get_preferences(scope).await?, config) {
            return Ok(None);
        }
        let Some(vector) = self.conversation_vector(conversation, model).await? else {
            return Ok(None);
        };
        let query = RelatedQuery {
            user: person,
            guild: scope.guild_id,
            current: conversation,
            model,
            vector: &vector,
            min_similarity: config.related_min_similarity,
            limit: 1,
        };
        let Some(best) = store
            .related_conversations(&query)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        Ok(Some(Related {
            conversation: store.listed_conversation(best.conversation).await?,
            similarity: best.similarity,
        }))
    }

    /// The current conversation's vector under `model`: its newest summary's, or the
    /// embedding of its latest exchange.
    async fn conversation_vector(
        &self,
        conversation: ConversationId,
        model: &str,
    ) -> Result<Option<Vec<f32>>, EngineError> {
        let store = &self.inner.store;
        if let Some(summary) = store.latest_summary(conversation).await?
            && let Some((by, vector)) = summary.vector
            && by == model
        {
            return Ok(Some(vector));
        }
        let exchange: Vec<String> = store
            .history(conversation, EXCHANGE_MESSAGES)
            .await?
            .into_iter()
            .filter(|m| matches!(m.role, Role::User | Role::Assistant))
            .map(|m| m.content)
            .collect();
        if exchange.is_empty() {
            return Ok(None);
        }
        let mut vectors = self.inner.pool.embed(model, &[exchange.join("\n")]).await?;
        Ok(vectors.pop())
    }

    /// Switches the related-conversation button at `level` (a person's or a guild's): `Some`
    /// on or off, `None` back to the next level's choice or the configuration's.
    pub async fn set_related(
        &self,
        level: PreferenceLevel,
        on: Option<bool>,
    ) -> Result<(), EngineError> {
        crate::memory::person_or_server(&level, "related conversations are")?;
        Ok(self.inner.store.set_related(level, on).await?)
    }

    /// Whether answers in `scope` point at related conversations.
    pub async fn related_enabled(&self, scope: &Scope) -> Result<bool, EngineError> {
        let preferences = self.inner.store.get_preferences(scope).await?;
        Ok(related_on(&preferences, &self.inner.config.load().memory))
    }
}
