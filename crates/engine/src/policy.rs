//! The content policy: rules on what people may say to the model (input) and what the model may
//! answer (output), per guild with a default, each rule a list of words and regular expressions
//! with an action: block, redact or warn.
//!
//! Compiled once per configuration ([`ContentPolicy::compile`], at load and at every reload):
//! each place's input and output rules become one [`RegexSet`] (one pass tells which patterns
//! match) plus one [`Regex`] per pattern (to redact the matches). Screening a text does no I/O.
//! What a person is told names the rule, never the text it matched (a slur, a leaked key).
//!
//! A place may also name a moderation model ([`Moderation`], see `moderation.rs`) that judges
//! texts through the backend pool after the word rules.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use mcpcord_memory::GuildId;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// What replaces a redacted match, in what is shown, stored and sent to the model.
pub const REDACTED: &str = "[redacted]";

/// Upper bound on the compiled size of one pattern (and of a set), so that a configuration cannot
/// make the bot build an enormous automaton.
const SIZE_LIMIT: usize = 1 << 20;

/// What a rule does to a text it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyAction {
    /// Input: the message is refused (neither stored nor sent to the model). Output: the
    /// answer is withheld and replaced by a notice.
    Block,
    /// The matches are replaced by [`REDACTED`].
    Redact,
    /// The text goes through unchanged; the person is told.
    Warn,
}

impl PolicyAction {
    /// The action as written in the configuration and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Redact => "redact",
            Self::Warn => "warn",
        }
    }
}

/// Which way a text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a person to the model.
    Input,
    /// From the model to people.
    Output,
}

impl Direction {
    /// `input` or `output`, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
        }
    }
}

/// One rule as configured: a name people may be shown, an action, words and patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// The rule's name: the category a refused person is told (never the matched text).
    pub name: String,
    /// What a match does.
    pub action: PolicyAction,
    /// Words or phrases matched whole and case-insensitively.
    pub words: Vec<String>,
    /// Regular expressions (`regex` crate syntax), matched as written (`(?i)` for any case).
    pub regexes: Vec<String>,
}

/// The rules of one place (the default, or one guild).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRules {
    /// Checked on what people send, before it is stored or sent to the model.
    pub input: Vec<PolicyRule>,
    /// Checked on the model's answer as it streams, and on what is stored.
    pub output: Vec<PolicyRule>,
    /// A moderation model judging what people send (and answers, if it says so); none by
    /// default.
    pub moderation: Option<Moderation>,
}

/// A pattern that does not compile, or a word that cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// `None` for the default rules, else the guild whose rules these are.
    pub guild: Option<GuildId>,
    /// Input or output rules.
    pub direction: Direction,
    /// The rule's position in its list.
    pub index: usize,
    /// The rule's name.
    pub rule: String,
    /// What is wrong, and what to do.
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rule {} ({:?}): {}",
            self.direction.as_str(),
            self.index,
            self.rule,
            self.problem
        )
    }
}

impl std::error::Error for PolicyError {}

/// A rule that matched a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule's name.
    pub rule: String,
    /// Its action.
    pub action: PolicyAction,
}

/// What screening a text found: the text as it may go on, and the rules that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    /// The text with every redact rule's matches replaced (unchanged when nothing matched).
    pub text: String,
    /// Each rule that matched, once, in the order of the rules.
    pub hits: Vec<Hit>,
}

impl Screened {
    /// The first block rule that matched, if any.
    pub fn blocked(&self) -> Option<&Hit> {
        self.hits.iter().find(|h| h.action == PolicyAction::Block)
    }
}

/// The compiled rules of one direction of one place.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Every pattern at once; none without rules (an empty set still costs a compile, and
    /// every turn starts with the empty rules until it knows its place).
    set: Option<RegexSet>,
    /// Each pattern alone, with the index of its rule in `rules`.
    patterns: Vec<(usize, Regex)>,
    /// Name and action of each rule.
    rules: Vec<(String, PolicyAction)>,
}

impl RuleSet {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Screens `text`: which rules match, and the text with redact rules' matches replaced.
    pub fn screen(&self, text: &str) -> Screened {
        let mut screened = Screened {
            text: text.to_owned(),
            hits: Vec::new(),
        };
        let Some(set) = &self.set else {
            return screened;
        };
        let matched: Vec<usize> = set.matches(text).into_iter().collect();
        let mut rules: Vec<usize> = matched.iter().map(|&p| self.patterns[p].0).collect();
        rules.sort_unstable();
        rules.dedup();
        screened.hits = rules
            .iter()
            .map(|&r| Hit {
                rule: self.rules[r].0.clone(),
                action: self.rules[r].1,
            })
            .collect();
        for &p in &matched {
            let (rule, regex) = &self.patterns[p];
            if self.rules[*rule].1 == PolicyAction::Redact {
                screened.text = regex.replace_all(&screened.text, REDACTED).into_owned();
            }
        }
        screened
    }

    /// Compiles `rules`; every problem is reported, with the rule it is in.
    fn compile(rules: &[PolicyRule], at: Problems) -> Result<Self, Vec<PolicyError>> {
        let mut errors = Vec::new();
        let sources = sources(rules, at, &mut errors);
        let mut patterns = Vec::new();
        for (index, source) in sources {
            match pattern(&source) {
                Ok(regex) => patterns.push((index, regex)),
                Err(problem) => errors.push(at.error(index, &rules[index].name, problem)),
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.index); // in the order of the rules
            return Err(errors);
        }
        let set = if patterns.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(patterns.iter().map(|(_, r)| r.as_str()))
                .size_limit(SIZE_LIMIT * patterns.len())
                .build()
                .map_err(|error| {
                    vec![at.error(0, "(all)", format!("together too large: {error}"))]
                })?;
            Some(set)
        };
        Ok(Self {
            set,
            patterns,
            rules: rules.iter().map(|r| (r.name.clone(), r.action)).collect(),
        })
    }
}

