//! The content policy in a turn: the person's message screened before it is stored or sent to
//! the model; the answer screened as it streams, so that what is shown, stored and sent on never
//! holds a redacted match, even one the model spells across two deltas.
//!
//! While output rules exist, the answer is shown up to its last white space only (the word
//! being written is held back until it is whole), redacted on the whole text of the round each
//! time; when a redaction reaches into what was already shown (a pattern spanning words), the
//! round's text is sent again whole ([`TurnEvent::Rewritten`]).
//!
//! A place's moderation model judges the person's message after the word rules; when it also
//! judges output, the answer is held until its round ends and shown once judged (a verdict is
//! on a whole text). The model's reasoning, which people can open, is screened too: with output
//! rules or output moderation it is held until its round ends and sent screened, whole.

use std::collections::HashSet;
use std::sync::Arc;

use crate::engine::Inner;
use crate::error::EngineError;
use crate::events::TurnEvent;
use crate::policy::audit::{self, Subject};
use crate::policy::moderation::{self, Exchange};
use crate::policy::{Direction, Hit, MODERATION_UNAVAILABLE, PlacePolicy, PolicyAction, RuleSet};
use crate::request::{TurnAction, TurnRequest, UserMessage};

use super::TurnState;

/// The output side of the content policy, for one turn.
pub(super) struct OutputFilter {
    /// The rules of the turn's place.
    place: Arc<PlacePolicy>,
    /// Where the current round's text starts in the turn's text.
    round_start: usize,
    /// What the current round's `Text` deltas (and rewrites) showed.
    shown: String,
    /// Rules already recorded in this turn (each is audited and told once).
    seen: HashSet<String>,
    /// Notices kept until the round ends (a notice in mid-text would split it).
    notices: Vec<String>,
    /// The block rule that withheld the answer, once one has.
    pub(super) withheld: Option<String>,
    /// Whose turn it is, for the audit.
    subject: Option<Subject>,
    /// The person's message as the model got it, for the moderation model judging answers.
    prompt: String,
    /// The current round's reasoning as the model wrote it, held while output is screened.
    thinking: String,
}

impl OutputFilter {
    /// A filter with no rules (until the turn knows its place).
    pub(super) fn none() -> Self {
        Self::new(Arc::default(), None)
    }

    fn new(place: Arc<PlacePolicy>, subject: Option<Subject>) -> Self {
        Self {
            place,
            subject,
            round_start: 0,
            shown: String::new(),
            seen: HashSet::new(),
            notices: Vec::new(),
            withheld: None,
            prompt: String::new(),
            thinking: String::new(),
        }
    }

    /// Whether the answer is screened at all.
    fn active(&self) -> bool {
        !self.place.output.is_empty() || self.held()
    }

    /// Whether the answer is held until its round ends (a moderation model judges it whole).
    fn held(&self) -> bool {
        self.place.moderation(Direction::Output).is_some()
    }
}

fn is_block(hit: &Hit) -> bool {
    hit.action == PolicyAction::Block
}

/// The error refusing a message for `hit`, a block.
pub(crate) fn refused(hit: &Hit) -> EngineError {
    if hit.rule == MODERATION_UNAVAILABLE {
        EngineError::ModerationUnavailable
    } else {
        EngineError::ContentRefused {
            rule: hit.rule.clone(),
        }
    }
}

/// What the moderation model is shown of a message: its text and the files read into it.
fn input_text(message: &UserMessage) -> String {
    let mut text = message.text.clone();
    for (_, content) in &message.documents {
        text.push_str("\n\n");
        text.push_str(content);
    }
    text
}

/// The moderation model's judgement of a person's message, in `place` (none without a model).
async fn judge_input(
    inner: &Arc<Inner>,
    place: &PlacePolicy,
    subject: &Subject,
    message: &UserMessage,
    record_failure: bool,
) -> Option<Hit> {
    let moderation = place.moderation(Direction::Input)?;
    let text = input_text(message);
    if text.trim().is_empty() {
        return None;
    }
    let exchange = Exchange {
        prompt: &text,
        answer: None,
    };
    moderation::judge(
        inner,
        moderation,
        subject,
        Direction::Input,
        &exchange,
        record_failure,
    )
    .await
}

/// `text` up to and with its last white space: what may be shown while the rest may still grow
/// into a match.
fn settled(text: &str) -> &str {
    match text.rfind(char::is_whitespace) {
        Some(at) => {
            let end = at + text[at..].chars().next().map_or(1, char::len_utf8);
            &text[..end]
        }
        None => "",
    }
}

