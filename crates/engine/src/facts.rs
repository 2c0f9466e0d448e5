//! Facts the bot remembers about a person, with their consent: what front ends (`/memory show |
//! add | forget | clear`), the operator and the built-in tools (`builtin.rs`) call, and the block
//! that puts a person's facts into their system prompt.
//!
//! A fact lives in one scope: the guild it was said in, or the person's DMs (`guild: None`; the
//! terminal front end counts as DMs). It reaches the system prompt only in that scope, so a fact
//! said in a DM never appears in a guild unless the person adds it there too.

use mcpcord_memory::{Fact, FactId, GuildId, MessageId, UserId};

use crate::context::TokenEstimator;
use crate::{Engine, EngineError};

/// The longest fact, in characters: a fact is a sentence, not a document.
pub const MAX_FACT_CHARS: usize = 300;
/// The most facts one person keeps in one scope.
pub const MAX_FACTS: usize = 50;
/// The most tokens the facts take in a system prompt (less on a small context).
pub const FACTS_TOKENS: usize = 300;
/// The first line of the facts block in the system prompt.
pub const FACTS_HEADER: &str =
    "[Facts this person asked you to remember about them; use them when they help]";
/// The last line of the facts block.
pub const FACTS_FOOTER: &str = "[End of facts]";

impl Engine {
    /// `user`'s facts in `guild`'s scope (`None`: their DMs), oldest first.
    pub async fn facts(
        &self,
        user: UserId,
        guild: Option<GuildId>,
    ) -> Result<Vec<Fact>, EngineError> {
        Ok(self.store().facts(user, guild).await?)
    }

    /// Every fact about `user` in every scope, oldest first (the operator's view).
    pub async fn all_facts(&self, user: UserId) -> Result<Vec<Fact>, EngineError> {
        Ok(self.store().all_facts(user).await?)
    }

    /// Remembers `text` about `user` in `guild`'s scope, said in `message` if given. Refuses an
    /// empty or overlong fact, a new one past [`MAX_FACTS`], and any while `memory.facts` is
    /// off, saying what to do instead.
    pub async fn remember(
        &self,
        user: UserId,
        guild: Option<GuildId>,
        text: &str,
        message: Option<MessageId>,
    ) -> Result<Fact, EngineError> {
        if !self.inner.config.load().memory.facts {
            return Err(invalid(
                "this bot does not remember facts (the operator can switch `memory.facts` on)",
            ));
        }
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Err(invalid("the fact is empty: say what to remember"));
        }
        if text.chars().count() > MAX_FACT_CHARS {
            return Err(invalid(format!(
                "the fact is longer than {MAX_FACT_CHARS} characters: say it shorter"
            )));
        }
        let store = self.store();
        let known = store.facts(user, guild).await?;
        if let Some(same) = known.iter().find(|f| f.text == text) {
            return Ok(same.clone());
        }
        if known.len() >= MAX_FACTS {
            return Err(invalid(format!(
                "{MAX_FACTS} facts are remembered here already: forget one first \
                 (`/memory forget`)"
            )));
        }
        Ok(store.add_fact(user, guild, &text, message).await?)
    }

    /// Forgets `user`'s facts in `guild`'s scope that `which` names: `#12` or `12` (an id), or
    /// words of the fact (the fact equal to them, else the one fact containing them). Returns
    /// what was forgotten; nothing matching, or several facts containing the words, is an error
    /// that lists what can be named.
    pub async fn forget_facts(
        &self,
        user: UserId,
        guild: Option<GuildId>,
        which: &str,
    ) -> Result<Vec<Fact>, EngineError> {
        let known = self.store().facts(user, guild).await?;
        let chosen = choose(&known, which)?;
        let mut forgotten = Vec::new();
        for id in chosen {
            if let Some(fact) = self.store().forget_fact(user, guild, id).await? {
                forgotten.push(fact);
            }
        }
        Ok(forgotten)
    }

    /// Forgets every fact of `user` in `guild`'s scope; returns them.
    pub async fn clear_facts(
        &self,
        user: UserId,
        guild: Option<GuildId>,
    ) -> Result<Vec<Fact>, EngineError> {
        Ok(self.store().clear_facts(user, guild).await?)
    }
}

