//! One turn, from a request to a committed answer: prepare the context, then model rounds and
//! tool rounds until the model answers, is stopped, or runs out of rounds.
//!
//! Why one file over 600 lines: what stands apart is already apart (`prepare.rs` before the
//! first round, `screen.rs` the content policy, `usage.rs` the token count); what is left is the
//! round loop and the `TurnState` it steps, which read as one piece.

use std::sync::Arc;

use futures::StreamExt;
use mcpcord_llm::{
    ChatEvent, ChatRequest, LlmError, Message, ModelInfo, PooledStream, ToolCall, ToolSpec, Usage,
};
use mcpcord_memory::{
    Conversation, DisabledTool, GuildId, NewMessage, Role as StoredRole, StoredMessage, UserId,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::{EngineConfig, Inner};
use crate::error::EngineError;
use crate::events::{TurnEvent, TurnSummary};
use crate::loop_breaker::LoopBreaker;
use crate::request::TurnRequest;
use crate::slot::Slot;
use crate::telemetry::{InFlight, Outcome, TurnFacts};
use crate::tools::ToolRun;

mod prepare;
mod screen;
mod summary;

pub(crate) use screen::{refusal, refused};
mod usage;

/// Tells a model to pick up where its last answer stopped (Continue); never stored.
const CONTINUE_PROMPT: &str =
    "Continue your previous answer exactly where it stopped, without repeating it.";

/// Runs a turn to its end, reporting on `events`. Never panics on a failure: reports it. Its
/// metrics and log line are recorded from `facts` when it ends.
pub(crate) async fn run(
    inner: Arc<Inner>,
    request: TurnRequest,
    events: mpsc::Sender<TurnEvent>,
    cancel: CancellationToken,
    slot: Slot,
    facts: TurnFacts,
) {
    let _running = InFlight::start();
    let timed_out = CancellationToken::new();
    // The settings in force now are this turn's to the end, whatever a reload changes.
    let config = inner.config.load_full();
    let timer = {
        let (cancel, timed_out, limit) = (cancel.clone(), timed_out.clone(), config.turn_timeout);
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timed_out.cancel();
            cancel.cancel();
        })
    };
    let mut turn = TurnState::new(inner, config, events, cancel, slot, facts);
    let outcome = turn.run(request).await;
    timer.abort();
    let ended = Outcome::of(&outcome, timed_out.is_cancelled());
    turn.facts.finish(ended);
    // Counted in memory before the front end hears of the end, so a next message sees it.
    let recorded = turn.count_usage();
    match outcome {
        Ok(summary) => {
            if ended == Outcome::TimedOut {
                turn.notice(format!(
                    "stopped: the answer took longer than {:?}",
                    turn.config.turn_timeout
                ))
                .await;
            }
            turn.send(TurnEvent::Done(summary)).await;
        }
        Err(error) => {
            tracing::warn!(%error, "turn failed");
            turn.send(TurnEvent::Failed(error)).await;
        }
    }
    turn.store_usage(recorded).await;
}

/// Everything one turn accumulates.
struct TurnState {
    inner: Arc<Inner>,
    /// The engine's settings when the turn started.
    config: Arc<EngineConfig>,
    events: mpsc::Sender<TurnEvent>,
    cancel: CancellationToken,
    /// Assistant tool-call messages and tool results, stored with the answer.
    pending: Vec<NewMessage>,
    text: String,
    thinking: String,
    completion_tokens: u32,
    prompt_tokens: Option<u32>,
    tool_calls: usize,
    rounds: u32,
    /// The turn's place among the turns running at once.
    slot: Slot,
    /// Who asked (approvals they give with "Always" are theirs).
    author: Option<UserId>,
    /// What the asker may use (their tools only are offered and run).
    grants: crate::grants::Grants,
    /// The guild the turn is in, if any (for the audit log, and the budget it spends).
    guild: Option<GuildId>,
    /// Tokens the turn's model rounds cost (prompt + answer, reported or estimated).
    spent: u64,
    /// Regenerate: the answer being replaced, and its turn (left out of the context).
    replaces: Option<(mcpcord_memory::MessageId, String)>,
    /// What operators are told when the turn ends.
    facts: TurnFacts,
    /// The person's message this turn answers, as given to the store.
    asked: Option<Asked>,
    /// The content policy's hold on the answer.
    output: screen::OutputFilter,
    /// The asker's facts in the turn's scope, for the system prompt (see `facts.rs`).
    known: Vec<mcpcord_memory::Fact>,
}

