//! The live turns: each turn's shared state ([`TurnEntry`]) and the [`Registry`] of them by the
//! id their buttons carry (random, so that a button from an earlier run of the bot never names a
//! turn of this one).
//!
//! One owner for a turn's questions: a tool approval is decided, a form answered or declined,
//! and a question expired only through [`TurnEntry`]'s methods, which also update what the
//! answer shows and poke its renderer. The registry is bounded: at most [`KEEP_TURNS`] entries,
//! none holding a request's images or files, and at most
//! [`BotConfig::open_turns_per_user`](crate::bot::BotConfig::open_turns_per_user) unfinished
//! turns per person.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mcpcord_engine::{
    Approval, Approver, ConversationKey, Grants, InputAnswer, InputMode, InputRequest, MessageId,
    Place, Scope, Speaker, TurnAction, TurnRequest, UserId,
};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker, UserMarker};

use crate::bot::Context;
use crate::render::Answer;

/// Turns remembered for their buttons (Regenerate, Continue, Reasoning): the oldest finished
/// ones are forgotten first, and past this many the oldest of all, finished or not (its answer
/// goes on; only its buttons stop working).
pub const KEEP_TURNS: usize = 5000;

/// A form an MCP server asked for, waiting for the person's answer.
#[derive(Debug)]
pub struct PendingInput {
    /// The question.
    pub request: InputRequest,
    /// Where the answer goes; dropping it declines.
    pub reply: oneshot::Sender<InputAnswer>,
}

/// What a turn's renderer and its buttons share.
#[derive(Debug)]
pub struct TurnState {
    /// The render state.
    pub answer: Answer,
    /// Tool calls waiting for approval, by call.
    pub approvals: HashMap<u32, (oneshot::Sender<Approval>, Approver)>,
    /// Forms waiting to be filled in, by call.
    pub inputs: HashMap<u32, PendingInput>,
    /// The Discord messages showing the answer, in order.
    pub messages: Vec<Id<MessageMarker>>,
    /// The renderer has made its final edit.
    pub finished: bool,
    /// The stored answer, once the turn is done (what Regenerate and Continue act on).
    pub stored: Option<MessageId>,
}

impl TurnState {
    /// A turn that has shown nothing yet.
    pub(crate) fn new() -> Self {
        Self {
            answer: Answer::new(),
            approvals: HashMap::new(),
            inputs: HashMap::new(),
            messages: Vec::new(),
            finished: false,
            stored: None,
        }
    }
}

/// Where a turn happened and for whom, without what was said: what Regenerate and Continue
/// need to start the next turn of the same conversation (no images, no files).
#[derive(Debug, Clone)]
pub struct Origin {
    /// The conversation.
    pub key: ConversationKey,
    /// Where, for preferences.
    pub scope: Scope,
    /// Names for the system prompt.
    pub place: Place,
    /// The model asked for, if any.
    pub model: Option<String>,
}

impl Origin {
    /// The origin of `request`.
    pub fn of(request: &TurnRequest) -> Self {
        Self {
            key: request.key.clone(),
            scope: request.scope,
            place: request.place.clone(),
            model: request.model.clone(),
        }
    }

    /// A request for `action` by `author` (who may use what `grants` allow) in the same
    /// conversation and place.
    pub fn request(&self, author: Speaker, action: TurnAction, grants: Grants) -> TurnRequest {
        let mut place = self.place.clone();
        place.user.clone_from(&author.name);
        TurnRequest {
            key: self.key.clone(),
            scope: self.scope,
            author,
            place,
            action,
            model: self.model.clone(),
            grants,
        }
    }
}

/// A person already has as many answers in progress as they may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("you already have {open} answers in progress; wait for one to finish (or stop one)")]
pub struct Busy {
    /// Their unfinished turns.
    pub open: usize,
}

/// One turn, as its buttons find it.
#[derive(Debug)]
pub struct TurnEntry {
    /// The id its buttons carry: random, never reused across runs.
    pub id: u64,
    /// The person whose turn it is: only they decide on its tools.
    pub owner: Id<UserMarker>,
    /// Where it is shown.
    pub channel: Id<ChannelMarker>,
    /// Where it happened (Regenerate and Continue reuse its conversation and place).
    pub origin: Origin,
    /// Stops the turn.
    pub stop: CancellationToken,
    /// The shared state.
    pub state: Mutex<TurnState>,
    /// Pokes the renderer after a change made from outside (a button).
    pub changed: Notify,
}