/// Screens a person's message (its text and the files read into it) with `rules`, in place;
/// the rules that matched, once each.
fn screen_message(rules: &RuleSet, message: &mut UserMessage) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    let screened = rules.screen(&message.text);
    message.text = screened.text;
    hits.extend(screened.hits);
    for (_, content) in &mut message.documents {
        let screened = rules.screen(content);
        *content = screened.text;
        hits.extend(screened.hits);
    }
    let mut seen = HashSet::new();
    hits.retain(|hit| seen.insert(hit.rule.clone()));
    hits
}

/// Checks a new message of `request` against the input rules and moderation model of `place`
/// without changing it: the block rule that refuses it, if one does.
pub(crate) async fn refusal(
    inner: &Arc<Inner>,
    place: &PlacePolicy,
    request: &TurnRequest,
) -> Option<Hit> {
    let TurnAction::Message(message) = &request.action else {
        return None;
    };
    let mut message = message.clone();
    let hits = screen_message(&place.input, &mut message);
    if let Some(hit) = hits.into_iter().find(is_block) {
        return Some(hit);
    }
    let subject = Subject::of(request);
    judge_input(inner, place, &subject, &message, false)
        .await
        .filter(is_block)
}

/// What a person is told of a rule that acted on their message.
fn input_notice(hit: &Hit) -> Option<String> {
    match hit.action {
        PolicyAction::Block => None,
        PolicyAction::Redact => Some(format!(
            "part of your message was redacted before the model saw it (content policy: {})",
            hit.rule
        )),
        PolicyAction::Warn => Some(format!(
            "your message touches on something the content policy flags ({}); it was sent anyway",
            hit.rule
        )),
    }
}

impl TurnState {
    /// Sets the turn's content policy (by its place) and screens a new message of the person's
    /// with the word rules, then the moderation model: refused by a block (nothing stored,
    /// nothing sent), redacted, or let through with a warning. Every action is recorded.
    pub(super) async fn screen_input(
        &mut self,
        request: &mut TurnRequest,
    ) -> Result<(), EngineError> {
        let place = self.config.policy.place(request.scope.guild_id);
        let subject = Subject::of(request);
        self.output = OutputFilter::new(place.clone(), Some(subject.clone()));
        let TurnAction::Message(message) = &mut request.action else {
            return Ok(());
        };
        let mut hits = screen_message(&place.input, message);
        if !hits.iter().any(is_block) {
            hits.extend(judge_input(&self.inner, &place, &subject, message, true).await);
        }
        self.output.prompt = message.text.clone();
        for hit in &hits {
            audit::record(&self.inner, &subject, Direction::Input, hit).await;
        }
        if let Some(hit) = hits.iter().find(|h| is_block(h)) {
            return Err(refused(hit));
        }
        for notice in hits.iter().filter_map(input_notice) {
            self.notice(notice).await;
        }
        Ok(())
    }

    /// A new model round begins: its text starts at the end of the turn's.
    pub(super) fn round_begins(&mut self) {
        self.output.round_start = self.text.len();
        self.output.shown.clear();
    }

    /// More of the answer: shown as it comes without rules; with rules, screened on the whole
    /// round (`raw`, as the model wrote it) and shown up to its settled part (nothing until the
    /// round ends when a moderation model judges answers). A block rule sets `withheld` (the
    /// round must stop).
    pub(super) async fn answer_grows(&mut self, raw: &str, delta: String) {
        if !self.output.active() {
            self.text.push_str(&delta);
            self.send(TurnEvent::Text(delta)).await;
            return;
        }
        let screened = self.output.place.output.screen(raw);
        self.text.truncate(self.output.round_start);
        self.text.push_str(&screened.text);
        for hit in &screened.hits {
            self.output_hit(hit).await;
        }
        if self.output.withheld.is_none() && !self.output.held() {
            let visible = settled(&screened.text).to_owned();
            self.show(visible).await;
        }
    }

    /// More of the model's reasoning: sent as it comes without output screening; with it,
    /// held until the round ends (a redaction could not reach back into reasoning already
    /// sent: there is no rewrite for it).
    pub(super) async fn reasoning_grows(&mut self, delta: String) {
        if self.output.active() {
            self.output.thinking.push_str(&delta);
            return;
        }
        self.thinking.push_str(&delta);
        self.send(TurnEvent::Thinking(delta)).await;
    }

