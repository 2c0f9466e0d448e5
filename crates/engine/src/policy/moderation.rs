//! A moderation model beside the word rules: a classifier such as Llama Guard, served by the
//! same backends as the chat models and asked through the engine's backend pool, judging what
//! people send (and, when configured, what the model answers and its reasoning).
//!
//! Llama Guard answers `safe`, or `unsafe` and on the next line the categories it found
//! (`S1,S10`). An `unsafe` verdict acts like a rule named after the categories, with the
//! configured action (block or warn; a verdict has no span to redact). A model that does not
//! answer in time, answers something else, or cannot be reached is a failure: by default the
//! text goes through (logged as a warning and audited); `fail_closed` refuses it.
//!
//! A front end's [`crate::Engine::check_input`] and the turn it then starts ask about the same
//! message: verdicts are remembered for a minute (by model and text digest), so the model is
//! asked once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpcord_llm::{ChatRequest, Message};
use mcpcord_memory::{AuditEntry, ChannelId, GuildId, UserId};

use super::audit::{POLICY_ACTIONS_TOTAL, POLICY_LOG_TARGET, Subject};
use super::{Direction, Hit, PolicyAction};
use crate::engine::Inner;

/// The rule name a refusal gets when the moderation model could not judge and the place fails
/// closed.
pub const MODERATION_UNAVAILABLE: &str = "moderation model unavailable";

/// How long a verdict is remembered.
const MEMO_TTL: Duration = Duration::from_secs(60);

/// How many verdicts are remembered at most.
const MEMO_SIZE: usize = 256;

/// The longest answer asked of the moderation model (a verdict is a few tokens).
const VERDICT_TOKENS: u32 = 32;

/// A moderation model's settings for one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderation {
    /// The model's name on the backends, e.g. `llama-guard3:1b`.
    pub model: String,
    /// What an `unsafe` verdict does: [`PolicyAction::Block`] or [`PolicyAction::Warn`]
    /// ([`PolicyAction::Redact`] has no span to act on: it blocks; configuration refuses it).
    pub action: PolicyAction,
    /// Whether the model's answers and reasoning are judged too (what people send always is).
    pub output: bool,
    /// The longest wait for a verdict.
    pub timeout: Duration,
    /// Whether a text is refused when no verdict comes (default: it goes through).
    pub fail_closed: bool,
}

impl Moderation {
    /// `model` judging what people send, blocking, 10 s, failing open.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            action: PolicyAction::Block,
            output: false,
            timeout: Duration::from_secs(10),
            fail_closed: false,
        }
    }

    /// The action an `unsafe` verdict takes.
    fn verdict_action(&self) -> PolicyAction {
        match self.action {
            PolicyAction::Warn => PolicyAction::Warn,
            PolicyAction::Block | PolicyAction::Redact => PolicyAction::Block,
        }
    }
}

/// What a moderation model said of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing wrong.
    Safe,
    /// Something wrong, in these categories (Llama Guard's `S1`, `S10`…; may be empty).
    Unsafe(Vec<String>),
}

/// Reads a Llama Guard answer: `safe`, or `unsafe` with the categories on the next line;
/// `None` for anything else.
pub fn parse_verdict(answer: &str) -> Option<Verdict> {
    let mut lines = answer.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?.to_ascii_lowercase();
    match first.as_str() {
        "safe" => Some(Verdict::Safe),
        "unsafe" => Some(Verdict::Unsafe(
            lines
                .next()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        _ => None,
    }
}

/// The rule a verdict acts as: none when safe, else named after its categories.
fn verdict_hit(moderation: &Moderation, verdict: &Verdict) -> Option<Hit> {
    let Verdict::Unsafe(categories) = verdict else {
        return None;
    };
    let rule = if categories.is_empty() {
        "moderation model".to_owned()
    } else {
        format!("moderation model: {}", categories.join(", "))
    };
    Some(Hit {
        rule,
        action: moderation.verdict_action(),
    })
}

/// Verdicts remembered for a short while, by model and text digest.
#[derive(Default)]
pub(crate) struct VerdictMemo {
    verdicts: Mutex<HashMap<String, (Instant, Verdict)>>,
}

impl VerdictMemo {
    fn get(&self, key: &str) -> Option<Verdict> {
        let verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        verdicts
            .get(key)
            .filter(|(at, _)| at.elapsed() < MEMO_TTL)
            .map(|(_, verdict)| verdict.clone())
    }

    fn put(&self, key: String, verdict: Verdict) {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        verdicts.retain(|_, (at, _)| at.elapsed() < MEMO_TTL);
        if verdicts.len() >= MEMO_SIZE {
            verdicts.clear();
        }
        verdicts.insert(key, (Instant::now(), verdict));
    }
}

/// What is judged: the person's message, and the model's answer when judging output.
pub(crate) struct Exchange<'a> {
    /// What the person said (empty when unknown, e.g. a regenerate).
    pub prompt: &'a str,
    /// The answer (or reasoning) to judge; `None` to judge the prompt.
    pub answer: Option<&'a str>,
}

impl Exchange<'_> {
    fn messages(&self) -> Vec<Message> {
        let mut messages = vec![Message::user(self.prompt)];
        messages.extend(self.answer.map(Message::assistant));
        messages
    }

    fn key(&self, model: &str) -> String {
        mcpcord_memory::arguments_digest(&serde_json::json!([model, self.prompt, self.answer]))
    }
}

