//! Changing what the next turns use, for front ends: model and system prompt preferences at a
//! person's, a channel's or a server's level, and starting a conversation over.
//!
//! Who may change what is the front end's decision (it knows who is an admin); the engine checks
//! what it knows itself: that a model exists.

use mcpcord_memory::{ConversationKey, PreferenceLevel, Scope, UserId};

use crate::engine::Engine;
use crate::error::EngineError;

impl Engine {
    /// Makes `model` answer at `level` from now on. Refused with [`EngineError::NotFound`] when
    /// the backends are reachable and none offers it.
    pub async fn set_model_preference(
        &self,
        level: PreferenceLevel,
        model: &str,
    ) -> Result<(), EngineError> {
        let names = self.model_names().await;
        if !names.is_empty() && !offered(&names, model) {
            return Err(EngineError::NotFound {
                kind: "model",
                name: model.to_owned(),
            });
        }
        self.store()
            .set_preferred_model(level, Some(model))
            .await
            .map_err(EngineError::from)
    }

    /// Sets the system prompt template at `level`.
    pub async fn set_system_prompt(
        &self,
        level: PreferenceLevel,
        prompt: &str,
    ) -> Result<(), EngineError> {
        self.store()
            .set_system_prompt(level, prompt)
            .await
            .map_err(EngineError::from)
    }

    /// Removes the system prompt set at `level` (the next level's applies again).
    pub async fn clear_system_prompt(&self, level: PreferenceLevel) -> Result<(), EngineError> {
        self.store()
            .clear_system_prompt(level)
            .await
            .map_err(EngineError::from)
    }

    /// Starts conversation `key` over: the old one is archived, the next turn begins afresh.
    pub async fn start_over(
        &self,
        key: &ConversationKey,
        scope: Scope,
        by: Option<UserId>,
    ) -> Result<(), EngineError> {
        self.store()
            .new_conversation(key, scope, by)
            .await
            .map(|_| ())
            .map_err(EngineError::from)
    }
}

/// Whether `model` names one of the backends' models: exactly, or without Ollama's default tag
/// (`llava` for `llava:latest`).
fn offered(names: &[String], model: &str) -> bool {
    names
        .iter()
        .any(|name| name == model || name.strip_suffix(":latest") == Some(model))
}

#[cfg(test)]
mod tests {
    use super::offered;

    #[test]
    fn a_model_is_offered_by_its_name_or_without_the_latest_tag() {
        let names = vec!["llava:latest".to_owned(), "qwen3:8b".to_owned()];
        assert!(offered(&names, "llava"));
        assert!(offered(&names, "llava:latest"));
        assert!(offered(&names, "qwen3:8b"));
        assert!(!offered(&names, "qwen3"));
        assert!(!offered(&names, "llama3.2"));
    }
}
