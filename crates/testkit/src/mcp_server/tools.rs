//! The test server's tools, one method each, collected by rmcp's `#[tool_router]`.
//!
//! Arguments that do not match a tool's schema (a string for a number, a missing field) come
//! back from rmcp's router as an `isError` result the model can read, not as a protocol error.

use std::time::Duration;

use base64::Engine as _;
use rmcp::{
    ErrorData, Peer, RoleServer,
    handler::server::{
        tool::{InputResponses, RequestState},
        wrapper::Parameters,
    },
    model::{
        CallToolResponse, CallToolResult, ContentBlock, ProgressNotificationParam,
        RequestMetaObject,
    },
    schemars::{self, JsonSchema},
    service::RequestContext,
    tool, tool_router,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{CrashMode, TestMcpServer, ask, image::TEST_PNG, log};

/// Size of the `large_output` text when the call names none: 1 MiB.
pub const DEFAULT_LARGE_OUTPUT_SIZE: usize = 1024 * 1024;
/// Largest `large_output` the server agrees to produce: 64 MiB.
pub const MAX_LARGE_OUTPUT_SIZE: usize = 64 * 1024 * 1024;
/// Name of the tool that `toggle_extra` adds to and removes from the tool list.
pub const EXTRA_TOOL: &str = "extra";

const DEFAULT_CRASH_CODE: i32 = 3;
const DEFAULT_PROGRESS_STEPS: u32 = 5;
const DEFAULT_PROGRESS_DELAY_MS: u64 = 20;
const MAX_PROGRESS_STEPS: u32 = 1000;
const LARGE_OUTPUT_PATTERN: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz\n";

#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back unchanged.
    text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct DeleteArgs {
    /// What to pretend to delete.
    item: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct AddArgs {
    /// The first number.
    a: f64,
    /// The second number.
    b: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct SleepArgs {
    /// How long to sleep, in milliseconds.
    ms: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct CrashArgs {
    /// The process exit status (default 3).
    #[serde(default)]
    code: Option<i32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct LargeOutputArgs {
    /// How many bytes of ASCII text to return (default 1048576).
    #[serde(default)]
    size: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ProgressArgs {
    /// How many progress notifications to send (default 5).
    #[serde(default)]
    steps: Option<u32>,
    /// Pause after each notification, in milliseconds (default 20).
    #[serde(default)]
    delay_ms: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct AskArgs {
    /// The question shown to the user (default "What is your name?").
    #[serde(default)]
    question: Option<String>,
}

#[tool_router(vis = "pub(super)")]
impl TestMcpServer {
    /// Returns `text` unchanged.
    #[tool(description = "Return the given text unchanged.")]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    /// The one tool with annotations: it says it is destructive (and deletes nothing).
    #[tool(
        description = "Pretend to delete the named item. Annotated destructive; deletes nothing.",
        annotations(read_only_hint = false, destructive_hint = true)
    )]
    fn delete(&self, Parameters(DeleteArgs { item }): Parameters<DeleteArgs>) -> String {
        format!("deleted {item} (not really)")
    }

    /// Adds two numbers.
    #[tool(description = "Add two numbers a and b and return the sum.")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> String {
        (a + b).to_string()
    }

    /// Sleeps, unless the client cancels the call first.
    #[tool(description = "Sleep for ms milliseconds, then say so. Stops early when cancelled.")]
    async fn sleep(
        &self,
        Parameters(SleepArgs { ms }): Parameters<SleepArgs>,
        cancelled: CancellationToken,
    ) -> Result<String, ErrorData> {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(ms)) => Ok(format!("slept {ms} ms")),
            () = cancelled.cancelled() => {
                self.count_cancelled_call();
                log(format_args!("sleep of {ms} ms cancelled by the client"));
                Err(ErrorData::internal_error("cancelled by the client", None))
            }
        }
    }

    /// Exits the process abruptly (in the binary) or refuses (in-process).
    #[tool(description = "Exit the server process abruptly, without answering.")]
    fn crash(&self, Parameters(CrashArgs { code }): Parameters<CrashArgs>) -> CallToolResult {
        match self.crash_mode() {
            CrashMode::Exit(default_code) => {
                let code = code.unwrap_or(default_code);
                log(format_args!("crashing on purpose with exit status {code}"));
                std::process::exit(code)
            }
            CrashMode::Refuse => CallToolResult::error(vec![ContentBlock::text(format!(
                "crash is disabled for this in-process server (it would have exited with status {})",
                code.unwrap_or(DEFAULT_CRASH_CODE)
            ))]),
        }
    }

    /// Returns `size` bytes of text.
    #[tool(description = "Return size bytes of ASCII text (default 1 MiB).")]
    fn large_output(
        &self,
        Parameters(LargeOutputArgs { size }): Parameters<LargeOutputArgs>,
    ) -> CallToolResult {
        let size = size.unwrap_or(DEFAULT_LARGE_OUTPUT_SIZE);
        if size > MAX_LARGE_OUTPUT_SIZE {
            return CallToolResult::error(vec![ContentBlock::text(format!(
                "size {size} is larger than the limit of {MAX_LARGE_OUTPUT_SIZE} bytes"
            ))]);
        }
        let text: String = LARGE_OUTPUT_PATTERN
            .iter()
            .cycle()
            .take(size)
            .map(|&byte| char::from(byte))
            .collect();
        CallToolResult::success(vec![ContentBlock::text(text)])
    }

    /// Returns a small PNG as image content.
    #[tool(description = "Return a small 2x2 PNG image.")]
    fn image(&self) -> CallToolResult {
        let data = base64::engine::general_purpose::STANDARD.encode(TEST_PNG);
        CallToolResult::success(vec![ContentBlock::image(data, "image/png")])
    }

    /// Sends `notifications/progress` several times, then returns.
    #[tool(
        description = "Report progress several times (when the client sent a progress token), then finish."
    )]
    async fn progress(
        &self,
        Parameters(ProgressArgs { steps, delay_ms }): Parameters<ProgressArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
        cancelled: CancellationToken,
    ) -> CallToolResult {
        let steps = steps.unwrap_or(DEFAULT_PROGRESS_STEPS);
        if steps > MAX_PROGRESS_STEPS {
            return CallToolResult::error(vec![ContentBlock::text(format!(
                "steps {steps} is more than the limit of {MAX_PROGRESS_STEPS}"
            ))]);
        }
        let delay = Duration::from_millis(delay_ms.unwrap_or(DEFAULT_PROGRESS_DELAY_MS));
        let token = meta.get_progress_token();
        let mut sent = 0;
        for step in 1..=steps {
            if let Some(token) = &token {
                let notification = ProgressNotificationParam::new(token.clone(), f64::from(step))
                    .with_total(f64::from(steps))
                    .with_message(format!("step {step} of {steps}"));
                if peer.notify_progress(notification).await.is_ok() {
                    sent += 1;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancelled.cancelled() => {
                    self.count_cancelled_call();
                    return CallToolResult::error(vec![ContentBlock::text("cancelled")]);
                }
            }
        }
        CallToolResult::success(vec![ContentBlock::text(format!(
            "finished {steps} steps, sent {sent} progress notifications"
        ))])
    }

    /// Asks the user a question through elicitation (form mode) and reports the answer.
    #[tool(
        description = "Ask the user a question (elicitation, form mode, one field `name`) and return the answer."
    )]
    async fn ask(
        &self,
        Parameters(AskArgs { question }): Parameters<AskArgs>,
        context: RequestContext<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let question = question.unwrap_or_else(|| "What is your name?".to_owned());
        ask::ask(question, &context, state, responses).await
    }

    /// Returns the names of the server process's environment variables.
    #[tool(
        description = "Return the names of this server process's environment variables, as a sorted JSON array."
    )]
    fn env(&self) -> Result<CallToolResult, ErrorData> {
        let names = env_names();
        Ok(CallToolResult::success(vec![ContentBlock::json(&names)?]))
    }

    /// Adds or removes the extra tool and announces the tool list change.
    #[tool(
        description = "Add the tool `extra` to the tool list, or remove it if present, and announce the change."
    )]
    async fn toggle_extra(&self, context: RequestContext<RoleServer>) -> String {
        let enabled = self.shared.tool_list.toggle(&context).await;
        if enabled {
            format!("tool `{EXTRA_TOOL}` added")
        } else {
            format!("tool `{EXTRA_TOOL}` removed")
        }
    }

    /// The tool that `toggle_extra` shows and hides.
    #[tool(description = "A tool that only exists after toggle_extra was called.")]
    fn extra(&self) -> String {
        format!("tool `{EXTRA_TOOL}` answered")
    }
}

/// What LLVM's profiling runtime adds to the environment of an instrumented process (the
/// coverage run builds this server instrumented): set by the process itself, never given to it.
const PROFILER_RUNTIME_VARIABLE: &str = "__LLVM_PROFILE_RT_INIT_ONCE";

/// The sorted names of the environment variables this process was given (names only: values
/// may be secret).
pub(super) fn env_names() -> Vec<String> {
    let mut names: Vec<String> = std::env::vars_os()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .filter(|name| name != PROFILER_RUNTIME_VARIABLE)
        .collect();
    names.sort();
    names
}
