//! Preparing a turn: the conversation and its settings, what the request asks done before the
//! model runs (store the message, find the answer to redo), the model that can answer it, and
//! the context — system prompt and as much history as fits.

use std::time::SystemTime;

use mcpcord_llm::{Message, ModelInfo, ToolSpec};
use mcpcord_memory::{
    Conversation, ConversationId, DisabledTool, MemoryError, NewMessage, Snippet, StoredMessage,
    UserId,
};
use serde_json::json;

use super::{
    Action, Asked, CONTINUE_PROMPT, Prepared, TurnState, target, to_model_message, unanswered,
};
use crate::choice::{VisionRoute, vision_route};
use crate::context::{self, Context};
use crate::error::EngineError;
use crate::events::TurnEvent;
use crate::facts::{self, FACTS_TOKENS};
use crate::memory::recall_on;
use crate::recall::{self, Recaller};
use crate::request::{TurnAction, TurnRequest};
use crate::settings::{Settings, resolve};
use crate::template::render;
use crate::tools;

/// A turn with its action done, its model picked and its memories recalled.
struct Ready {
    action: Action,
    model: String,
    info: ModelInfo,
    /// The images the model gets.
    images: Vec<String>,
    /// What was recalled from the person's other conversations.
    snippets: Vec<Snippet>,
}

impl TurnState {
    /// Everything before the first model round: the conversation and its settings, the
    /// person's message stored (or the answer to redo found), the model that can answer it,
    /// and the context.
    pub(super) async fn prepare(&mut self, request: &TurnRequest) -> Result<Prepared, EngineError> {
        self.author = request.author.id;
        self.grants = request.grants.clone();
        self.guild = request.scope.guild_id;
        let mark = |stage| crate::telemetry::latency_mark(stage, request.key.as_str());
        mark("slot");
        let (conversation, settings, disabled, recall_on) = self.load(request).await?;
        mark("loaded");
        let recaller = Recaller::new(
            self.inner.clone(),
            self.config.clone(),
            request,
            conversation.id,
            recall_on,
        );
        let Ready {
            action,
            model,
            info,
            images,
            snippets,
        } = self
            .act_pick_and_recall(request, &conversation, settings.model, recaller)
            .await?;
        mark("stored");
        tracing::Span::current().record("model", model.as_str());
        self.send(TurnEvent::Started {
            model: model.clone(),
        })
        .await;
        let builtins = self.config.memory.facts && self.author.is_some();
        let offered = tools::offered(
            builtins,
            self.inner.tools.as_ref(),
            &info,
            &disabled,
            &self.grants,
        );
        let mut history = match action.history {
            Some(history) => history,
            None => self.history(&conversation).await?,
        };
        mark("history");
        if let Some((_, replaced)) = &self.replaces {
            // The answer being written again is not part of what the model sees.
            history.retain(|m| &m.turn != replaced);
        }
        let mut messages = self
            .context(
                request,
                &settings.system_prompt,
                (&model, &info),
                &offered,
                (conversation.id, history),
                images,
                &snippets,
            )
            .await;
        messages.extend(action.extra);
        mark("context");
        Ok(Prepared {
            conversation,
            model,
            info,
            disabled,
            offered,
            messages,
        })
    }

    /// Does what the request asks before the model runs, picks the model that can answer, and
    /// recalls what the person said elsewhere. Recall runs beside the rest (bounded by its
    /// timeout): for a new message from the start; for a Regenerate or Continue once the
    /// history names the message being answered.
    async fn act_pick_and_recall(
        &mut self,
        request: &TurnRequest,
        conversation: &Conversation,
        model: String,
        recaller: Recaller,
    ) -> Result<Ready, EngineError> {
        if let Some(text) = recall::message_text(request) {
            let (ready, snippets) = tokio::join!(
                self.act_and_pick(request, conversation, model),
                recaller.gather(Some(text))
            );
            return Ok(Ready { snippets, ..ready? });
        }
        let mut action = self.take_action(request, conversation).await?;
        let text = recall::answered_text(action.history.as_deref().unwrap_or_default());
        let images = std::mem::take(&mut action.images);
        let ((model, info, images), snippets) =
            tokio::join!(self.pick_model(model, images), recaller.gather(text));
        Ok(Ready {
            action,
            model,
            info,
            images,
            snippets,
        })
    }

