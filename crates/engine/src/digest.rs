//! What the background pass asks the summary model, and how its answer is read: one request
//! for a small JSON object (summary, title, category, entities), read tolerantly. A small model
//! that answers with prose, fences or a broken object still yields something: its text as the
//! summary (or its first line as the title), and a title from the first message otherwise.

use mcpcord_llm::Message;
use mcpcord_memory::{Entity, EntityKind, Role, SummarySource};
use serde_json::Value;

/// Longest title kept, in characters.
pub(crate) const TITLE_CHARS: usize = 60;
/// Longest summary kept, in characters.
pub(crate) const SUMMARY_CHARS: usize = 4_000;
/// Most entities kept from one pass.
const MAX_ENTITIES: usize = 20;
/// Longest entity name kept, in characters.
const ENTITY_CHARS: usize = 80;

/// The opening and closing lines of the summary block in a system prompt.
pub const SUMMARY_HEADER: &str = "[Summary of the earlier part of this conversation]";
/// See [`SUMMARY_HEADER`].
pub const SUMMARY_FOOTER: &str = "[End of summary; the most recent messages follow]";

/// What one background pass found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Digest {
    /// The summary (asked for only when the history no longer fits).
    pub(crate) summary: Option<String>,
    /// A short title.
    pub(crate) title: Option<String>,
    /// One of the configured categories.
    pub(crate) category: Option<String>,
    /// People, projects, places and products named.
    pub(crate) entities: Vec<Entity>,
}

/// The messages asking for a digest of `sources` (after `previous`, the summary so far).
pub(crate) fn prompt(
    previous: Option<&str>,
    sources: &[SummarySource],
    summarise: bool,
    categories: &[String],
) -> Vec<Message> {
    let summary_field = if summarise {
        ", \"summary\": \"the conversation so far in a few sentences: who wants what, \
         decisions, facts to remember\""
    } else {
        ""
    };
    let system = format!(
        "You file conversations. Answer with one JSON object and nothing else: \
         {{\"title\": \"at most six words\", \"category\": \"one of: {}\", \
         \"entities\": [{{\"kind\": \"people|project|place|product\", \"name\": \"...\"}}]{summary_field}}}",
        categories.join(", ")
    );
    let mut text = String::new();
    if let Some(previous) = previous {
        text.push_str("Summary so far:\n");
        text.push_str(previous);
        text.push_str("\n\nLater messages:\n");
    } else {
        text.push_str("Messages:\n");
    }
    for source in sources {
        text.push_str(&source_line(source));
        text.push('\n');
    }
    vec![Message::system(system), Message::user(text)]
}

/// One message as the summary model reads it.
pub(crate) fn source_line(source: &SummarySource) -> String {
    let who = match source.role {
        Role::User => source.author.as_deref().unwrap_or("user"),
        _ => "assistant",
    };
    format!("{who}: {}", source.content)
}

/// Reads the model's answer; `first_question` gives the fallback title.
pub(crate) fn parse(
    answer: &str,
    summarise: bool,
    categories: &[String],
    first_question: Option<&str>,
) -> Digest {
    let mut digest = match object(answer) {
        Some(object) => from_object(&object, summarise, categories),
        None => fallback(answer, summarise),
    };
    if digest.title.is_none() {
        digest.title = first_question.and_then(title_of);
    }
    digest
}

/// The JSON object in `answer` (fences and prose around it ignored), if there is one.
fn object(answer: &str) -> Option<serde_json::Map<String, Value>> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    match serde_json::from_str(answer.get(start..=end)?) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

fn from_object(
    object: &serde_json::Map<String, Value>,
    summarise: bool,
    categories: &[String],
) -> Digest {
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::trim);
    Digest {
        summary: text("summary")
            .filter(|_| summarise)
            .filter(|s| !s.is_empty())
            .map(|s| clip(s, SUMMARY_CHARS)),
        title: text("title").and_then(title_of),
        category: text("category").and_then(|c| category_of(c, categories)),
        entities: object.get("entities").map(entities_of).unwrap_or_default(),
    }
}

/// No JSON: the text is the summary, or its first line the title.
fn fallback(answer: &str, summarise: bool) -> Digest {
    let answer = answer.trim();
    if summarise {
        Digest {
            summary: (!answer.is_empty()).then(|| clip(answer, SUMMARY_CHARS)),
            ..Digest::default()
        }
    } else {
        Digest {
            title: answer.lines().next().and_then(title_of),
            ..Digest::default()
        }
    }
}