/// The person's message a turn answers, as the store took it: its write may still be queued
/// (see `Store::conversation_with_message_queued`) while the model is asked.
struct Asked {
    /// The message as stored.
    message: StoredMessage,
    /// The history of a conversation created with this message (that message alone), known
    /// without reading it; taken by the first use.
    fresh: Option<Vec<StoredMessage>>,
    /// Whether the write is done: awaited before the answer is committed, and before the turn
    /// ends (`None` once awaited).
    written: Option<mcpcord_memory::Written>,
}

/// A turn ready for its first model round.
struct Prepared {
    conversation: Conversation,
    model: String,
    info: ModelInfo,
    disabled: Vec<DisabledTool>,
    /// The tools offered to the model (none once it must answer).
    offered: Vec<ToolSpec>,
    /// What the model sees, growing with each round.
    messages: Vec<Message>,
}

/// What the request's action left for the context.
#[derive(Default)]
struct Action {
    /// The person's images.
    images: Vec<String>,
    /// The history, when finding the answer to redo read it already.
    history: Option<Vec<StoredMessage>>,
    /// A message after the history (Continue's instruction).
    extra: Option<Message>,
}

/// What a round leads to.
enum Step {
    /// Tools ran: the model goes on with their results.
    Again,
    /// The model answered.
    Answered,
    /// The turn was stopped (the Stop button, the turn timeout, shutdown).
    Interrupted,
}

/// What one model round produced.
#[derive(Default)]
struct Round {
    text: String,
    calls: Vec<ToolCall>,
    usage: Option<Usage>,
    stopped: bool,
    /// Characters of text and reasoning the model sent (to estimate its tokens when the
    /// server reports none).
    chars: usize,
}

impl TurnState {
    fn new(
        inner: Arc<Inner>,
        config: Arc<EngineConfig>,
        events: mpsc::Sender<TurnEvent>,
        cancel: CancellationToken,
        slot: Slot,
        facts: TurnFacts,
    ) -> Self {
        Self {
            inner,
            config,
            events,
            cancel,
            slot,
            facts,
            author: None,
            // Until the request says otherwise, nothing.
            grants: crate::grants::Grants::nothing(),
            guild: None,
            spent: 0,
            pending: Vec::new(),
            text: String::new(),
            thinking: String::new(),
            completion_tokens: 0,
            prompt_tokens: None,
            tool_calls: 0,
            rounds: 0,
            replaces: None,
            asked: None,
            output: screen::OutputFilter::none(),
            known: Vec::new(),
        }
    }

    async fn send(&self, event: TurnEvent) {
        // A front end that went away does not stop the turn: it is still saved.
        let _ = self.events.send(event).await;
    }

    async fn notice(&self, text: impl Into<String>) {
        self.send(TurnEvent::Notice(text.into())).await;
    }

    /// The turn, and the write of the person's message waited for: a turn whose message could
    /// not be stored fails with that error (its answer, if any, was not committed).
    async fn run(&mut self, request: TurnRequest) -> Result<TurnSummary, EngineError> {
        let outcome = self.answer(request).await;
        match (outcome, self.question_written().await) {
            (outcome, Ok(())) => outcome,
            (Ok(_), Err(error)) => Err(error),
            (Err(error), Err(unwritten)) => {
                tracing::warn!(error = %unwritten, "the person's message could not be stored either");
                Err(error)
            }
        }
    }

    /// Waits until the person's message is written, if its write was queued.
    async fn question_written(&mut self) -> Result<(), EngineError> {
        match self.asked.as_mut().and_then(|asked| asked.written.take()) {
            Some(written) => Ok(written.wait().await?),
            None => Ok(()),
        }
    }