    /// Does what the request asks before the model runs, then picks the model that can answer.
    async fn act_and_pick(
        &mut self,
        request: &TurnRequest,
        conversation: &Conversation,
        model: String,
    ) -> Result<Ready, EngineError> {
        let mut action = self.take_action(request, conversation).await?;
        let images = std::mem::take(&mut action.images);
        let (model, info, images) = self.pick_model(model, images).await;
        Ok(Ready {
            action,
            model,
            info,
            images,
            snippets: Vec::new(),
        })
    }

    /// The conversation (created on its first turn) with a new message of the person's stored
    /// in it, the settings in effect and the tools switched off where it happens. A model
    /// chosen for a turn (`/chat model:`) becomes the conversation's.
    async fn load(
        &mut self,
        request: &TurnRequest,
    ) -> Result<(Conversation, Settings, Vec<DisabledTool>, bool), EngineError> {
        let store = &self.inner.store;
        // Independent at once (on SQLite preferences and disabled tools come from memory, and
        // the conversation with the message is one write).
        let disabled = async {
            match request.scope.channel_id {
                Some(channel) => store.disabled_tools(channel).await,
                None => Ok(Vec::new()),
            }
        };
        let ((conversation, asked), preferences, disabled, facts) = futures::try_join!(
            conversation_of(store, request),
            store.get_preferences(&request.scope),
            disabled,
            facts_of(store, request, self.config.memory.facts),
        )?;
        self.asked = asked;
        self.known = facts;
        let recall_on = recall_on(&preferences, &self.config.memory);
        let settings = resolve(
            &preferences,
            request.model.as_deref(),
            conversation.model.as_deref(),
            &self.config,
        );
        if let Some(chosen) = &request.model
            && conversation.model.as_ref() != Some(chosen)
        {
            store.set_model(conversation.id, Some(chosen)).await?;
        }
        Ok((conversation, settings, disabled, recall_on))
    }

    /// Does what the request asks before the model runs (a new message was stored with the
    /// conversation): finds the answer a Regenerate or Continue acts on (reading the history
    /// once, kept for the context).
    async fn take_action(
        &mut self,
        request: &TurnRequest,
        conversation: &Conversation,
    ) -> Result<Action, EngineError> {
        let mut action = Action::default();
        match &request.action {
            TurnAction::Message(message) => {
                action.images = message.images.clone();
                action.history = self.asked.as_mut().and_then(|asked| asked.fresh.take());
            }
            TurnAction::Regenerate { answer } => {
                action.history = Some(self.find_regenerated(conversation, *answer).await?);
            }
            TurnAction::Continue { answer } => {
                let history = self.history(conversation).await?;
                target(&history, *answer, "continue")?;
                action.history = Some(history);
                action.extra = Some(Message::user(CONTINUE_PROMPT));
            }
        }
        Ok(action)
    }

    /// Finds the answer a Regenerate writes anew (remembered in `replaces`); after a turn that
    /// stored no answer (it failed), the person's message is simply answered again. Gives the
    /// history it read.
    async fn find_regenerated(
        &mut self,
        conversation: &Conversation,
        answer: Option<mcpcord_memory::MessageId>,
    ) -> Result<Vec<StoredMessage>, EngineError> {
        let history = self.history(conversation).await?;
        if answer.is_some() || !unanswered(&history) {
            let old = target(&history, answer, "regenerate")?;
            self.replaces = Some((old.id, old.turn.clone()));
        }
        Ok(history)
    }

    /// The conversation's history, up to `history_limit` messages, ending with the person's
    /// message of this turn (which the read may not show yet: its write may still be queued).
    async fn history(
        &self,
        conversation: &Conversation,
    ) -> Result<Vec<StoredMessage>, EngineError> {
        let limit = self.config.history_limit as usize;
        let mut history = self.inner.store.history(conversation.id, limit).await?;
        if let Some(asked) = &self.asked
            && !history.iter().any(|m| m.id == asked.message.id)
        {
            history.push(asked.message.clone());
            let over = history.len().saturating_sub(limit.max(1));
            history.drain(..over);
        }
        Ok(history)
    }

    /// The model that answers, what is known of it, and the images it gets: a model that cannot
    /// see hands images to the vision model, or answers without them (saying so).
    async fn pick_model(
        &self,
        model: String,
        mut images: Vec<String>,
    ) -> (String, ModelInfo, Vec<String>) {
        let info = self.model_info(&model).await;
        if images.is_empty() {
            return (model, info, images);
        }
        match vision_route(&info, self.config.vision_model.as_deref()) {
            VisionRoute::Keep => (model, info, images),
            VisionRoute::Switch(vision) => {
                self.notice(format!(
                    "{model} cannot see images; {vision} answers this one"
                ))
                .await;
                let info = self.model_info(&vision).await;
                (vision, info, images)
            }
            VisionRoute::Unsupported => {
                self.notice(format!("{model} cannot see images, and no vision model is configured: the images were left out")).await;
                images.clear();
                (model, info, images)
            }
        }
    }