/// The pattern source of every word and regex of `rules`, with the index of its rule; a rule
/// with nothing to match and an empty word are reported in `errors`.
fn sources(
    rules: &[PolicyRule],
    at: Problems,
    errors: &mut Vec<PolicyError>,
) -> Vec<(usize, String)> {
    let mut sources = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let blame = |problem: String| at.error(index, &rule.name, problem);
        if rule.words.is_empty() && rule.regexes.is_empty() {
            errors.push(blame("has neither words nor regexes: give it some".into()));
        }
        for word in &rule.words {
            match word_pattern(word) {
                Some(source) => sources.push((index, source)),
                None => errors.push(blame(format!("word {word:?} is empty: remove it"))),
            }
        }
        sources.extend(rule.regexes.iter().map(|r| (index, r.clone())));
    }
    sources
}

/// Where the rules being compiled are, to name them in errors.
#[derive(Clone, Copy)]
struct Problems {
    guild: Option<GuildId>,
    direction: Direction,
}

impl Problems {
    fn error(self, index: usize, rule: &str, problem: String) -> PolicyError {
        PolicyError {
            guild: self.guild,
            direction: self.direction,
            index,
            rule: rule.to_owned(),
            problem,
        }
    }
}

/// The pattern of a word or phrase: escaped, case-insensitive, whole (a word boundary on each
/// side that starts or ends with a word character); `None` for an empty one.
fn word_pattern(word: &str) -> Option<String> {
    let word = word.trim();
    let first = word.chars().next()?;
    let last = word.chars().last()?;
    let edge = |c: char| {
        if c.is_alphanumeric() || c == '_' {
            r"\b"
        } else {
            ""
        }
    };
    Some(format!(
        "(?i){}{}{}",
        edge(first),
        regex::escape(word),
        edge(last)
    ))
}

/// Compiles one pattern; the problem in words when it does not compile or matches empty text
/// (it would match everywhere).
fn pattern(source: &str) -> Result<Regex, String> {
    let regex = RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|error| format!("regex {source:?} does not compile: {error}"))?;
    if regex.is_match("") {
        return Err(format!(
            "regex {source:?} matches empty text, so it would match everywhere: make it match at least one character"
        ));
    }
    Ok(regex)
}

/// The compiled rules of one place.
#[derive(Debug, Clone, Default)]
pub struct PlacePolicy {
    /// Rules on what people send.
    pub input: RuleSet,
    /// Rules on what the model answers.
    pub output: RuleSet,
    /// The moderation model, if the place has one.
    pub moderation: Option<Moderation>,
}

impl PlacePolicy {
    fn compile(rules: &PolicyRules, guild: Option<GuildId>) -> Result<Self, Vec<PolicyError>> {
        let at = |direction| Problems { guild, direction };
        let input = RuleSet::compile(&rules.input, at(Direction::Input));
        let output = RuleSet::compile(&rules.output, at(Direction::Output));
        match (input, output) {
            (Ok(input), Ok(output)) => Ok(Self {
                input,
                output,
                moderation: rules.moderation.clone(),
            }),
            (input, output) => Err([input.err(), output.err()]
                .into_iter()
                .flatten()
                .flatten()
                .collect()),
        }
    }

    /// The moderation model judging texts going `direction`, if any.
    pub fn moderation(&self, direction: Direction) -> Option<&Moderation> {
        self.moderation
            .as_ref()
            .filter(|m| direction == Direction::Input || m.output)
    }

    /// The rules of `direction`.
    pub fn rules(&self, direction: Direction) -> &RuleSet {
        match direction {
            Direction::Input => &self.input,
            Direction::Output => &self.output,
        }
    }
}

/// The whole content policy: the default rules, and the rules of guilds that have their own.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ContentPolicy {
    default: Arc<PlacePolicy>,
    guilds: Arc<HashMap<GuildId, Arc<PlacePolicy>>>,
}

impl ContentPolicy {
    /// Compiles the default rules and each guild's (a guild listed here uses its own rules
    /// only); every problem is reported at once.
    pub fn compile(
        default: &PolicyRules,
        guilds: &BTreeMap<GuildId, PolicyRules>,
    ) -> Result<Self, Vec<PolicyError>> {
        let mut errors = Vec::new();
        let default = PlacePolicy::compile(default, None)
            .map_err(|e| errors.extend(e))
            .unwrap_or_default();
        let mut compiled = HashMap::new();
        for (guild, rules) in guilds {
            match PlacePolicy::compile(rules, Some(*guild)) {
                Ok(policy) => {
                    compiled.insert(*guild, Arc::new(policy));
                }
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            default: Arc::new(default),
            guilds: Arc::new(compiled),
        })
    }

    /// The rules in force in `guild` (`None`: outside any guild, where the default applies).
    pub fn place(&self, guild: Option<GuildId>) -> Arc<PlacePolicy> {
        guild
            .and_then(|g| self.guilds.get(&g))
            .unwrap_or(&self.default)
            .clone()
    }
}

pub(crate) mod audit;
pub(crate) mod moderation;

pub use moderation::{MODERATION_UNAVAILABLE, Moderation, Verdict, parse_verdict};

#[cfg(test)]
mod tests;
