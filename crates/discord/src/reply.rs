//! Rendering one turn in Discord: a typing indicator until there is something to show, then one
//! message per piece of the answer (the first held for a short window, [`crate::first_post`],
//! so that a quick answer is a single create), each edited through its own [`EditThrottle`] as
//! the answer grows; the controls ride on the last message only; a final edit when the turn ends.
//! Every request goes through the [`Pacer`](crate::pacer::Pacer).
//!
//! Owns the [`Registry`] of turns (by the id their buttons carry: random, so that a button from an
//! earlier run of the bot never names a turn of this one) and each turn's shared state
//! ([`TurnEntry`]): the render state, the replies waiting for a person's decision (tool
//! approvals, forms), and the messages showing it. Button presses change the entry and poke the
//! renderer, which shows the change. The registry is bounded: at most [`KEEP_TURNS`] entries,
//! none holding a request's images or files, and at most
//! [`BotConfig::open_turns_per_user`](crate::bot::BotConfig::open_turns_per_user) unfinished
//! turns per person.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::join_all;
use mcpcord_engine::{Approval, Place, Speaker, Turn, TurnAction, TurnEvent, TurnRequest};
use mcpcord_mcp::{InputAnswer, InputRequest};
use mcpcord_memory::{ConversationKey, MessageId, Scope};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;
use twilight_model::channel::message::Component;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker, UserMarker};

use crate::bot::Context;
use crate::first_post::FirstPost;
use crate::mentions::no_pings;
use crate::pacer::Route;
use crate::render::{Answer, ToolStatus, View};
use crate::throttle::{EditOutcome, EditThrottle};

/// Turns remembered for their buttons (Regenerate, Continue, Reasoning): the oldest finished
/// ones are forgotten first, and past this many the oldest of all, finished or not (its answer
/// goes on; only its buttons stop working).
pub const KEEP_TURNS: usize = 5000;

/// How long an answer may take to show its first words before a typing indicator appears.
pub const TYPING_AFTER: Duration = Duration::from_millis(500);

/// How often a typing indicator is renewed (Discord shows one for about 10 s).
pub const TYPING_EVERY: Duration = Duration::from_secs(8);

/// How often running tool lines are redrawn (their time grows).
pub const TOOL_TICK: Duration = Duration::from_secs(1);