    /// What the backends say of `model` (its name alone when they cannot say).
    async fn model_info(&self, model: &str) -> ModelInfo {
        self.inner
            .pool
            .model_info(model)
            .await
            .unwrap_or_else(|_| ModelInfo::named(model))
    }

    /// The messages for the first round: system prompt (with what was recalled from other
    /// conversations, and the asker's facts in this scope) and as much history as fits.
    #[allow(clippy::too_many_arguments)]
    async fn context(
        &self,
        request: &TurnRequest,
        template: &str,
        (model, info): (&str, &ModelInfo),
        offered: &[ToolSpec],
        (conversation, history): (ConversationId, Vec<StoredMessage>),
        images: Vec<String>,
        recalled: &[Snippet],
    ) -> Vec<Message> {
        let config = self.config.clone();
        let mut system = render(template, &request.place, SystemTime::now());
        let length = info
            .context_length
            .unwrap_or(config.fallback_context_length)
            .min(config.max_context);
        let memory_budget = (config.memory.recall_tokens as usize).min(length as usize / 8);
        if let Some(block) = recall::block(recalled, &self.inner.estimator, model, memory_budget) {
            system.push_str("\n\n");
            system.push_str(&block);
        }
        let facts_budget = FACTS_TOKENS.min(length as usize / 16);
        if let Some(block) = facts::block(&self.known, &self.inner.estimator, model, facts_budget) {
            system.push_str("\n\n");
            system.push_str(&block);
        }
        // In a shared channel the model must know who says what; alone with one person the
        // names are noise (small models even start imitating them).
        let attribute = request.scope.guild_id.is_some();
        let mut converted: Vec<Message> = history
            .iter()
            .map(|m| to_model_message(m, attribute))
            .collect();
        if let Some(last) = converted
            .last_mut()
            .filter(|m| m.role == mcpcord_llm::Role::User)
        {
            last.images = images;
        }
        let budget = (length as usize)
            .saturating_sub(config.reserved_answer_tokens as usize)
            .saturating_sub(self.inner.estimator.tools_tokens(model, offered));
        let system = Message::system(system);
        let kept = context::fitting(&self.inner.estimator, model, &system, &converted, budget);
        if kept < converted.len() && config.memory.summaries {
            return self
                .summarised_context(
                    conversation,
                    model,
                    system.content,
                    (&history, converted),
                    budget,
                )
                .await;
        }
        let Context { messages, left_out } = context::keep(system, converted, kept);
        if left_out > 0 {
            self.notice(format!(
                "{left_out} earlier message(s) did not fit in {model}'s context and were left out"
            ))
            .await;
        }
        messages
    }
}

/// The person's message as stored (how many images it had, not the images).
fn stored_message(request: &TurnRequest, message: &crate::request::UserMessage) -> NewMessage {
    let mut stored = NewMessage::user(message.model_text()).with_author(
        request.author.id.unwrap_or(UserId::new(0)),
        &request.author.name,
    );
    if !message.images.is_empty() {
        stored = stored.with_attachments(json!({ "images": message.images.len() }));
    }
    stored
}

/// The asker's facts in the request's scope (its guild, or their DMs), for the system prompt:
/// read only when facts are `on` (one indexed query beside the others; not kept in memory).
async fn facts_of(
    store: &mcpcord_memory::Store,
    request: &TurnRequest,
    on: bool,
) -> Result<Vec<mcpcord_memory::Fact>, MemoryError> {
    match request.author.id {
        Some(user) if on => store.facts(user, request.scope.guild_id).await,
        _ => Ok(Vec::new()),
    }
}

/// The request's conversation (created if new); for a new message, the message given to the
/// store with it (its write possibly still queued).
async fn conversation_of(
    store: &mcpcord_memory::Store,
    request: &TurnRequest,
) -> Result<(Conversation, Option<Asked>), MemoryError> {
    let (key, scope, owner) = (&request.key, request.scope, request.author.id);
    let TurnAction::Message(message) = &request.action else {
        return Ok((store.conversation(key, scope, owner).await?, None));
    };
    let message = stored_message(request, message);
    let (started, written) = store
        .conversation_with_message_queued(key, scope, owner, message)
        .await?;
    let asked = Asked {
        fresh: started.created.then(|| vec![started.message.clone()]),
        message: started.message,
        written: Some(written),
    };
    Ok((started.conversation, Some(asked)))
}