    /// The round's reasoning, screened with the output rules and judged by the moderation
    /// model, sent whole: redacted, or replaced by a notice when a block rule matched. Each
    /// action is recorded; nobody is told in the answer (the reasoning shows it).
    async fn reasoning_ends(&mut self) {
        let raw = std::mem::take(&mut self.output.thinking);
        if raw.is_empty() {
            return;
        }
        let screened = self.output.place.output.screen(&raw);
        let mut hits = screened.hits;
        hits.extend(self.judge_output(&screened.text).await);
        if let Some(subject) = &self.output.subject {
            for hit in &hits {
                audit::record(&self.inner, subject, Direction::Output, hit).await;
            }
        }
        let text = match hits.iter().find(|h| is_block(h)) {
            Some(hit) => format!(
                "(the reasoning was withheld: it broke the content policy ({}))",
                hit.rule
            ),
            None => screened.text,
        };
        self.thinking.push_str(&text);
        self.send(TurnEvent::Thinking(text)).await;
    }

    /// The moderation model's judgement of `text`, the model's, when it judges output here.
    async fn judge_output(&self, text: &str) -> Option<Hit> {
        let moderation = self.output.place.moderation(Direction::Output)?;
        let subject = self.output.subject.as_ref()?;
        if text.trim().is_empty() {
            return None;
        }
        let exchange = Exchange {
            prompt: &self.output.prompt,
            answer: Some(text),
        };
        moderation::judge(
            &self.inner,
            moderation,
            subject,
            Direction::Output,
            &exchange,
            true,
        )
        .await
    }

    /// The round ended (answered, called tools, was stopped): the rest of its text is shown,
    /// and the notices kept for its end are given.
    pub(super) async fn round_ends(&mut self) {
        if !self.output.active() || self.output.withheld.is_some() {
            return;
        }
        self.reasoning_ends().await;
        let whole = self.text[self.output.round_start..].to_owned();
        if let Some(hit) = self.judge_output(&whole).await {
            self.output_hit(&hit).await;
        }
        if self.output.withheld.is_some() {
            return;
        }
        self.show(whole).await;
        for notice in std::mem::take(&mut self.output.notices) {
            self.notice(notice).await;
        }
    }

    /// Shows `visible` as the round's text: the part beyond what was shown as a delta, or all
    /// of it again when what was shown changed.
    async fn show(&mut self, visible: String) {
        if visible == self.output.shown {
            return;
        }
        let event = match visible.strip_prefix(self.output.shown.as_str()) {
            Some(delta) => TurnEvent::Text(delta.to_owned()),
            None => TurnEvent::Rewritten(visible.clone()),
        };
        self.output.shown = visible;
        self.send(event).await;
    }

    /// Records an output rule's action once per turn; a block withholds the answer.
    async fn output_hit(&mut self, hit: &Hit) {
        if !self.output.seen.insert(hit.rule.clone()) {
            return;
        }
        if let Some(subject) = &self.output.subject {
            audit::record(&self.inner, subject, Direction::Output, hit).await;
        }
        match hit.action {
            PolicyAction::Block => self.output.withheld = Some(hit.rule.clone()),
            PolicyAction::Redact => self.output.notices.push(format!(
                "part of this answer was redacted (content policy: {})",
                hit.rule
            )),
            PolicyAction::Warn => self.output.notices.push(format!(
                "this answer touches on something the content policy flags ({})",
                hit.rule
            )),
        }
    }

    /// `raw`, a round's text as the model wrote it, as it may be stored and sent on.
    pub(super) fn screened(&self, raw: &str) -> String {
        if self.output.active() {
            self.output.place.output.screen(raw).text
        } else {
            raw.to_owned()
        }
    }

    /// A block rule matched the answer: the whole answer becomes a notice saying so, shown in
    /// place of the text and stored as the answer.
    pub(super) async fn withhold(&mut self) {
        let Some(rule) = self.output.withheld.clone() else {
            return;
        };
        self.text = if rule == MODERATION_UNAVAILABLE {
            "🚫 The answer was withheld: the moderation model that checks answers here did not answer; try again in a few minutes.".to_owned()
        } else {
            format!("🚫 The answer was withheld: it broke the content policy ({rule}).")
        };
        self.send(TurnEvent::Rewritten(self.text.clone())).await;
    }
}