    /// The turn: prepare its context, take model and tool rounds, then save the answer.
    async fn answer(&mut self, mut request: TurnRequest) -> Result<TurnSummary, EngineError> {
        self.author = request.author.id;
        self.guild = request.scope.guild_id;
        self.check_budget().await?;
        self.screen_input(&mut request).await?;
        let mut prepared = self.prepare(&request).await?;
        self.facts.model = Some(prepared.model.clone());
        let interrupted = self.take_rounds(&mut prepared).await?;
        let message_id = self
            .save(&prepared.conversation, &prepared.model, interrupted)
            .await?;
        Ok(TurnSummary {
            model: prepared.model,
            text: std::mem::take(&mut self.text),
            thinking: std::mem::take(&mut self.thinking),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            tool_calls: self.tool_calls,
            rounds: self.rounds,
            interrupted,
            message_id,
        })
    }

    /// Model rounds, with tool rounds between them, until the model answers without calling
    /// tools, is stopped, repeats itself or runs out of rounds; whether it was interrupted.
    async fn take_rounds(&mut self, turn: &mut Prepared) -> Result<bool, EngineError> {
        let mut breaker = LoopBreaker::default();
        loop {
            match self.step(turn, &mut breaker).await? {
                Step::Again => {}
                Step::Answered => return Ok(false),
                Step::Interrupted => return Ok(true),
            }
        }
    }

    /// One model round and the tool calls it asks for.
    async fn step(
        &mut self,
        turn: &mut Prepared,
        breaker: &mut LoopBreaker,
    ) -> Result<Step, EngineError> {
        let max_rounds = self.config.max_tool_rounds.max(1);
        let last_round = self.rounds >= max_rounds;
        if last_round && !turn.offered.is_empty() {
            self.notice(format!("stopped calling tools after {max_rounds} rounds"))
                .await;
            turn.offered.clear();
        }
        let round = self.model_step(turn).await?;
        self.rounds += 1;
        if self.output.withheld.is_some() {
            self.withhold().await;
            return Ok(Step::Answered);
        }
        if round.stopped {
            return Ok(Step::Interrupted);
        }
        if round.calls.is_empty() || last_round {
            return Ok(Step::Answered);
        }
        self.tool_step(turn, breaker, round).await
    }

    /// One model round; when it fails, what was said is kept (but a failed regenerate keeps
    /// the old answer rather than a broken new one).
    async fn model_step(&mut self, turn: &mut Prepared) -> Result<Round, EngineError> {
        crate::telemetry::latency_mark("request", turn.conversation.key.as_str());
        let result = self
            .model_round(&turn.model, &turn.messages, &mut turn.offered)
            .await;
        match result {
            Ok(round) => Ok(round),
            Err(error) => {
                if self.replaces.is_none() {
                    self.save(&turn.conversation, &turn.model, true).await?;
                }
                Err(error.into())
            }
        }
    }

    /// The tool calls of `round`, their results added to the messages; a model that repeats a
    /// call with the same arguments is offered no more tools.
    async fn tool_step(
        &mut self,
        turn: &mut Prepared,
        breaker: &mut LoopBreaker,
        round: Round,
    ) -> Result<Step, EngineError> {
        let repeated = round
            .calls
            .iter()
            .any(|c| !breaker.first_time(&c.name, &c.arguments));
        let results = self
            .run_tools(
                &turn.conversation,
                &turn.model,
                &turn.info,
                &turn.disabled,
                round,
                &mut turn.messages,
            )
            .await;
        if self.cancel.is_cancelled() {
            return Ok(Step::Interrupted);
        }
        if repeated {
            self.notice("the model repeated a tool call with the same arguments; it answers with what it has").await;
            turn.offered.clear();
        }
        Ok(if results == 0 {
            Step::Answered
        } else {
            Step::Again
        })
    }

