//! The test server's resources: the text `test://readme` and the template `test://echo/{text}`,
//! whose reads return `{text}` itself.

use rmcp::{
    ErrorData,
    model::{
        ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
        ResourceContents, ResourceTemplate,
    },
};

/// URI of the readme resource.
pub const README_URI: &str = "test://readme";
/// Text of the readme resource.
pub const README_TEXT: &str = "mcpcord test MCP server\n\nTools: echo, delete, add, sleep, crash, \
large_output, image, progress, ask, env, toggle_extra (and extra once toggled).\n";

const ECHO_TEMPLATE: &str = "test://echo/{text}";
const ECHO_PREFIX: &str = "test://echo/";

pub(super) fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(README_URI, "readme")
            .with_title("Test server readme")
            .with_description("What this server offers")
            .with_mime_type("text/plain")
            .with_size(README_TEXT.len() as u64),
    ])
}

pub(super) fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(ECHO_TEMPLATE, "echo")
            .with_description("Reading test://echo/X returns X")
            .with_mime_type("text/plain"),
    ])
}

pub(super) fn read(uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let text = if uri == README_URI {
        README_TEXT
    } else if let Some(text) = uri.strip_prefix(ECHO_PREFIX) {
        text
    } else {
        return Err(ErrorData::resource_not_found(
            format!("no resource {uri:?}"),
            Some(serde_json::json!({ "uri": uri })),
        ));
    };
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type("text/plain"),
    ]))
}
