//! Rendering one turn in Discord: a typing indicator until there is something to show, then one
//! message per piece of the answer (the first held for a short window, [`crate::first_post`],
//! so that a quick answer is a single create), each edited through its own [`EditThrottle`] as
//! the answer grows; the controls ride on the last message only; a final edit when the turn ends.
//! Every request goes through the [`Pacer`](crate::pacer::Pacer).
//!
//! The turns themselves (their registry, shared state and open questions) live in
//! [`crate::turns`]; button presses change an entry through its methods and poke the renderer,
//! which shows the change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use mcpcord_engine::{MessageId, PostId, Turn, TurnEvent, TurnRequest};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use twilight_model::channel::message::Component;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker, UserMarker};

use crate::bot::Context;
use crate::first_post::FirstPost;
use crate::ids::ToEngine;
use crate::mentions::no_pings;
use crate::pacer::Route;
use crate::render::{ToolStatus, View};
use crate::throttle::{EditOutcome, EditThrottle};
pub use crate::turns::{
    Busy, KEEP_TURNS, Origin, PendingInput, Registry, TurnEntry, TurnState, room_for,
};

/// How long an answer may take to show its first words before a typing indicator appears.
pub const TYPING_AFTER: Duration = Duration::from_millis(500);

/// How often a typing indicator is renewed (Discord shows one for about 10 s).
pub const TYPING_EVERY: Duration = Duration::from_secs(8);

/// How often running tool lines are redrawn (their time grows).
pub const TOOL_TICK: Duration = Duration::from_secs(1);

/// What one message shows: its text and its components.
pub type Content = (String, Vec<Component>);

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

/// Answers a message the bot will not take up (the content policy refused it) with a short
/// reply saying why: a message has no ephemeral form, and a reaction alone would not say
/// which rule to mind. The reply names the rule, never the words that matched, and pings
/// nobody.
pub async fn refuse(
    ctx: &Context,
    channel: Id<ChannelMarker>,
    message: Id<MessageMarker>,
    says: &str,
) {
    let mentions = no_pings();
    let request = ctx
        .http
        .create_message(channel)
        .content(says)
        .allowed_mentions(Some(&mentions))
        .reply(message)
        .fail_if_not_exists(false);
    if let Err(error) = ctx
        .pacer
        .send(Route::create_message(channel), request)
        .await
    {
        tracing::warn!(%error, "cannot say why a message was refused");
    }
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
        ctx.config().first_post_window,
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
        let ticking = renderer.ticking();
        let first_check = renderer.first_check();
        tokio::select! {
            event = turn.next() => match event {
                Some(event) => {
                    // What else has arrived is taken in too: one redraw for all of it.
                    let mut next = Some(event);
                    while let Some(event) = next {
                        if let TurnEvent::Done(summary) = &event {
                            stored = summary.message_id;
                            renderer.entry.lock().stored = stored;
                        }
                        renderer.absorb(event);
                        next = turn.next_ready();
                    }
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
    renderer.close(stored).await;
}

impl Renderer {
    /// Whether a tool is running (its line shows a growing time).
    fn ticking(&self) -> bool {
        self.entry
            .lock()
            .answer
            .tools()
            .iter()
            .any(|t| !matches!(t.status, ToolStatus::Finished { .. }))
    }

    /// While the first message is held, when it may become due.
    fn first_check(&self) -> Option<tokio::time::Instant> {
        if self.shown.is_empty() {
            self.first.next_check(tokio::time::Instant::now())
        } else {
            None
        }
    }

    /// The turn's events ended: its final edit, its open questions withdrawn, its messages
    /// remembered, and (for a stored answer) recorded through the engine.
    async fn close(self, stored: Option<MessageId>) {
        let view = {
            let mut state = self.entry.lock();
            // Events ended without Done or Failed: the turn was cut.
            state.answer.interrupt();
            state.answer.view(now())
        };
        // Nobody can decide any more: pending approvals deny, pending forms decline.
        self.entry.withdraw_all();
        let (ctx, entry) = (self.ctx.clone(), self.entry.clone());
        let rows = self.rows(&view);
        let ids = self.finish(&view).await;
        {
            let mut state = entry.lock();
            state.messages.clone_from(&ids);
            state.finished = true;
        }
        let Some(stored) = stored.filter(|_| !ids.is_empty()) else {
            return;
        };
        let posts: Vec<PostId> = ids.iter().map(|id| id.to_engine()).collect();
        if let Err(error) = ctx.engine.record_posts(stored, &posts).await {
            tracing::warn!(%error, "cannot record the answer's Discord messages");
        }
        // Shown and recorded: only now, off the answer's path, a related conversation.
        if let Some(last) = ids.last() {
            crate::related::offer(&ctx, &entry, stored, *last, rows).await;
        }
    }

    /// Takes an event into the shared state.
    fn absorb(&mut self, event: TurnEvent) {
        let mut state = self.entry.lock();
        state.answer.apply(&event, now());
        // A spent budget is a refusal, not a failure: no error id to quote.
        if let TurnEvent::Failed(error) = &event
            && crate::budget::refusal(error).is_none()
        {
            let id = crate::middleware::error_id();
            tracing::warn!(error_id = %id, %error, detail = ?error, "an answer failed");
            state.answer.tag_failure(&id);
        }
        drop(state);
        let timeout = self.ctx.config().approval_timeout;
        match event {
            TurnEvent::ApprovalNeeded(request) => {
                let call = u32::try_from(request.call).unwrap_or(u32::MAX);
                self.entry
                    .ask_approval(call, request.reply, request.approver, timeout);
            }
            TurnEvent::InputRequested(prompt) => {
                let call = u32::try_from(prompt.call).unwrap_or(u32::MAX);
                let input = PendingInput {
                    request: prompt.request,
                    reply: prompt.reply,
                };
                self.entry.ask_input(call, input, timeout);
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
        self.ctx.recent.remember(id, self.entry.origin.key.clone());
        let throttle = EditThrottle::spawn(
            channel.get(),
            content,
            self.ctx.config().throttle,
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
