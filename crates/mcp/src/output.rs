//! Tool results in the form the model (and Discord) use: one text for the model, truncated
//! past a size with a note saying so; structured content; images kept whole for display and
//! for vision models; resource links and embedded resources named in the text.

use base64::Engine as _;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde::Serialize;
use serde_json::Value;

/// What a call returned.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ToolOutput {
    /// The server flagged the result as an error (`isError`): the model should read `text` as
    /// an error it can correct (bad arguments, a missing file).
    pub is_error: bool,
    /// Everything for the model as one text, truncated to the host's limit.
    pub text: String,
    /// The structured result, when the tool declares an output schema.
    pub structured: Option<Value>,
    /// Images, decoded (for Discord attachments and vision models).
    pub images: Vec<ToolImage>,
    /// Resources the result links to or embeds.
    pub resources: Vec<ResourceRef>,
    /// Set when `text` was cut.
    pub truncated: Option<Truncation>,
}

/// An image from a tool result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolImage {
    /// e.g. `image/png`.
    pub mime_type: String,
    /// The decoded bytes.
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// A resource a tool result links to or embeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    /// Its URI.
    pub uri: String,
    /// Its name, for links.
    pub name: Option<String>,
    /// Its MIME type, when known.
    pub mime_type: Option<String>,
    /// Whether its content came embedded in the result.
    pub embedded: bool,
}

/// How much of the text was kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// Bytes kept.
    pub kept_bytes: usize,
    /// Bytes the tool returned.
    pub original_bytes: usize,
}

impl ToolOutput {
    /// Converts a call result, cutting the text to `max_bytes`.
    pub fn from_result(result: CallToolResult, max_bytes: usize) -> Self {
        let mut output = ToolOutput {
            is_error: result.is_error == Some(true),
            structured: result.structured_content,
            ..ToolOutput::default()
        };
        let mut parts: Vec<String> = Vec::new();
        for block in result.content {
            if let Some(part) = output.absorb(block) {
                parts.push(part);
            }
        }
        let has_text = !parts.is_empty();
        if !has_text && let Some(structured) = &output.structured {
            parts.push(structured.to_string());
        }
        let text = if parts.is_empty() {
            "(the tool returned no content)".to_owned()
        } else {
            parts.join("\n")
        };
        let (text, truncated) = truncate(text, max_bytes);
        output.text = text;
        output.truncated = truncated;
        output
    }

    /// Takes one content block in; returns what the model reads of it.
    fn absorb(&mut self, block: ContentBlock) -> Option<String> {
        match block {
            ContentBlock::Text(text) => Some(text.text),
            ContentBlock::Image(image) => Some(self.image(&image.data, image.mime_type)),
            ContentBlock::Audio(audio) => Some(format!(
                "[audio: {}, {} bytes, not shown]",
                audio.mime_type,
                decoded_len(&audio.data)
            )),
            ContentBlock::ResourceLink(link) => {
                let described = format!(
                    "[resource link: {} <{}>{}]",
                    link.name,
                    link.uri,
                    link.mime_type
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                );
                self.resources.push(ResourceRef {
                    uri: link.uri,
                    name: Some(link.name),
                    mime_type: link.mime_type,
                    embedded: false,
                });
                Some(described)
            }
            ContentBlock::Resource(embedded) => Some(self.embedded(embedded.resource)),
            _ => None,
        }
    }

    fn image(&mut self, data: &str, mime_type: String) -> String {
        match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(bytes) => {
                let described = format!("[image: {mime_type}, {} bytes, attached]", bytes.len());
                self.images.push(ToolImage {
                    mime_type,
                    data: bytes,
                });
                described
            }
            Err(_) => format!("[image: {mime_type}, undecodable data]"),
        }
    }

    fn embedded(&mut self, resource: ResourceContents) -> String {
        match resource {
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            } => {
                let described = format!("[resource {uri}]\n{text}");
                self.resources.push(ResourceRef {
                    uri,
                    name: None,
                    mime_type,
                    embedded: true,
                });
                described
            }
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => {
                let mime = mime_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into());
                self.resources.push(ResourceRef {
                    uri: uri.clone(),
                    name: None,
                    mime_type,
                    embedded: true,
                });
                if mime.starts_with("image/") {
                    let image = self.image(&blob, mime);
                    format!("[resource {uri}] {image}")
                } else {
                    format!(
                        "[resource {uri}: {mime}, {} bytes of binary data]",
                        decoded_len(&blob)
                    )
                }
            }
            _ => "[resource of an unknown kind]".to_owned(),
        }
    }
}

fn decoded_len(base64: &str) -> usize {
    base64.len() / 4 * 3
}

/// Cuts `text` to at most `max_bytes` (on a character boundary) and appends a note.
pub(crate) fn truncate(text: String, max_bytes: usize) -> (String, Option<Truncation>) {
    if text.len() <= max_bytes {
        return (text, None);
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let original_bytes = text.len();
    let mut kept = text;
    kept.truncate(end);
    kept.push_str(&format!(
        "\n[output truncated: showing the first {end} of {original_bytes} bytes]"
    ));
    (
        kept,
        Some(Truncation {
            kept_bytes: end,
            original_bytes,
        }),
    )
}

#[cfg(test)]
mod tests {
    use rmcp::model::Resource;

    use super::*;

    #[test]
    fn text_images_links_and_structured_content() {
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG....");
        let mut result = CallToolResult::success(vec![
            ContentBlock::text("hello"),
            ContentBlock::image(png, "image/png"),
            ContentBlock::resource_link(Resource::new("file:///a.txt", "a.txt")),
            ContentBlock::embedded_text("file:///b.txt", "bee"),
        ]);
        result.structured_content = Some(serde_json::json!({"n": 1}));
        let output = ToolOutput::from_result(result, 1000);
        assert!(!output.is_error);
        assert!(
            output
                .text
                .starts_with("hello\n[image: image/png, 8 bytes, attached]")
        );
        assert!(
            output
                .text
                .contains("[resource link: a.txt <file:///a.txt>]")
        );
        assert!(output.text.contains("[resource file:///b.txt]\nbee"));
        assert_eq!(output.images[0].data, b"\x89PNG....");
        assert_eq!(output.resources.len(), 2);
        assert_eq!(output.structured, Some(serde_json::json!({"n": 1})));
    }

    #[test]
    fn structured_only_results_are_shown_as_json_and_errors_flagged() {
        let mut result = CallToolResult::error(Vec::new());
        result.structured_content = Some(serde_json::json!({"ok": false}));
        let output = ToolOutput::from_result(result, 1000);
        assert!(output.is_error);
        assert_eq!(output.text, r#"{"ok":false}"#);
        let empty = ToolOutput::from_result(CallToolResult::success(Vec::new()), 1000);
        assert_eq!(empty.text, "(the tool returned no content)");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_with_a_note() {
        let (text, cut) = truncate("ééééé".to_owned(), 5);
        assert!(text.starts_with("éé\n[output truncated: showing the first 4 of 10 bytes]"));
        assert_eq!(
            cut,
            Some(Truncation {
                kept_bytes: 4,
                original_bytes: 10
            })
        );
        assert_eq!(truncate("short".into(), 5), ("short".into(), None));
    }
}