/// The ids of the facts among `known` that `which` names (see [`Engine::forget_facts`]).
fn choose(known: &[Fact], which: &str) -> Result<Vec<FactId>, EngineError> {
    let which = which.trim();
    if let Some(id) = parse_id(which) {
        return match known.iter().find(|f| f.id == id) {
            Some(fact) => Ok(vec![fact.id]),
            None => Err(no_such(which, known)),
        };
    }
    let wanted = which.to_lowercase();
    if wanted.is_empty() {
        return Err(invalid("say which fact to forget (its words or its #id)"));
    }
    if let Some(fact) = known.iter().find(|f| f.text.to_lowercase() == wanted) {
        return Ok(vec![fact.id]);
    }
    let containing: Vec<&Fact> = known
        .iter()
        .filter(|f| f.text.to_lowercase().contains(&wanted))
        .collect();
    match containing.as_slice() {
        [] => Err(no_such(which, known)),
        [one] => Ok(vec![one.id]),
        several => Err(invalid(format!(
            "several facts contain \"{which}\": {}; name one by its #id",
            listing(several.iter().copied())
        ))),
    }
}

/// `12`, `#12`, or `#12 words…` (an autocomplete choice) as an id; `2 cats` is words.
fn parse_id(which: &str) -> Option<FactId> {
    let digits = match which.strip_prefix('#') {
        Some(choice) => choice.split_whitespace().next()?,
        None => which,
    };
    digits.parse().ok().map(FactId)
}

/// The error for a fact that is not there, with what is.
fn no_such(which: &str, known: &[Fact]) -> EngineError {
    if known.is_empty() {
        return invalid("nothing is remembered about you here");
    }
    invalid(format!(
        "no fact remembered here matches \"{which}\"; these are: {}",
        listing(known.iter())
    ))
}

/// Facts as `#id "text"`, comma-separated.
fn listing<'a>(facts: impl Iterator<Item = &'a Fact>) -> String {
    facts
        .map(|f| format!("#{} \"{}\"", f.id, f.text))
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(detail: impl Into<String>) -> EngineError {
    EngineError::Invalid {
        detail: detail.into(),
    }
}

/// The system prompt's block of `facts` (oldest first), within `budget` tokens: the newest
/// that fit, in their order; `None` when there are none or none fits.
pub(crate) fn block(
    facts: &[Fact],
    estimator: &TokenEstimator,
    model: &str,
    budget: usize,
) -> Option<String> {
    let frame = estimator.tokens(model, FACTS_HEADER) + estimator.tokens(model, FACTS_FOOTER);
    let mut used = frame;
    let mut lines = Vec::new();
    for fact in facts.iter().rev() {
        let line = format!("- {}", fact.text);
        let cost = estimator.tokens(model, &line) + 1;
        if used + cost > budget {
            break;
        }
        used += cost;
        lines.push(line);
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(format!(
        "{FACTS_HEADER}\n{}\n{FACTS_FOOTER}",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(id: i64, text: &str) -> Fact {
        Fact {
            id: FactId(id),
            user: UserId::new(1),
            guild: None,
            text: text.to_owned(),
            message: None,
            created_at: std::time::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_fact_is_named_by_id_by_its_words_or_by_a_part_of_them() {
        let known = [fact(3, "likes green tea"), fact(7, "likes black coffee")];
        assert_eq!(choose(&known, "#7").unwrap(), [FactId(7)]);
        assert_eq!(choose(&known, "7").unwrap(), [FactId(7)]);
        assert_eq!(choose(&known, "#3 likes green tea").unwrap(), [FactId(3)]);
        assert_eq!(choose(&known, "Likes Green Tea").unwrap(), [FactId(3)]);
        assert_eq!(choose(&known, "coffee").unwrap(), [FactId(7)]);
        let cats = [fact(2, "has 2 cats")];
        assert_eq!(choose(&cats, "2 cats").unwrap(), [FactId(2)]);
        let several = choose(&known, "likes").unwrap_err().to_string();
        assert!(
            several.contains("#3") && several.contains("#7"),
            "{several}"
        );
        let none = choose(&known, "#9").unwrap_err().to_string();
        assert!(none.contains("these are: #3"), "{none}");
        let nothing = choose(&[], "tea").unwrap_err().to_string();
        assert!(nothing.contains("nothing is remembered"), "{nothing}");
    }

    #[test]
    fn the_block_keeps_the_newest_facts_that_fit() {
        let estimator = TokenEstimator::default();
        let facts = [fact(1, "an old fact about gardening"), fact(2, "likes tea")];
        let text = block(&facts, &estimator, "m", 1_000).unwrap();
        assert!(text.starts_with(FACTS_HEADER) && text.ends_with(FACTS_FOOTER));
        assert!(
            text.contains("- an old fact about gardening\n- likes tea"),
            "{text}"
        );
        let frame = estimator.tokens("m", FACTS_HEADER) + estimator.tokens("m", FACTS_FOOTER);
        let small = block(&facts, &estimator, "m", frame + 5).unwrap();
        assert!(
            small.contains("likes tea") && !small.contains("gardening"),
            "{small}"
        );
        assert_eq!(block(&facts, &estimator, "m", frame), None);
        assert_eq!(block(&[], &estimator, "m", 1_000), None);
    }
}