/// What one message shows: its text and its components.
pub type Content = (String, Vec<Component>);

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
    pub approvals: HashMap<u32, oneshot::Sender<Approval>>,
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
    fn new() -> Self {
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

    /// A request for `action` by `author` in the same conversation and place.
    pub fn request(&self, author: Speaker, action: TurnAction) -> TurnRequest {
        let mut place = self.place.clone();
        place.user.clone_from(&author.name);
        TurnRequest {
            key: self.key.clone(),
            scope: self.scope,
            author,
            place,
            action,
            model: self.model.clone(),
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
    fn new_id(&self) -> u64 {
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
    fn insert(&self, entry: Arc<TurnEntry>) {
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
    if open >= ctx.config.open_turns_per_user {
        return Err(Busy { open });
    }
    Ok(())
}

/// Starts `request` in the engine and renders it in `channel` (the first message replying to
/// `reply_to`, if given). Returns the turn's entry, or [`Busy`] (and starts nothing) when
/// `owner` already has as many unfinished turns as they may.
pub fn start(
    ctx: &Arc<Context>,
    request: TurnRequest,
    owner: Id<UserMarker>,
    channel: Id<ChannelMarker>,
    reply_to: Option<Id<MessageMarker>>,
) -> Result<Arc<TurnEntry>, Busy> {
    room_for(ctx, owner)?;
    let origin = Origin::of(&request);
    let turn = ctx.engine.start_turn(request);
    let entry = Arc::new(TurnEntry {
        id: ctx.turns.new_id(),
        owner,
        channel,
        origin,
        stop: turn.stopper(),
        state: Mutex::new(TurnState::new()),
        changed: Notify::new(),
    });
    ctx.turns.insert(entry.clone());
    tracing::debug!(turn = entry.id, engine_turn = %turn.id, "rendering a turn");
    ctx.renders
        .spawn(render(ctx.clone(), entry.clone(), turn, reply_to));
    Ok(entry)
}

/// One message of the answer as shown.
struct Shown {
    id: Id<MessageMarker>,
    throttle: EditThrottle<Content>,
}

/// The renderer of one turn.
struct Renderer {
    ctx: Arc<Context>,
    entry: Arc<TurnEntry>,
    reply_to: Option<Id<MessageMarker>>,
    /// When the first message may go out.
    first: FirstPost,
    shown: Vec<Shown>,
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

async fn render(
    ctx: Arc<Context>,
    entry: Arc<TurnEntry>,
    mut turn: Turn,
    reply_to: Option<Id<MessageMarker>>,
) {
    let typing = CancellationToken::new();
    tokio::spawn(keep_typing(ctx.clone(), entry.channel, typing.clone()));
    let _typing = typing.clone().drop_guard();
    let first = FirstPost::new(
        tokio::time::Instant::now(),
        ctx.config.first_post_window,
        ctx.budget.stretch(),
    );
    let mut renderer = Renderer {
        ctx,
        entry,
        reply_to,
        first,
        shown: Vec::new(),
    };
    let mut stored = None;
    loop {
        let ticking = renderer
            .entry
            .lock()
            .answer
            .tools()
            .iter()
            .any(|t| !matches!(t.status, ToolStatus::Finished { .. }));
        // While the first message is held, wake when it may become due.
        let first_check = if renderer.shown.is_empty() {
            renderer.first.next_check(tokio::time::Instant::now())
        } else {
            None
        };
        tokio::select! {
            event = turn.next() => match event {
                Some(event) => {
                    if let TurnEvent::Done(summary) = &event {
                        stored = summary.message_id;
                        renderer.entry.lock().stored = stored;
                    }
                    renderer.absorb(event);
                }
                None => break,
            },
            () = renderer.entry.changed.notified() => {}
            () = tokio::time::sleep(TOOL_TICK), if ticking => {}
            () = sleep_until(first_check), if first_check.is_some() => {}
        }
        let (view, finished) = {
            let state = renderer.entry.lock();
            (state.answer.view(now()), state.answer.is_finished())
        };
        if finished {
            break;
        }
        if !view.pieces.is_empty() {
            typing.cancel();
        }
        renderer.show(&view).await;
    }
    typing.cancel();
    let view = {
        let mut state = renderer.entry.lock();
        // Events ended without Done or Failed: the turn was cut.
        state.answer.interrupt();
        // Nobody can decide any more: pending approvals deny, pending forms decline.
        state.approvals.clear();
        state.inputs.clear();
        state.answer.view(now())
    };
    let (ctx, entry) = (renderer.ctx.clone(), renderer.entry.clone());
    let ids = renderer.finish(&view).await;
    {
        let mut state = entry.lock();
        state.messages.clone_from(&ids);
        state.finished = true;
    }
    if let Some(stored) = stored
        && !ids.is_empty()
    {
        let ids: Vec<u64> = ids.iter().map(|id| id.get()).collect();
        if let Err(error) = ctx
            .engine
            .store()
            .set_discord_message_ids(stored, &ids)
            .await
        {
            tracing::warn!(%error, "cannot record the answer's Discord messages");
        }
    }
}

/// A question to the person whose turn it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Question {
    /// May this tool call run?
    Approval,
    /// An MCP server's form.
    Input,
}

impl Renderer {
    /// Withdraws question `call` if nobody answered it within the approval timeout: dropping
    /// its reply denies an approval and declines a form.
    fn expire(&self, call: u32, question: Question) {
        let (entry, timeout) = (self.entry.clone(), self.ctx.config.approval_timeout);
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let mut state = entry.lock();
            let withdrawn = match question {
                Question::Approval => state.approvals.remove(&call).is_some(),
                Question::Input => state.inputs.remove(&call).is_some(),
            };
            if !withdrawn {
                return;
            }
            match question {
                Question::Approval => state.answer.approval_decided(call as usize),
                Question::Input => state.answer.question_answered(call as usize),
            }
            drop(state);
            entry.changed.notify_one();
        });
    }

    /// Takes an event into the shared state.
    fn absorb(&mut self, event: TurnEvent) {
        let mut state = self.entry.lock();
        state.answer.apply(&event, now());
        if let TurnEvent::Failed(error) = &event {
            let id = crate::middleware::error_id();
            tracing::warn!(error_id = %id, %error, detail = ?error, "an answer failed");
            state.answer.tag_failure(&id);
        }
        match event {
            TurnEvent::ApprovalNeeded(request) => {
                let call = u32::try_from(request.call).unwrap_or(u32::MAX);
                state.approvals.insert(call, request.reply);
                self.expire(call, Question::Approval);
            }
            TurnEvent::InputRequested(prompt) => {
                let call = u32::try_from(prompt.call).unwrap_or(u32::MAX);
                state.inputs.insert(
                    call,
                    PendingInput {
                        request: prompt.request,
                        reply: prompt.reply,
                    },
                );
                self.expire(call, Question::Input);
            }
            _ => {}
        }
    }

    /// The content of piece `i` of `view`: controls on the last one only.
    fn content(&self, view: &View, rows: &[Component], i: usize) -> Content {
        let last = i + 1 == view.pieces.len();
        (
            view.pieces[i].clone(),
            if last { rows.to_vec() } else { Vec::new() },
        )
    }

    fn rows(&self, view: &View) -> Vec<Component> {
        view.controls.rows(self.entry.id).unwrap_or_else(|error| {
            tracing::warn!(%error, "the answer's controls do not fit; left out");
            Vec::new()
        })
    }

    /// Shows `view`: edits go to the throttles, new pieces become new messages.
    async fn show(&mut self, view: &View) {
        if self.shown.is_empty() {
            let urgent = {
                let state = self.entry.lock();
                !state.approvals.is_empty() || !state.inputs.is_empty()
            };
            let text = view.pieces.first().map_or("", String::as_str);
            if !self.first.due(text, urgent, tokio::time::Instant::now()) {
                return;
            }
        }
        let rows = self.rows(view);
        for i in 0..view.pieces.len() {
            let content = self.content(view, &rows, i);
            if let Some(shown) = self.shown.get(i) {
                shown.throttle.update(content);
            } else if !self.post(content).await {
                return;
            }
        }
    }

    /// Posts a new message; false if Discord refused it.
    async fn post(&mut self, content: Content) -> bool {
        let channel = self.entry.channel;
        let mentions = no_pings();
        let mut request = self
            .ctx
            .http
            .create_message(channel)
            .content(&content.0)
            .components(&content.1)
            .allowed_mentions(Some(&mentions));
        if self.shown.is_empty()
            && let Some(reply_to) = self.reply_to
        {
            request = request.reply(reply_to).fail_if_not_exists(false);
        }
        let message = match self
            .ctx
            .pacer
            .send(Route::create_message(channel), request)
            .await
        {
            Ok(response) => match response.model().await {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the posted message");
                    return false;
                }
            },
            Err(error) => {
                tracing::warn!(%error, "cannot post a message of the answer");
                return false;
            }
        };
        let (http, pacer) = (self.ctx.http.clone(), self.ctx.pacer.clone());
        let id = message.id;
        self.ctx
            .recent
            .remember(id.get(), self.entry.origin.key.clone());
        let throttle = EditThrottle::spawn(
            channel.get(),
            content,
            self.ctx.config.throttle,
            self.ctx.budget.clone(),
            move |(text, components): Content| {
                let (http, pacer) = (http.clone(), pacer.clone());
                async move {
                    let mentions = no_pings();
                    let request = http
                        .update_message(channel, id)
                        .content(Some(&text))
                        .components(Some(&components))
                        .allowed_mentions(Some(&mentions));
                    let result = pacer.send(Route::update_message(channel), request).await;
                    let outcome = EditOutcome::from_twilight(&result);
                    if let (EditOutcome::Failed, Err(error)) = (&outcome, &result) {
                        tracing::warn!(%error, "an edit of the answer failed");
                    }
                    outcome
                }
            },
        );
        self.entry.lock().messages.push(id);
        self.shown.push(Shown { id, throttle });
        true
    }

    /// Shows the final `view` and waits for every message to show it; returns the messages.
    async fn finish(mut self, view: &View) -> Vec<Id<MessageMarker>> {
        let rows = self.rows(view);
        for i in self.shown.len()..view.pieces.len() {
            let content = self.content(view, &rows, i);
            if !self.post(content).await {
                break;
            }
        }
        let mut finishing = Vec::new();
        let mut ids = Vec::new();
        for (i, shown) in self.shown.into_iter().enumerate() {
            ids.push(shown.id);
            let content = if i < view.pieces.len() {
                let last = i + 1 == view.pieces.len();
                (
                    view.pieces[i].clone(),
                    if last { rows.clone() } else { Vec::new() },
                )
            } else {
                // The answer shrank: an extra message keeps a mark instead of stale text.
                ("-# …".to_owned(), Vec::new())
            };
            finishing.push(shown.throttle.finish(content));
        }
        for report in join_all(finishing).await {
            if !report.final_delivered {
                tracing::warn!(?report, "an answer's final edit did not go through");
            }
        }
        ids
    }
}

/// Shows "typing…" in `channel` until `stop` is cancelled, from [`TYPING_AFTER`] on: a quick
/// answer needs no indicator, and under load every request counts against the bot's global
/// rate limit (a typing request per answer made first posts wait a whole second at 50 at once).
async fn keep_typing(ctx: Arc<Context>, channel: Id<ChannelMarker>, stop: CancellationToken) {
    tokio::select! {
        () = stop.cancelled() => return,
        () = tokio::time::sleep(TYPING_AFTER) => {}
    }
    while !stop.is_cancelled() {
        let typing = ctx.http.create_typing_trigger(channel);
        if let Err(error) = ctx.pacer.send(Route::typing(channel), typing).await {
            tracing::debug!(%error, "cannot show the typing indicator");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(TYPING_EVERY) => {}
        }
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
