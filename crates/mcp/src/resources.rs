//! Resources the servers offer (for the Discord layer): listing resources and templates, and
//! reading one.

use base64::Engine as _;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};
use serde::Serialize;

/// A resource a server offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceDescriptor {
    /// The server.
    pub server: String,
    /// Its URI (what [`crate::McpHost::read_resource`] takes).
    pub uri: String,
    /// Its name.
    pub name: String,
    /// Display title, when given.
    pub title: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// Its MIME type, when known.
    pub mime_type: Option<String>,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
}

/// A family of resources a server offers, addressed by an RFC 6570 URI template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceTemplateDescriptor {
    /// The server.
    pub server: String,
    /// The template, e.g. `file:///{path}`.
    pub uri_template: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// The MIME type of its resources, when known.
    pub mime_type: Option<String>,
}

/// The content of a resource read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceContent {
    /// The URI of this part.
    pub uri: String,
    /// Its MIME type, when known.
    pub mime_type: Option<String>,
    /// Text content.
    pub text: Option<String>,
    /// Binary content, decoded.
    #[serde(skip)]
    pub blob: Option<Vec<u8>>,
}

pub(crate) fn describe(server: &str, resource: Resource) -> ResourceDescriptor {
    ResourceDescriptor {
        server: server.to_owned(),
        uri: resource.uri,
        name: resource.name,
        title: resource.title,
        description: resource.description,
        mime_type: resource.mime_type,
        size: resource.size,
    }
}

pub(crate) fn describe_template(
    server: &str,
    template: ResourceTemplate,
) -> ResourceTemplateDescriptor {
    ResourceTemplateDescriptor {
        server: server.to_owned(),
        uri_template: template.uri_template,
        name: template.name,
        description: template.description,
        mime_type: template.mime_type,
    }
}

pub(crate) fn content(contents: ResourceContents) -> ResourceContent {
    match contents {
        ResourceContents::TextResourceContents {
            uri,
            mime_type,
            text,
            ..
        } => ResourceContent {
            uri,
            mime_type,
            text: Some(text),
            blob: None,
        },
        ResourceContents::BlobResourceContents {
            uri,
            mime_type,
            blob,
            ..
        } => ResourceContent {
            uri,
            mime_type,
            text: None,
            blob: base64::engine::general_purpose::STANDARD.decode(blob).ok(),
        },
        _ => ResourceContent {
            uri: String::new(),
            mime_type: None,
            text: None,
            blob: None,
        },
    }
}
