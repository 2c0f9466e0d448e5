//! Which model answers: explicit request > user preference > channel > guild > default; a turn
//! with images goes to a model that can see them.

use mcpcord_llm::{Capability, ModelInfo};

/// The model preferences that apply to a turn, most specific first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPreferences {
    /// Chosen for this turn (`--model`, `/model` in the message).
    pub explicit: Option<String>,
    /// The user's preference.
    pub user: Option<String>,
    /// The channel's.
    pub channel: Option<String>,
    /// The guild's.
    pub guild: Option<String>,
}

/// The model the preferences point at, or `default`.
pub fn preferred(preferences: &ModelPreferences, default: &str) -> String {
    [
        &preferences.explicit,
        &preferences.user,
        &preferences.channel,
        &preferences.guild,
    ]
    .into_iter()
    .find_map(|m| m.clone())
    .unwrap_or_else(|| default.to_string())
}

/// What to do with images for a model described by `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisionRoute {
    /// The model can see them.
    Keep,
    /// Send the turn to this vision model instead.
    Switch(String),
    /// No model can: drop the images and say so.
    Unsupported,
}

/// Routes a turn with images.
pub fn vision_route(info: &ModelInfo, vision_model: Option<&str>) -> VisionRoute {
    if info.can(Capability::Vision) {
        VisionRoute::Keep
    } else if let Some(vision) = vision_model.filter(|v| *v != info.name) {
        VisionRoute::Switch(vision.to_string())
    } else {
        VisionRoute::Unsupported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_preference_wins() {
        let mut prefs = ModelPreferences {
            guild: Some("g".into()),
            channel: Some("c".into()),
            ..Default::default()
        };
        assert_eq!(preferred(&prefs, "d"), "c");
        prefs.user = Some("u".into());
        assert_eq!(preferred(&prefs, "d"), "u");
        prefs.explicit = Some("e".into());
        assert_eq!(preferred(&prefs, "d"), "e");
        assert_eq!(preferred(&ModelPreferences::default(), "d"), "d");
    }

    #[test]
    fn images_go_to_a_model_that_can_see() {
        let mut text_only = ModelInfo::named("llama");
        text_only.capabilities = Some(vec![Capability::Completion]);
        assert_eq!(
            vision_route(&text_only, Some("llava")),
            VisionRoute::Switch("llava".into())
        );
        assert_eq!(vision_route(&text_only, None), VisionRoute::Unsupported);
        let mut seeing = ModelInfo::named("llava");
        seeing.capabilities = Some(vec![Capability::Vision]);
        assert_eq!(vision_route(&seeing, Some("llava")), VisionRoute::Keep);
    }
}
