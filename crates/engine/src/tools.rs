//! The engine's side of tool calls: which tools the model is offered, and running one call with
//! its events, approval and input requests routed to the person whose turn it is.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use mcpcord_llm::{Capability, ModelInfo, ToolCall, ToolSpec};
use mcpcord_mcp::{
    Approval as HostApproval, ApprovalRequest as HostApprovalRequest, CallOptions, InputAnswer,
    InputRequest, McpHost, ToolProgress,
};
use mcpcord_memory::{AuditEntry, ConversationId, DisabledTool, GuildId, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Inner};
use crate::events::{Approval, ApprovalRequest, InputPrompt, TurnEvent};
use crate::grants::Grants;
use crate::slot::Slot;

/// Longest summary of a tool result shown to people.
const SUMMARY_CHARS: usize = 120;

/// The tools offered to a model: none if it cannot call tools, none of those `disabled`
/// (by server and tool, whatever name the model sees) in the turn's channel, and none the
/// person may not use (`grants`); the built-in tools first when `builtins` (see `builtin.rs`).
pub(crate) fn offered(
    builtins: bool,
    host: Option<&McpHost>,
    info: &ModelInfo,
    disabled: &[DisabledTool],
    grants: &Grants,
) -> Vec<ToolSpec> {
    if !info.can(Capability::Tools) {
        return Vec::new();
    }
    let mut specs = if builtins {
        crate::builtin::offered(disabled, grants)
    } else {
        Vec::new()
    };
    let Some(host) = host else { return specs };
    specs.extend(
        host.tools()
            .into_iter()
            .filter(|t| !crate::builtin::reserved(&t.name))
            .filter(|t| !is_disabled(disabled, &t.server, &t.tool))
            .filter(|t| grants.may_use_tool(&t.server, &t.tool))
            .map(|t| ToolSpec {
                name: t.name,
                description: t.description,
                parameters: t.input_schema,
            }),
    );
    specs
}

/// Whether `server`'s `tool` is among the `disabled`.
pub(crate) fn is_disabled(disabled: &[DisabledTool], server: &str, tool: &str) -> bool {
    disabled.iter().any(|d| d.matches(server, tool))
}

/// What a tool call gives back to the model.
pub(crate) struct CallResult {
    pub(crate) content: String,
    pub(crate) images: Vec<String>,
}

/// Runs the tool calls of one round.
pub(crate) struct ToolRun {
    pub(crate) host: Option<McpHost>,
    pub(crate) events: mpsc::Sender<TurnEvent>,
    pub(crate) cancel: CancellationToken,
    pub(crate) inner: Arc<Inner>,
    pub(crate) conversation: ConversationId,
    /// Whose turn it is.
    pub(crate) user: Option<UserId>,
    /// The guild the turn is in, if any.
    pub(crate) guild: Option<GuildId>,
    /// Given back while a person is asked.
    pub(crate) slot: Slot,
    pub(crate) vision: bool,
    /// Tools turned off in the turn's channel, by server and tool: calls to them are refused.
    pub(crate) disabled: Vec<DisabledTool>,
    /// What the asker may use: calls to other tools are refused.
    pub(crate) grants: Grants,
    /// The person's message the turn answers (the provenance of a fact remembered).
    pub(crate) asked: Option<mcpcord_memory::MessageId>,
}

/// Why a tool call was refused before it reached its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Turned off in the turn's channel.
    Disabled,
    /// The asker's roles do not allow it.
    NotGranted,
}