    /// Streams one answer from the model, forwarding text and thinking as they come.
    async fn model_round(
        &mut self,
        model: &str,
        messages: &[Message],
        offered: &mut Vec<ToolSpec>,
    ) -> Result<Round, LlmError> {
        let config = self.config.clone();
        let mut request = ChatRequest::new(model, messages.to_vec());
        request.tools = offered.clone();
        request.options.temperature = config.temperature;
        request.options.keep_alive = config.keep_alive;
        request.options.max_tokens = config.budgets.limits(self.guild).max_tokens;
        let chars: usize = messages.iter().map(|m| m.content.chars().count()).sum();
        let stopped = Round {
            stopped: true,
            ..Round::default()
        };
        let Some(mut stream) = self.open_stream(&mut request, offered).await? else {
            return Ok(stopped);
        };
        self.facts.backend = Some(stream.backend().to_string());
        let mut round = Round::default();
        self.round_begins();
        loop {
            let event = tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    round.stopped = true;
                    break;
                }
                event = stream.next() => event,
            };
            let Some(event) = event else {
                break;
            };
            self.absorb(&mut round, event?, model, chars).await;
            if self.output.withheld.is_some() {
                break;
            }
        }
        self.charge(model, chars, round.chars, round.usage.as_ref());
        // The backend's slot goes back first: a moderation model judging the round may need it.
        drop(stream);
        self.round_ends().await;
        Ok(round)
    }

    /// Starts the model's answer to `request` (`None` when the turn is stopped first); a model
    /// that cannot use tools is asked again without them, and offered none from then on.
    async fn open_stream(
        &self,
        request: &mut ChatRequest,
        offered: &mut Vec<ToolSpec>,
    ) -> Result<Option<PooledStream>, LlmError> {
        let started = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Ok(None),
            started = self.inner.pool.chat(request) => started,
        };
        match started {
            Err(LlmError::ToolsUnsupported { .. }) if !offered.is_empty() => {
                let model = &request.model;
                self.notice(format!("{model} cannot use tools; it answers without them"))
                    .await;
                offered.clear();
                request.tools.clear();
                self.inner.pool.chat(request).await.map(Some)
            }
            other => other.map(Some),
        }
    }

    /// Takes one streamed event into the round (and the turn), forwarding what people see.
    async fn absorb(&mut self, round: &mut Round, event: ChatEvent, model: &str, chars: usize) {
        match event {
            ChatEvent::Text(delta) => {
                self.facts.token();
                round.chars += delta.chars().count();
                round.text.push_str(&delta);
                self.answer_grows(&round.text, delta).await;
            }
            ChatEvent::Thinking(delta) => {
                self.facts.token();
                round.chars += delta.chars().count();
                self.reasoning_grows(delta).await;
            }
            ChatEvent::ToolCalls(calls) => round.calls.extend(calls),
            ChatEvent::Done(usage) => {
                if let Some(tokens) = usage.prompt_tokens {
                    self.inner.estimator.calibrate(model, chars, tokens);
                    self.prompt_tokens = Some(tokens);
                    self.facts.prompt_tokens += u64::from(tokens);
                }
                let answered = usage.completion_tokens.unwrap_or(0);
                self.completion_tokens += answered;
                self.facts.completion_tokens += u64::from(answered);
                round.usage = Some(usage);
            }
        }
    }

    /// Runs the round's tool calls concurrently and appends the exchange to `messages`;
    /// returns how many calls ran.
    async fn run_tools(
        &mut self,
        conversation: &Conversation,
        model: &str,
        info: &ModelInfo,
        disabled: &[DisabledTool],
        round: Round,
        messages: &mut Vec<Message>,
    ) -> usize {
        let first = self.tool_calls;
        self.tool_calls += round.calls.len();
        self.facts
            .tools
            .extend(round.calls.iter().map(|c| c.name.clone()));
        let calls_json = serde_json::to_value(&round.calls).unwrap_or_default();
        let said = self.screened(&round.text);
        messages.push(Message::assistant_tool_calls(
            said.clone(),
            round.calls.clone(),
        ));
        self.pending.push(
            NewMessage::assistant(said)
                .with_tool_calls(calls_json)
                .with_model(model),
        );
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            // Text said before a tool call stays, separated from what comes after.
            self.text.push_str("\n\n");
        }
        let run = ToolRun {
            host: self.inner.tools.clone(),
            events: self.events.clone(),
            cancel: self.cancel.child_token(),
            inner: self.inner.clone(),
            conversation: conversation.id,
            user: self.author,
            guild: self.guild,
            slot: self.slot.clone(),
            vision: info.can(mcpcord_llm::Capability::Vision),
            disabled: disabled.to_vec(),
            grants: self.grants.clone(),
            asked: self.asked.as_ref().map(|asked| asked.message.id),
        };
        let results = futures::future::join_all(
            round
                .calls
                .iter()
                .enumerate()
                .map(|(i, call)| run.call(first + i, call.clone())),
        )
        .await;
        for (call, result) in round.calls.iter().zip(results) {
            let mut stored = NewMessage::tool_result(&call.name, &result.content);
            if let Some(id) = &call.id {
                stored = stored.with_tool_call_id(id);
            }
            self.pending.push(stored);
            messages.push(Message::tool_result(call, result.content).with_images(result.images));
        }
        round.calls.len()
    }

    /// Stores the turn's answer (and its tool exchange) in one transaction.
    async fn save(
        &mut self,
        conversation: &Conversation,
        model: &str,
        interrupted: bool,
    ) -> Result<Option<mcpcord_memory::MessageId>, EngineError> {
        let mut answer = NewMessage::assistant(self.text.clone()).with_model(model);
        answer = answer.with_tokens(
            u64::from(self.prompt_tokens.unwrap_or(0)),
            u64::from(self.completion_tokens),
        );
        if interrupted {
            answer = answer.interrupted();
        }
        if self.text.is_empty() && self.pending.is_empty() {
            return Ok(None); // Nothing was said: nothing to keep.
        }
        // Never an answer without its question: the store writes them in this order anyway,
        // and a question that could not be written fails the turn instead.
        self.question_written().await?;
        let mut messages = std::mem::take(&mut self.pending);
        messages.push(answer);
        let store = &self.inner.store;
        let ids = match &self.replaces {
            Some((old, _)) => {
                store
                    .commit_turn_replacing(conversation.id, messages, *old)
                    .await?
            }
            None => store.commit_turn(conversation.id, messages).await?,
        };
        Ok(ids.last().copied())
    }
}

