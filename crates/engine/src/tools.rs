//! The engine's side of tool calls: which tools the model is offered, and running one call with
//! its events, approval and input requests routed to the person whose turn it is.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use mcpcord_llm::{Capability, ModelInfo, ToolCall, ToolSpec};
use mcpcord_mcp::{
    Approval as HostApproval, ApprovalRequest as HostApprovalRequest, CallOptions, InputAnswer,
    InputRequest, McpHost, ToolProgress,
};
use mcpcord_memory::{ConversationId, DisabledTool, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::engine::Inner;
use crate::events::{Approval, ApprovalRequest, InputPrompt, TurnEvent};
use crate::grants::Grants;
use crate::slot::Slot;

/// Longest summary of a tool result shown to people.
const SUMMARY_CHARS: usize = 120;

/// The tools offered to a model: none if it cannot call tools, none of those `disabled`
/// (by server and tool, whatever name the model sees) in the turn's channel, and none the
/// person may not use (`grants`).
pub(crate) fn offered(
    host: Option<&McpHost>,
    info: &ModelInfo,
    disabled: &[DisabledTool],
    grants: &Grants,
) -> Vec<ToolSpec> {
    let Some(host) = host else { return Vec::new() };
    if !info.can(Capability::Tools) {
        return Vec::new();
    }
    host.tools()
        .into_iter()
        .filter(|t| !is_disabled(disabled, &t.server, &t.tool))
        .filter(|t| grants.may_use_tool(&t.server, &t.tool))
        .map(|t| ToolSpec {
            name: t.name,
            description: t.description,
            parameters: t.input_schema,
        })
        .collect()
}

/// Whether `server`'s `tool` is among the `disabled`.
fn is_disabled(disabled: &[DisabledTool], server: &str, tool: &str) -> bool {
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
    /// Given back while a person is asked.
    pub(crate) slot: Slot,
    pub(crate) vision: bool,
    /// Tools turned off in the turn's channel, by server and tool: calls to them are refused.
    pub(crate) disabled: Vec<DisabledTool>,
    /// What the asker may use: calls to other tools are refused.
    pub(crate) grants: Grants,
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
        let options = CallOptions::default()
            .with_cancel(self.cancel.clone())
            .with_progress(progress_sink)
            .with_approver(self.approver(index))
            .with_input(self.input_handler(index));
        let outcome = host
            .call_tool(&call.name, call.arguments.clone(), options)
            .await;
        let _ = forward.await;
        let label = crate::telemetry::tool_outcome(&outcome);
        crate::telemetry::tool_call(&server, &tool, label, started.elapsed());
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
    async fn refuse(
        &self,
        index: usize,
        server: String,
        tool: String,
        call: &ToolCall,
        why: Refusal,
    ) -> CallResult {
        crate::telemetry::tool_call(&server, &tool, "refused", std::time::Duration::ZERO);
        record_refusal(self.user, &server, &tool, why);
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

    /// Asks the person through the turn's events; remembers "always" for the conversation.
    fn approver(&self, index: usize) -> impl mcpcord_mcp::Approver {
        let events = self.events.clone();
        let inner = self.inner.clone();
        let remembered = (self.conversation, self.user);
        let slot = self.slot.clone();
        move |request: HostApprovalRequest| {
            let events = events.clone();
            let inner = inner.clone();
            let slot = slot.clone();
            async move {
                let key = format!("{}/{}", request.server, request.tool);
                let allowed = inner
                    .always_allowed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&remembered)
                    .is_some_and(|tools| tools.contains(&key));
                if allowed {
                    return HostApproval::Approved;
                }
                let (reply, answer) = oneshot::channel();
                let asked = events
                    .send(TurnEvent::ApprovalNeeded(ApprovalRequest {
                        call: index,
                        server: request.server.clone(),
                        tool: request.tool.clone(),
                        arguments: request.arguments.clone(),
                        reply,
                    }))
                    .await;
                match (asked, slot.released_while(answer).await) {
                    (Ok(()), Ok(Approval::Approve)) => HostApproval::Approved,
                    (Ok(()), Ok(Approval::AlwaysInConversation)) => {
                        inner
                            .always_allowed
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .entry(remembered)
                            .or_default()
                            .insert(key);
                        HostApproval::Approved
                    }
                    (Ok(()), Ok(Approval::Deny)) => HostApproval::Denied {
                        reason: Some("the user denied this call".into()),
                    },
                    // Nobody answered (the front end went away or the question timed out).
                    _ => HostApproval::Denied {
                        reason: Some("nobody approved this call".into()),
                    },
                }
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

/// Records a tool call refused before it reached its server: the one place every engine-side
/// refusal goes through (logged now; the audit log records it once it exists).
pub(crate) fn record_refusal(user: Option<UserId>, server: &str, tool: &str, why: Refusal) {
    let reason = match why {
        Refusal::Disabled => "disabled in this channel",
        Refusal::NotGranted => "not granted to the asker's roles",
    };
    tracing::info!(
        user = user.map(|u| u.get()),
        server,
        tool,
        reason,
        "tool call refused"
    );
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

fn text(content: String) -> CallResult {
    CallResult {
        content,
        images: Vec::new(),
    }
}

/// The first line of a result, shortened for display.
fn summary(content: &str) -> String {
    let line = content.lines().next().unwrap_or_default();
    if line.chars().count() > SUMMARY_CHARS {
        format!("{}…", line.chars().take(SUMMARY_CHARS).collect::<String>())
    } else {
        line.to_string()
    }
}