impl ToolRun {
    /// Runs call number `index` of the turn, reporting it as it goes.
    pub(crate) async fn call(&self, index: usize, call: ToolCall) -> CallResult {
        if let Some(builtin) = crate::builtin::Builtin::named(&call.name) {
            return self.builtin(index, builtin, &call).await;
        }
        let Some(host) = &self.host else {
            return text(format!("Error: there is no tool named {}", call.name));
        };
        let (server, tool) = host
            .catalogue()
            .get(&call.name)
            .map(|d| (d.server.clone(), d.tool.clone()))
            .unwrap_or_else(|| (String::new(), call.name.clone()));
        if is_disabled(&self.disabled, &server, &tool) {
            return self
                .refuse(index, server, tool, &call, Refusal::Disabled)
                .await;
        }
        if !self.grants.may_use_tool(&server, &tool) {
            return self
                .refuse(index, server, tool, &call, Refusal::NotGranted)
                .await;
        }
        let _ = self
            .events
            .send(TurnEvent::ToolStarted {
                call: index,
                server: server.clone(),
                tool: tool.clone(),
                arguments: call.arguments.clone(),
            })
            .await;
        let started = Instant::now();
        let (progress_sink, progress) = mpsc::unbounded_channel();
        let forward = tokio::spawn(forward_progress(index, progress, self.events.clone()));
        let decision = Arc::new(Mutex::new(None));
        let options = CallOptions::default()
            .with_cancel(self.cancel.clone())
            .with_progress(progress_sink)
            .with_approver(self.approver(index, decision.clone()))
            .with_input(self.input_handler(index));
        let outcome = host
            .call_tool(&call.name, call.arguments.clone(), options)
            .await;
        let _ = forward.await;
        let label = crate::telemetry::tool_outcome(&outcome);
        crate::telemetry::tool_call(&server, &tool, label, started.elapsed());
        let decision = decision.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.audit(&server, &tool, &call, decision, label);
        let (ok, content, images) = match outcome {
            Ok(output) if output.is_error => (false, format!("Error: {}", output.text), Vec::new()),
            Ok(output) => {
                let images = if self.vision {
                    output
                        .images
                        .iter()
                        .map(|i| base64::engine::general_purpose::STANDARD.encode(&i.data))
                        .collect()
                } else {
                    Vec::new()
                };
                (true, output.text, images)
            }
            Err(error) => (
                false,
                format!("Error: {}", error.model_message()),
                Vec::new(),
            ),
        };
        let _ = self
            .events
            .send(TurnEvent::ToolFinished {
                call: index,
                ok,
                elapsed: started.elapsed(),
                summary: summary(&content),
            })
            .await;
        CallResult { content, images }
    }

    /// Refuses a call to a tool turned off in this channel or not granted to the asker (a model
    /// may call a tool it was not offered, from history or by guessing), reporting it like a
    /// failed call.
    pub(crate) async fn refuse(
        &self,
        index: usize,
        server: String,
        tool: String,
        call: &ToolCall,
        why: Refusal,
    ) -> CallResult {
        crate::telemetry::tool_call(&server, &tool, "refused", std::time::Duration::ZERO);
        let outcome = match why {
            Refusal::Disabled => "refused",
            Refusal::NotGranted => "refused_by_role",
        };
        self.audit(&server, &tool, call, None, outcome);
        let _ = self
            .events
            .send(TurnEvent::ToolStarted {
                call: index,
                server,
                tool,
                arguments: call.arguments.clone(),
            })
            .await;
        let content = match why {
            Refusal::Disabled => format!(
                "Error: the tool {} is disabled in this channel by an administrator",
                call.name
            ),
            Refusal::NotGranted => format!(
                "Error: the person asking may not use the tool {} (their roles do not allow it)",
                call.name
            ),
        };
        let _ = self
            .events
            .send(TurnEvent::ToolFinished {
                call: index,
                ok: false,
                elapsed: std::time::Duration::ZERO,
                summary: summary(&content),
            })
            .await;
        text(content)
    }

    /// Records the call in the audit log: who asked, where, which tool, the digest of its
    /// arguments, the approval decision when one was asked for (and whose it was), and how it
    /// ended (`outcome`: the same label as the tool-call metric).
    pub(crate) fn audit(
        &self,
        server: &str,
        tool: &str,
        call: &ToolCall,
        decision: Option<Decision>,
        outcome: &str,
    ) {
        let mut entry = AuditEntry::tool_call(self.user, self.guild, server, tool, &call.arguments)
            .with_detail("outcome", outcome);
        if let Some(decision) = decision {
            entry = entry.with_detail("approval", decision.answer).with_detail(
                "approved_by",
                decision.by.map(|user| user.get().to_string()),
            );
        }
        Engine::from_inner(self.inner.clone()).audit(entry);
    }

    /// Sends `event` to the front end (one that went away does not stop the call).
    pub(crate) async fn send(&self, event: TurnEvent) {
        let _ = self.events.send(event).await;
    }