impl TurnEntry {
    /// The shared state, locked.
    pub fn lock(&self) -> MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The turns by id, and their ids oldest first.
type Turns = (HashMap<u64, Arc<TurnEntry>>, VecDeque<u64>);

/// Turns by id, at most [`KEEP_TURNS`] of them.
#[derive(Debug, Default)]
pub struct Registry {
    turns: Mutex<Turns>,
}

impl Registry {
    /// The turn with this `id`, if remembered.
    pub fn get(&self, id: u64) -> Option<Arc<TurnEntry>> {
        self.lock().0.get(&id).cloned()
    }

    /// How many turns are remembered.
    pub fn len(&self) -> usize {
        self.lock().0.len()
    }

    /// Whether no turn is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many of `user`'s turns are not finished.
    pub fn open_for(&self, user: Id<UserMarker>) -> usize {
        self.lock()
            .0
            .values()
            .filter(|t| t.owner == user && !t.lock().finished)
            .count()
    }

    /// Turns not finished yet.
    pub fn running(&self) -> Vec<Arc<TurnEntry>> {
        self.lock()
            .0
            .values()
            .filter(|t| !t.lock().finished)
            .cloned()
            .collect()
    }

    /// A fresh id: random, non-zero and not in use.
    pub(crate) fn new_id(&self) -> u64 {
        let turns = self.lock();
        loop {
            let id = uuid::Uuid::new_v4().as_u64_pair().0;
            if id != 0 && !turns.0.contains_key(&id) {
                return id;
            }
        }
    }

    /// Remembers `entry`, forgetting the oldest finished turn (or, when none is finished, the
    /// oldest of all) while more than [`KEEP_TURNS`] are remembered. Each pass forgets one, so
    /// this always ends.
    pub(crate) fn insert(&self, entry: Arc<TurnEntry>) {
        let mut guard = self.lock();
        let (turns, order) = &mut *guard;
        turns.insert(entry.id, entry.clone());
        order.push_back(entry.id);
        while turns.len() > KEEP_TURNS {
            let finished = order
                .iter()
                .position(|id| turns.get(id).is_none_or(|t| t.lock().finished));
            let Some(victim) = order.remove(finished.unwrap_or(0)) else {
                break;
            };
            turns.remove(&victim);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `owner` may have one more answer in progress
/// ([`BotConfig::open_turns_per_user`](crate::bot::BotConfig::open_turns_per_user)). [`start`]
/// asks it; entry points ask it first too when they would otherwise do visible or costly work
/// (open a thread, download attachments) before starting the turn.
pub fn room_for(ctx: &Context, owner: Id<UserMarker>) -> Result<(), Busy> {
    let open = ctx.turns.open_for(owner);
    if open >= ctx.config().open_turns_per_user {
        return Err(Busy { open });
    }
    Ok(())
}

/// A question to the person whose turn it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Question {
    /// May this tool call run?
    Approval,
    /// An MCP server's form.
    Input,
}

/// What became of a form's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormAnswer {
    /// The server has it.
    Answered,
    /// Answered, declined or expired before.
    Gone,
    /// The values do not fit the form (why); the question stays open.
    Invalid(String),
}

impl TurnEntry {
    /// Waits for a decision on tool call `call` (`approver` learns who gave it); after `timeout` the question is
    /// withdrawn, which denies the call.
    pub fn ask_approval(
        self: &Arc<Self>,
        call: u32,
        reply: oneshot::Sender<Approval>,
        approver: Approver,
        timeout: Duration,
    ) {
        self.lock().approvals.insert(call, (reply, approver));
        self.expire_after(call, Question::Approval, timeout);
    }

    /// Waits for the person's answer to an MCP server's question during tool call `call`;
    /// after `timeout` it is withdrawn, which declines it.
    pub fn ask_input(self: &Arc<Self>, call: u32, input: PendingInput, timeout: Duration) {
        self.lock().inputs.insert(call, input);
        self.expire_after(call, Question::Input, timeout);
    }

    /// The decision on tool call `call`, given by `by`; `false` when it was decided or withdrawn
    /// already.
    pub fn decide(&self, call: u32, approval: Approval, by: UserId) -> bool {
        let Some((reply, approver)) = self.lock().approvals.remove(&call) else {
            return false;
        };
        approver.set(by);
        let _ = reply.send(approval);
        self.settled(call, Question::Approval);
        true
    }

