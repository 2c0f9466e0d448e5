//! Prompts the servers offer (for the Discord layer's prompt commands): listing, and getting one
//! with arguments as messages.

use rmcp::model::{ContentBlock, GetPromptResult, Prompt, ResourceContents, Role};
use serde::Serialize;

/// A prompt a server offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptDescriptor {
    /// The server.
    pub server: String,
    /// The prompt's name.
    pub name: String,
    /// Display title, when given.
    pub title: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Its arguments.
    pub arguments: Vec<PromptArgumentInfo>,
}

/// One argument of a prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptArgumentInfo {
    /// Its name.
    pub name: String,
    /// What to give.
    pub description: Option<String>,
    /// Whether it must be given.
    pub required: bool,
}

/// A prompt, filled in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptContent {
    /// The server's description of the result.
    pub description: Option<String>,
    /// The messages, in order.
    pub messages: Vec<PromptMessageText>,
}

/// One message of a filled-in prompt (non-text content is described in words).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptMessageText {
    /// `user` or `assistant`.
    pub role: String,
    /// The text.
    pub text: String,
}

pub(crate) fn describe(server: &str, prompt: Prompt) -> PromptDescriptor {
    PromptDescriptor {
        server: server.to_owned(),
        name: prompt.name,
        title: prompt.title,
        description: prompt.description,
        arguments: prompt
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|argument| PromptArgumentInfo {
                name: argument.name,
                description: argument.description,
                required: argument.required.unwrap_or(false),
            })
            .collect(),
    }
}

pub(crate) fn content(result: GetPromptResult) -> PromptContent {
    PromptContent {
        description: result.description,
        messages: result
            .messages
            .into_iter()
            .map(|message| PromptMessageText {
                role: match message.role {
                    Role::Assistant => "assistant".to_owned(),
                    _ => "user".to_owned(),
                },
                text: block_text(message.content),
            })
            .collect(),
    }
}

fn block_text(block: ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text.text,
        ContentBlock::Image(image) => format!("[image: {}]", image.mime_type),
        ContentBlock::Audio(audio) => format!("[audio: {}]", audio.mime_type),
        ContentBlock::ResourceLink(link) => {
            format!("[resource link: {} <{}>]", link.name, link.uri)
        }
        ContentBlock::Resource(embedded) => resource_text(embedded.resource),
        _ => String::new(),
    }
}

/// An embedded resource as text: its URI, and its text when it has some.
fn resource_text(resource: ResourceContents) -> String {
    match resource {
        ResourceContents::TextResourceContents { uri, text, .. } => {
            format!("[resource {uri}]\n{text}")
        }
        ResourceContents::BlobResourceContents { uri, .. } => format!("[resource {uri}]"),
        _ => "[resource]".to_owned(),
    }
}