    /// Asks the person through the turn's events; remembers "always" for the conversation.
    /// What was decided, and by whom, goes into `decision` for the audit log.
    fn approver(
        &self,
        index: usize,
        decision: Arc<Mutex<Option<Decision>>>,
    ) -> impl mcpcord_mcp::Approver {
        let events = self.events.clone();
        let inner = self.inner.clone();
        let remembered = (self.conversation, self.user);
        let slot = self.slot.clone();
        move |request: HostApprovalRequest| {
            let events = events.clone();
            let inner = inner.clone();
            let slot = slot.clone();
            let decision = decision.clone();
            async move {
                let (approval, answer) =
                    ask(&inner, &events, &slot, remembered, index, request).await;
                *decision.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer);
                approval
            }
        }
    }

    /// Passes a server's input request to the person; declines when nobody can answer.
    fn input_handler(&self, index: usize) -> impl mcpcord_mcp::InputHandler {
        let events = self.events.clone();
        let slot = self.slot.clone();
        move |request: InputRequest| {
            let events = events.clone();
            let slot = slot.clone();
            async move {
                let (reply, answer) = oneshot::channel();
                let asked = events
                    .send(TurnEvent::InputRequested(InputPrompt {
                        call: index,
                        request,
                        reply,
                    }))
                    .await;
                match (asked, slot.released_while(answer).await) {
                    (Ok(()), Ok(answer)) => answer,
                    _ => InputAnswer::Decline,
                }
            }
        }
    }
}

/// An approval decision, for the audit log.
pub(crate) struct Decision {
    /// `approved`, `always` (given now), `remembered` (an earlier "always"), `denied`, or
    /// `unanswered`.
    answer: &'static str,
    /// Who decided: who pressed (the front end says; else the person whose turn it is), none
    /// when nobody answered.
    by: Option<UserId>,
}

/// Asks the person whose turn it is (`remembered`: the conversation and that person) whether
/// `request` may run, unless they said "always" for it earlier; remembers a new "always".
async fn ask(
    inner: &Inner,
    events: &mpsc::Sender<TurnEvent>,
    slot: &Slot,
    remembered: crate::engine::AlwaysKey,
    index: usize,
    request: HostApprovalRequest,
) -> (HostApproval, Decision) {
    let person = remembered.1;
    let decided = |answer, by| Decision { answer, by };
    let key = format!("{}/{}", request.server, request.tool);
    let allowed = inner
        .always_allowed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&remembered)
        .is_some_and(|tools| tools.contains(&key));
    if allowed {
        return (HostApproval::Approved, decided("remembered", person));
    }
    let (reply, answer) = oneshot::channel();
    let approver = crate::events::Approver::default();
    let asked = events
        .send(TurnEvent::ApprovalNeeded(ApprovalRequest {
            call: index,
            server: request.server.clone(),
            tool: request.tool.clone(),
            arguments: request.arguments.clone(),
            reply,
            approver: approver.clone(),
        }))
        .await;
    let decided = |answer, by: Option<UserId>| decided(answer, approver.get().or(by));
    match (asked, slot.released_while(answer).await) {
        (Ok(()), Ok(Approval::Approve)) => (HostApproval::Approved, decided("approved", person)),
        (Ok(()), Ok(Approval::AlwaysInConversation)) => {
            inner
                .always_allowed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(remembered)
                .or_default()
                .insert(key);
            (HostApproval::Approved, decided("always", person))
        }
        (Ok(()), Ok(Approval::Deny)) => (
            HostApproval::Denied {
                reason: Some("the user denied this call".into()),
            },
            decided("denied", person),
        ),
        // Nobody answered (the front end went away or the question timed out).
        _ => (
            HostApproval::Denied {
                reason: Some("nobody approved this call".into()),
            },
            decided("unanswered", None),
        ),
    }
}

async fn forward_progress(
    index: usize,
    mut progress: mpsc::UnboundedReceiver<ToolProgress>,
    events: mpsc::Sender<TurnEvent>,
) {
    while let Some(p) = progress.recv().await {
        let _ = events
            .send(TurnEvent::ToolProgress {
                call: index,
                progress: p.progress,
                total: p.total,
                message: p.message,
            })
            .await;
    }
}

/// A result of text alone.
pub(crate) fn text(content: String) -> CallResult {
    CallResult {
        content,
        images: Vec::new(),
    }
}

/// The first line of a result, shortened for display.
pub(crate) fn summary(content: &str) -> String {
    let line = content.lines().next().unwrap_or_default();
    if line.chars().count() > SUMMARY_CHARS {
        format!("{}…", line.chars().take(SUMMARY_CHARS).collect::<String>())
    } else {
        line.to_string()
    }
}