/// A title from `text`: one line, no quotes or markup, at most [`TITLE_CHARS`] characters,
/// cut at a word.
pub(crate) fn title_of(text: &str) -> Option<String> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let cleaned = line
        .trim()
        .trim_start_matches(['#', '*', '-'])
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '*' || c == '`' || c.is_whitespace());
    if cleaned.is_empty() {
        return None;
    }
    if cleaned.chars().count() <= TITLE_CHARS {
        return Some(cleaned.to_owned());
    }
    let cut = clip(cleaned, TITLE_CHARS);
    let at_word = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    Some(format!("{}…", at_word.trim_end()))
}

/// The configured category `answer` names (case and spacing aside), if any.
fn category_of(answer: &str, categories: &[String]) -> Option<String> {
    let wanted = answer.trim().to_lowercase();
    categories
        .iter()
        .find(|c| c.to_lowercase() == wanted)
        .cloned()
}

/// Entities as a list of `{kind, name}` or as `{kind: [names]}`; unknown kinds dropped.
fn entities_of(value: &Value) -> Vec<Entity> {
    let mut found: Vec<Entity> = match value {
        Value::Array(items) => items.iter().filter_map(listed_entity).collect(),
        Value::Object(by_kind) => by_kind
            .iter()
            .flat_map(|(kind, names)| {
                let names = names.as_array().map(Vec::as_slice).unwrap_or_default();
                names.iter().filter_map(move |name| entity(kind, name))
            })
            .collect(),
        _ => Vec::new(),
    };
    found.truncate(MAX_ENTITIES);
    found
}

/// An entity written as `{"kind": …, "name": …}` (or `type` for `kind`).
fn listed_entity(item: &Value) -> Option<Entity> {
    let kind = item.get("kind").or_else(|| item.get("type"))?.as_str()?;
    entity(kind, item.get("name")?)
}

/// An entity of a known kind with a name that is not blank.
fn entity(kind: &str, name: &Value) -> Option<Entity> {
    let kind = EntityKind::parse(kind)?;
    let name = name.as_str()?.trim();
    (!name.is_empty()).then(|| Entity {
        kind,
        name: clip(name, ENTITY_CHARS),
    })
}

/// The summary block added to a system prompt.
pub(crate) fn block(summary: &str) -> String {
    format!("{SUMMARY_HEADER}\n{summary}\n{SUMMARY_FOOTER}")
}

/// The start of `text`, at most `chars` characters.
fn clip(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories() -> Vec<String> {
        vec!["programming".into(), "hobbies".into(), "other".into()]
    }

    #[test]
    fn a_clean_object_is_read_whole() {
        let answer = r#"```json
{"title": "Fixing the Rust build", "category": "Programming",
 "entities": [{"kind": "project", "name": "mcpcord"}, {"kind": "person", "name": "Alice"},
              {"kind": "mood", "name": "happy"}],
 "summary": "Alice fixes a build."}
```"#;
        let digest = parse(answer, true, &categories(), None);
        assert_eq!(digest.title.as_deref(), Some("Fixing the Rust build"));
        assert_eq!(digest.category.as_deref(), Some("programming"));
        assert_eq!(digest.summary.as_deref(), Some("Alice fixes a build."));
        assert_eq!(
            digest.entities,
            [
                Entity {
                    kind: EntityKind::Project,
                    name: "mcpcord".into()
                },
                Entity {
                    kind: EntityKind::People,
                    name: "Alice".into()
                },
            ]
        );
    }

    #[test]
    fn entities_grouped_by_kind_are_read_too() {
        let answer = r#"{"title": "Trip", "entities": {"places": ["Oslo"], "people": ["Bob"]}}"#;
        let digest = parse(answer, false, &categories(), None);
        assert_eq!(digest.entities.len(), 2);
        assert_eq!(digest.category, None, "no category given");
        assert_eq!(digest.summary, None, "not asked for");
    }

    #[test]
    fn prose_becomes_the_summary_and_the_title_comes_from_the_question() {
        let digest = parse(
            "They talked about cars at length.",
            true,
            &categories(),
            Some("Which car should I buy for winter roads in Norway next year?"),
        );
        assert_eq!(
            digest.summary.as_deref(),
            Some("They talked about cars at length.")
        );
        let title = digest.title.unwrap();
        assert!(title.chars().count() <= TITLE_CHARS + 1, "{title}");
        assert!(title.starts_with("Which car should I buy"), "{title}");
    }

    #[test]
    fn prose_for_a_title_gives_its_first_line() {
        let digest = parse("\"Cars in winter\"\nmore text", false, &categories(), None);
        assert_eq!(digest.title.as_deref(), Some("Cars in winter"));
        assert_eq!(parse("  \n ", false, &categories(), None).title, None);
    }

    #[test]
    fn an_unknown_category_is_dropped() {
        let digest = parse(r#"{"category": "cooking"}"#, false, &categories(), None);
        assert_eq!(digest.category, None);
    }
}