    /// The open form of tool call `call`: its message and schema (`None` once answered, or
    /// for a question that is not a form).
    pub fn form(&self, call: u32) -> Option<(String, Value)> {
        let state = self.lock();
        let pending = state.inputs.get(&call)?;
        match &pending.request.mode {
            InputMode::Form { schema } => Some((pending.request.message.clone(), schema.clone())),
            _ => None,
        }
    }

    /// Declines the question of tool call `call` (a form that cannot be shown); `false` when
    /// it was answered already.
    pub fn decline(&self, call: u32) -> bool {
        let Some(pending) = self.lock().inputs.remove(&call) else {
            return false;
        };
        let _ = pending.reply.send(InputAnswer::Decline);
        self.settled(call, Question::Input);
        true
    }

    /// Answers the form of tool call `call` with the `values` typed, by field.
    pub fn answer_form(&self, call: u32, values: &[(String, String)]) -> FormAnswer {
        let mut state = self.lock();
        let Some(pending) = state.inputs.remove(&call) else {
            return FormAnswer::Gone;
        };
        let schema = match &pending.request.mode {
            InputMode::Form { schema } => schema.clone(),
            _ => Value::Null,
        };
        match crate::forms::form_values(&schema, values) {
            Ok(value) => {
                drop(state);
                let _ = pending.reply.send(InputAnswer::Accept(Some(value)));
                self.settled(call, Question::Input);
                FormAnswer::Answered
            }
            Err(why) => {
                state.inputs.insert(call, pending);
                FormAnswer::Invalid(why)
            }
        }
    }

    /// Withdraws every open question (the turn ended): approvals deny, forms decline.
    pub fn withdraw_all(&self) {
        let mut state = self.lock();
        state.approvals.clear();
        state.inputs.clear();
    }

    /// Withdraws question `call` if nobody answered it within `timeout`.
    fn expire_after(self: &Arc<Self>, call: u32, question: Question, timeout: Duration) {
        let entry = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let withdrawn = {
                let mut state = entry.lock();
                match question {
                    Question::Approval => state.approvals.remove(&call).is_some(),
                    Question::Input => state.inputs.remove(&call).is_some(),
                }
            };
            if withdrawn {
                entry.settled(call, question);
            }
        });
    }

    /// Shows question `call` as settled and pokes the renderer.
    fn settled(&self, call: u32, question: Question) {
        {
            let mut state = self.lock();
            match question {
                Question::Approval => state.answer.approval_decided(call as usize),
                Question::Input => state.answer.question_answered(call as usize),
            }
        }
        self.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(registry: &Registry, owner: u64) -> Arc<TurnEntry> {
        Arc::new(TurnEntry {
            id: registry.new_id(),
            owner: Id::new(owner),
            channel: Id::new(1),
            origin: Origin {
                key: ConversationKey::new("test"),
                scope: Scope::default(),
                place: Place::default(),
                model: None,
            },
            stop: CancellationToken::new(),
            state: Mutex::new(TurnState::new()),
            changed: Notify::new(),
        })
    }

    #[test]
    fn the_registry_stays_bounded_even_when_no_turn_is_finished() {
        let registry = Registry::default();
        let first = entry(&registry, 7);
        registry.insert(first.clone());
        for _ in 0..KEEP_TURNS + 100 {
            registry.insert(entry(&registry, 8));
        }
        assert_eq!(registry.len(), KEEP_TURNS);
        assert!(registry.get(first.id).is_none(), "the oldest went first");
        assert_eq!(registry.open_for(Id::new(8)), KEEP_TURNS);
    }

    #[test]
    fn finished_turns_are_forgotten_before_unfinished_ones() {
        let registry = Registry::default();
        let running = entry(&registry, 7);
        registry.insert(running.clone());
        for _ in 0..KEEP_TURNS {
            let done = entry(&registry, 8);
            done.lock().finished = true;
            registry.insert(done);
        }
        registry.insert(entry(&registry, 9));
        assert_eq!(registry.len(), KEEP_TURNS);
        assert!(
            registry.get(running.id).is_some(),
            "the oldest, still running, is kept"
        );
        assert_eq!(registry.open_for(Id::new(7)), 1);
    }
}
