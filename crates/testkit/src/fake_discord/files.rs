//! Files uploaded with a message (multipart `files[n]` parts), checked as strictly as Discord
//! does: every attachment the payload names for a new upload has its `files[n]` part, every
//! file part has a file name, no part is sent twice, and a file is sent only in a multipart
//! body beside `payload_json`.

use super::errors::FormErrors;
pub use super::multipart::Part;

use super::multipart;
use serde_json::Value;

/// Attachment ids below this are upload indexes (`files[n]`); larger ones are snowflakes of
/// attachments the message already has (kept on edit).
const UPLOAD_INDEX_LIMIT: u64 = 1 << 22;

/// The file parts of a request body, if it is multipart.
pub fn file_parts(content_type: Option<&str>, body: &[u8]) -> Vec<Part> {
    let Some(boundary) = content_type.and_then(multipart::boundary) else {
        return Vec::new();
    };
    multipart::parse(body, &boundary)
        .into_iter()
        .filter(|p| p.name != "payload_json")
        .collect()
}

/// Checks the uploads of a message-shaped `payload` (for an interaction callback, its `data`)
/// against the file `parts` sent beside it; `editing` allows ids of attachments kept.
pub(crate) fn check(payload: &Value, parts: &[Part], editing: bool, errors: &mut FormErrors) {
    let mut seen = Vec::new();
    for part in parts {
        let path = [part.name.clone()];
        let index = part
            .name
            .strip_prefix("files[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse::<u64>().ok());
        match index {
            None => errors.add(&path, "UNKNOWN_FIELD", "expected files[n] or payload_json"),
            Some(n) if seen.contains(&n) => {
                errors.add(&path, "DUPLICATE_FILE", "this file part is sent twice")
            }
            Some(n) => seen.push(n),
        }
        if part.filename.as_deref().is_none_or(str::is_empty) {
            errors.add(&path, "BASE_TYPE_REQUIRED", "a file part needs a filename");
        }
    }
    let Some(attachments) = payload.get("attachments").and_then(Value::as_array) else {
        return;
    };
    for (i, attachment) in attachments.iter().enumerate() {
        let path = ["attachments".to_owned(), i.to_string(), "id".to_owned()];
        let id = attachment["id"]
            .as_u64()
            .or_else(|| attachment["id"].as_str().and_then(|s| s.parse().ok()));
        match id {
            Some(id) if id < UPLOAD_INDEX_LIMIT && !seen.contains(&id) => errors.add(
                &path,
                "ATTACHMENT_NOT_FOUND",
                "no files[n] part for this attachment",
            ),
            Some(id) if id >= UPLOAD_INDEX_LIMIT && !editing => errors.add(
                &path,
                "ATTACHMENT_NOT_FOUND",
                "a new message can only attach files it uploads",
            ),
            None => errors.add(&path, "BASE_TYPE_REQUIRED", "an attachment needs an id"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn part(name: &str, filename: Option<&str>) -> Part {
        Part {
            name: name.into(),
            filename: filename.map(Into::into),
            data: b"{}".to_vec(),
        }
    }

    #[test]
    fn every_upload_needs_its_part_and_a_name() {
        let payload = json!({"attachments": [{"id": 0, "filename": "a.json"}]});
        let mut errors = FormErrors::new();
        check(
            &payload,
            &[part("files[0]", Some("a.json"))],
            false,
            &mut errors,
        );
        assert!(errors.is_empty());

        let mut errors = FormErrors::new();
        check(&payload, &[], false, &mut errors);
        assert!(!errors.is_empty(), "an attachment without its file");

        let mut errors = FormErrors::new();
        check(&json!({}), &[part("files[0]", None)], false, &mut errors);
        assert!(!errors.is_empty(), "a file without a name");

        let kept = json!({"attachments": [{"id": "1300000000000000001"}]});
        let mut errors = FormErrors::new();
        check(&kept, &[], true, &mut errors);
        assert!(errors.is_empty(), "an edit keeps an attachment");
        let mut errors = FormErrors::new();
        check(&kept, &[], false, &mut errors);
        assert!(!errors.is_empty(), "a new message cannot keep one");
    }
}