/// Asks `moderation`'s model about `exchange` through the backend pool, within its timeout;
/// the problem in words when no verdict came.
async fn ask(
    inner: &Inner,
    moderation: &Moderation,
    exchange: &Exchange<'_>,
) -> Result<Verdict, String> {
    let key = exchange.key(&moderation.model);
    if let Some(verdict) = inner.verdicts.get(&key) {
        return Ok(verdict);
    }
    let mut request = ChatRequest::new(&moderation.model, exchange.messages());
    request.options.temperature = Some(0.0);
    request.options.max_tokens = Some(VERDICT_TOKENS);
    let answer = tokio::time::timeout(moderation.timeout, async {
        let stream = inner.pool.chat(&request).await?;
        mcpcord_llm::collect(stream).await
    })
    .await
    .map_err(|_| format!("no verdict within {:?}", moderation.timeout))?
    .map_err(|error| error.to_string())?;
    let verdict = parse_verdict(&answer.text).ok_or_else(|| {
        format!(
            "an answer that is neither safe nor unsafe: {:?}",
            answer.text
        )
    })?;
    inner.verdicts.put(key, verdict.clone());
    Ok(verdict)
}

/// Judges `exchange` going `direction` with `moderation`: the rule that acted (an `unsafe`
/// verdict; [`MODERATION_UNAVAILABLE`] blocking when no verdict came and the place fails
/// closed), or none. A failure that lets the text through is logged and audited when
/// `record_failure` (a front end's early check leaves that to the turn, which asks again).
pub(crate) async fn judge(
    inner: &Arc<Inner>,
    moderation: &Moderation,
    subject: &Subject,
    direction: Direction,
    exchange: &Exchange<'_>,
    record_failure: bool,
) -> Option<Hit> {
    match ask(inner, moderation, exchange).await {
        Ok(verdict) => verdict_hit(moderation, &verdict),
        Err(problem) if moderation.fail_closed => {
            warn(moderation, subject, direction, &problem);
            Some(Hit {
                rule: MODERATION_UNAVAILABLE.to_owned(),
                action: PolicyAction::Block,
            })
        }
        Err(problem) => {
            if record_failure {
                warn(moderation, subject, direction, &problem);
                let_through(inner, moderation, subject, direction, &problem);
            }
            None
        }
    }
}

/// Logs a moderation model that gave no verdict (the text itself never).
fn warn(moderation: &Moderation, subject: &Subject, direction: Direction, problem: &str) {
    tracing::warn!(
        target: POLICY_LOG_TARGET,
        model = %moderation.model,
        direction = direction.as_str(),
        fail_closed = moderation.fail_closed,
        problem,
        user = subject.user.map(UserId::get),
        guild = subject.scope.guild_id.map(GuildId::get),
        channel = subject.scope.channel_id.map(ChannelId::get),
        "the moderation model gave no verdict; check that it is pulled on a backend and answers within its timeout"
    );
}

/// Audits a text let through unjudged (a refusal is audited as the rule that acted).
fn let_through(
    inner: &Arc<Inner>,
    moderation: &Moderation,
    subject: &Subject,
    direction: Direction,
    problem: &str,
) {
    metrics::counter!(
        POLICY_ACTIONS_TOTAL,
        "direction" => direction.as_str(),
        "action" => "let_through",
    )
    .increment(1);
    let entry = AuditEntry::refusal(subject.user, subject.scope.guild_id, "content_policy")
        .with_detail("direction", direction.as_str())
        .with_detail("action", "let_through")
        .with_detail("rule", MODERATION_UNAVAILABLE)
        .with_detail("model", moderation.model.clone())
        .with_detail("problem", problem.to_owned())
        .with_detail("conversation", subject.key.as_str());
    crate::Engine::from_inner(inner.clone()).audit(entry);
}