/// The answer a Regenerate or Continue acts on, in `history`: `wanted` if it is still the
/// latest answer, the latest when `wanted` is `None`.
fn target<'a>(
    history: &'a [StoredMessage],
    wanted: Option<mcpcord_memory::MessageId>,
    action: &'static str,
) -> Result<&'a StoredMessage, EngineError> {
    let latest = last_answer(history).ok_or(EngineError::NothingTo { action })?;
    match wanted {
        Some(id) if id != latest.id => Err(EngineError::NotLatest { action }),
        _ => Ok(latest),
    }
}

/// Whether the last message of `history` is a person's, with no answer after it.
fn unanswered(history: &[StoredMessage]) -> bool {
    history.last().is_some_and(|m| m.role == StoredRole::User)
}

/// The most recent assistant answer in `history`, if any.
pub(crate) fn last_answer(history: &[StoredMessage]) -> Option<&StoredMessage> {
    history
        .iter()
        .rev()
        .find(|m| m.role == StoredRole::Assistant && m.tool_calls.is_none())
}

/// A stored message as the model sees it; with `attribute`, user messages carry their author's
/// name.
fn to_model_message(stored: &StoredMessage, attribute: bool) -> Message {
    match stored.role {
        StoredRole::System => Message::system(stored.content.clone()),
        StoredRole::User => match &stored.author {
            Some(author) if attribute => {
                Message::user(format!("{}: {}", author.name, stored.content))
            }
            _ => Message::user(stored.content.clone()),
        },
        StoredRole::Assistant => {
            let calls: Vec<ToolCall> = stored
                .tool_calls
                .as_ref()
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            if calls.is_empty() {
                Message::assistant(stored.content.clone())
            } else {
                Message::assistant_tool_calls(stored.content.clone(), calls)
            }
        }
        StoredRole::Tool => {
            let mut message = Message::assistant(stored.content.clone());
            message.role = mcpcord_llm::Role::Tool;
            message.tool_name = stored.tool_name.clone();
            message.tool_call_id = stored.tool_call_id.clone();
            message
        }
    }
}
