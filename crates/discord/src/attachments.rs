//! Attachments of a person's message, made ready for the model: images base64-encoded for
//! vision models, text files (up to a size limit) read in, anything else named with the reason
//! it was not read — never dropped silently.
//!
//! Owns fetching attachments over HTTP (from the URL Discord gives) and classifying them.

use std::time::Duration;

use base64::Engine as _;
use mcpcord_engine::UserMessage;
use twilight_model::channel::Attachment;

/// The largest image passed to a model, in bytes.
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// How long one download may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// File extensions read as text even without a `text/*` content type.
const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "md", "markdown", "rs", "py", "js", "ts", "tsx", "jsx", "json", "toml", "yaml", "yml",
    "csv", "log", "html", "css", "xml", "sh", "c", "h", "cpp", "hpp", "go", "java", "kt", "rb",
    "php", "sql", "ini", "cfg", "conf", "tex", "diff", "patch",
];

/// What kind of file an attachment is, for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image a vision model can see.
    Image,
    /// A text file, read in.
    Text,
    /// Anything else: named, not read.
    Other,
}

/// Classifies an attachment by its content type, then its extension.
pub fn classify(content_type: Option<&str>, filename: &str) -> Kind {
    let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("image/") {
        return Kind::Image;
    }
    if content_type.starts_with("text/")
        || content_type.starts_with("application/json")
        || content_type.starts_with("application/xml")
    {
        return Kind::Text;
    }
    let extension = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    if ["png", "jpg", "jpeg", "gif", "webp"].contains(&extension.as_str()) {
        Kind::Image
    } else if TEXT_EXTENSIONS.contains(&extension.as_str()) {
        Kind::Text
    } else {
        Kind::Other
    }
}

/// Reads `attachments` into `message`: images, documents, and skipped files with the reason.
pub async fn read_into(
    client: &reqwest::Client,
    attachments: &[Attachment],
    max_text_bytes: u64,
    message: &mut UserMessage,
) {
    for attachment in attachments {
        let name = attachment.filename.clone();
        let read = match classify(attachment.content_type.as_deref(), &name) {
            Kind::Image => read_image(client, attachment).await.map(Read::Image),
            Kind::Text => read_text(client, attachment, max_text_bytes)
                .await
                .map(Read::Text),
            Kind::Other => Err(format!(
                "{} files cannot be read",
                attachment.content_type.as_deref().unwrap_or("this kind of")
            )),
        };
        match read {
            Ok(Read::Image(image)) => message.images.push(image),
            Ok(Read::Text(text)) => message.documents.push((name, text)),
            Err(why) => message.skipped.push((name, why)),
        }
    }
}

/// What an attachment was read as.
enum Read {
    /// An image, base64-encoded.
    Image(String),
    /// A text document.
    Text(String),
}

/// An image attachment, base64-encoded; or why not.
async fn read_image(client: &reqwest::Client, attachment: &Attachment) -> Result<String, String> {
    if attachment.size > MAX_IMAGE_BYTES {
        return Err(format!(
            "the image is larger than {} MB",
            MAX_IMAGE_BYTES / 1024 / 1024
        ));
    }
    let bytes = fetch(client, &attachment.url, MAX_IMAGE_BYTES).await?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A text attachment of at most `limit` bytes of UTF-8; or why not.
async fn read_text(
    client: &reqwest::Client,
    attachment: &Attachment,
    limit: u64,
) -> Result<String, String> {
    if attachment.size > limit {
        return Err(format!("the file is larger than the {limit}-byte limit"));
    }
    let bytes = fetch(client, &attachment.url, limit).await?;
    String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())
}

/// Downloads at most `limit` bytes from `url`; the error says why, in words for the model.
async fn fetch(client: &reqwest::Client, url: &str, limit: u64) -> Result<Vec<u8>, String> {
    let response = client
        .get(url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| {
            tracing::warn!(%error, url, "cannot download an attachment");
            "the file could not be downloaded".to_owned()
        })?;
    let bytes = response.bytes().await.map_err(|error| {
        tracing::warn!(%error, url, "cannot download an attachment");
        "the file could not be downloaded".to_owned()
    })?;
    if bytes.len() as u64 > limit {
        return Err(format!("the file is larger than the {limit}-byte limit"));
    }
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Attachment names and content types come from whoever uploaded the file: any of them
        /// is classified without panic.
        #[test]
        fn any_name_and_type_are_classified(name in "\\PC{0,80}", kind in proptest::option::of("\\PC{0,40}")) {
            let _ = classify(kind.as_deref(), &name);
        }
    }

    #[test]
    fn classifies_by_type_then_extension() {
        assert_eq!(classify(Some("image/png"), "a"), Kind::Image);
        assert_eq!(classify(Some("text/plain; charset=utf-8"), "a"), Kind::Text);
        assert_eq!(classify(None, "notes.MD"), Kind::Text);
        assert_eq!(classify(None, "photo.jpeg"), Kind::Image);
        assert_eq!(classify(Some("application/zip"), "x.zip"), Kind::Other);
        assert_eq!(classify(None, "noext"), Kind::Other);
    }
}
