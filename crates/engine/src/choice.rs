//! A turn with images goes to a model that can see them. (Which model answers otherwise is
//! [`crate::settings`]' question.)

use mcpcord_llm::{Capability, ModelInfo};

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
