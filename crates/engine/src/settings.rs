//! The settings in effect for a conversation: which model answers and with which system prompt,
//! and where each comes from. One implementation, used by the turn itself and by front ends that
//! show it (`/model show`, `/system show`), so what is shown is what the next turn uses.
//!
//! Model: chosen for this turn > chosen for this conversation (`/chat model:`) > the person's
//! preference > the channel's > the server's > `models.default`. System prompt: the person's >
//! the channel's > the server's > `models.system_prompt`.

use mcpcord_memory::{ConversationKey, Preferences, Scope};

use crate::engine::{Engine, EngineConfig};
use crate::error::EngineError;

/// Where a setting comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Asked for in this turn.
    Turn,
    /// Chosen for this conversation.
    Conversation,
    /// The person's preference.
    User,
    /// The channel's preference.
    Channel,
    /// The server's preference.
    Server,
    /// The bot's configuration.
    Default,
}

impl Source {
    /// Words for people: "for you", "in this channel", ….
    pub fn describe(self) -> &'static str {
        match self {
            Self::Turn => "for this message",
            Self::Conversation => "for this conversation",
            Self::User => "your choice",
            Self::Channel => "this channel's",
            Self::Server => "this server's",
            Self::Default => "the bot's default",
        }
    }
}

/// The settings in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The model that answers.
    pub model: String,
    /// Where that model comes from.
    pub model_source: Source,
    /// The system prompt template.
    pub system_prompt: String,
    /// Where the system prompt comes from.
    pub prompt_source: Source,
}

/// The settings from what is known: the turn's explicit model, the conversation's, the
/// preferences, and the configuration.
pub(crate) fn resolve(
    preferences: &Preferences,
    explicit: Option<&str>,
    conversation: Option<&str>,
    config: &EngineConfig,
) -> Settings {
    let (model, model_source) = [
        (explicit.map(str::to_owned), Source::Turn),
        (conversation.map(str::to_owned), Source::Conversation),
        (preferences.user.model.clone(), Source::User),
        (preferences.channel.model.clone(), Source::Channel),
        (preferences.guild.model.clone(), Source::Server),
    ]
    .into_iter()
    .find_map(|(model, source)| model.map(|m| (m, source)))
    .unwrap_or_else(|| (config.default_model.clone(), Source::Default));
    let (system_prompt, prompt_source) = [
        (&preferences.user.system_prompt, Source::User),
        (&preferences.channel.system_prompt, Source::Channel),
        (&preferences.guild.system_prompt, Source::Server),
    ]
    .into_iter()
    .find_map(|(prompt, source)| prompt.clone().map(|p| (p, source)))
    .unwrap_or_else(|| (config.system_prompt.clone(), Source::Default));
    Settings {
        model,
        model_source,
        system_prompt,
        prompt_source,
    }
}

impl Engine {
    /// The settings the next turn in conversation `key` (if any) at `scope` would use.
    pub async fn settings(
        &self,
        scope: &Scope,
        key: Option<&ConversationKey>,
    ) -> Result<Settings, EngineError> {
        let store = self.store();
        let preferences = store.get_preferences(scope).await?;
        let conversation = match key {
            Some(key) => store.find_conversation(key).await?.and_then(|c| c.model),
            None => None,
        };
        Ok(resolve(
            &preferences,
            None,
            conversation.as_deref(),
            &self.config(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use mcpcord_memory::Preference;

    use super::*;

    fn config() -> EngineConfig {
        EngineConfig {
            default_model: "default".into(),
            system_prompt: "be nice".into(),
            ..EngineConfig::default()
        }
    }

    fn model(name: &str) -> Preference {
        Preference {
            model: Some(name.into()),
            ..Preference::default()
        }
    }

    #[test]
    fn the_most_specific_choice_wins_and_says_where_it_comes_from() {
        let mut preferences = Preferences::default();
        let settings = resolve(&preferences, None, None, &config());
        assert_eq!(
            (settings.model.as_str(), settings.model_source),
            ("default", Source::Default)
        );
        assert_eq!(settings.prompt_source, Source::Default);
        preferences.guild = model("g");
        assert_eq!(resolve(&preferences, None, None, &config()).model, "g");
        preferences.channel = model("c");
        assert_eq!(resolve(&preferences, None, None, &config()).model, "c");
        preferences.user = model("u");
        let settings = resolve(&preferences, None, None, &config());
        assert_eq!(
            (settings.model.as_str(), settings.model_source),
            ("u", Source::User)
        );
        let settings = resolve(&preferences, None, Some("conv"), &config());
        assert_eq!(
            (settings.model.as_str(), settings.model_source),
            ("conv", Source::Conversation)
        );
        let settings = resolve(&preferences, Some("now"), Some("conv"), &config());
        assert_eq!(
            (settings.model.as_str(), settings.model_source),
            ("now", Source::Turn)
        );
    }

    #[test]
    fn the_system_prompt_follows_the_person_then_the_place() {
        let mut preferences = Preferences::default();
        preferences.guild.system_prompt = Some("server".into());
        let settings = resolve(&preferences, None, None, &config());
        assert_eq!(
            (settings.system_prompt.as_str(), settings.prompt_source),
            ("server", Source::Server)
        );
        preferences.user.system_prompt = Some("mine".into());
        assert_eq!(
            resolve(&preferences, None, None, &config()).system_prompt,
            "mine"
        );
    }
}
