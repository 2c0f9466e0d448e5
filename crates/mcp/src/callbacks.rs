//! What the host asks of the engine: approving a call (`ask` tools), answering a server's
//! input request (elicitation), and answering a sampling request. Each is an async callback; a
//! plain async closure implements it. Without one the host declines (approval: denied).

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::auth::{Authorizer, CredentialVault};

/// A call that waits for a person's approval.
#[derive(Clone, Debug)]
pub struct ApprovalRequest {
    /// The server.
    pub server: String,
    /// The server's name for the tool.
    pub tool: String,
    /// The name the model used.
    pub exposed_name: String,
    /// The arguments the model gave.
    pub arguments: Value,
    /// The tool's description, to show the person.
    pub description: String,
}

/// A person's answer to an [`ApprovalRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Go ahead.
    Approved,
    /// Do not call; the model is told, with the reason when given.
    Denied {
        /// Why, in the person's words.
        reason: Option<String>,
    },
}

/// Decides on calls whose policy is `ask`.
pub trait Approver: Send + Sync + 'static {
    /// Asks whoever can decide; the call waits for the answer (or the turn's cancellation).
    fn approve(&self, request: ApprovalRequest) -> BoxFuture<'static, Approval>;
}

impl<F, Fut> Approver for F
where
    F: Fn(ApprovalRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Approval> + Send + 'static,
{
    fn approve(&self, request: ApprovalRequest) -> BoxFuture<'static, Approval> {
        Box::pin(self(request))
    }
}

/// A server's request for input from the user (MCP elicitation).
#[derive(Clone, Debug)]
pub struct InputRequest {
    /// The server asking.
    pub server: String,
    /// What to show the user.
    pub message: String,
    /// What is asked for.
    pub mode: InputMode,
}

/// The two kinds of elicitation.
#[derive(Clone, Debug)]
pub enum InputMode {
    /// Fill in a form: a flat JSON Schema object of primitive fields.
    Form {
        /// The requested schema.
        schema: Value,
    },
    /// Visit a URL (sign-in, payment) outside the chat.
    Url {
        /// Where to send the user.
        url: String,
        /// The server's id for this request.
        elicitation_id: String,
    },
}

/// The user's answer to an [`InputRequest`].
#[derive(Clone, Debug, PartialEq)]
pub enum InputAnswer {
    /// Submitted; form content when the request was a form.
    Accept(Option<Value>),
    /// Explicitly refused.
    Decline,
    /// Dismissed without choosing.
    Cancel,
}

/// Answers input requests; the default (no handler) declines every one.
pub trait InputHandler: Send + Sync + 'static {
    /// Asks the user; the server waits for the answer.
    fn request_input(&self, request: InputRequest) -> BoxFuture<'static, InputAnswer>;
}

impl<F, Fut> InputHandler for F
where
    F: Fn(InputRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = InputAnswer> + Send + 'static,
{
    fn request_input(&self, request: InputRequest) -> BoxFuture<'static, InputAnswer> {
        Box::pin(self(request))
    }
}

/// A server's request for a completion from the bot's model (`sampling/createMessage`).
#[derive(Clone, Debug)]
pub struct SamplingRequest {
    /// The server asking.
    pub server: String,
    /// The system prompt it wants.
    pub system_prompt: Option<String>,
    /// The conversation, oldest first.
    pub messages: Vec<SamplingMessage>,
    /// Longest answer, in tokens.
    pub max_tokens: u32,
    /// Sampling temperature, when given.
    pub temperature: Option<f32>,
    /// Model names the server would like, best first (hints only).
    pub model_hints: Vec<String>,
    /// Sequences that end the answer.
    pub stop_sequences: Vec<String>,
}

/// One message of a [`SamplingRequest`] (text only; other content is described in words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplingMessage {
    /// `user` or `assistant`.
    pub role: SamplingRole,
    /// The text.
    pub text: String,
}

/// Who said a [`SamplingMessage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplingRole {
    /// The user (the server, speaking for it).
    User,
    /// The model.
    Assistant,
}

/// The model's answer to a [`SamplingRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplingReply {
    /// The model that answered.
    pub model: String,
    /// The answer.
    pub text: String,
    /// Why it stopped (`endTurn`, `maxTokens`, `stopSequence`), when known.
    pub stop_reason: Option<String>,
}

/// Answers sampling requests through the model pool; consulted only for servers that allow it.
pub trait Sampler: Send + Sync + 'static {
    /// Produces a completion, or says why not.
    fn sample(&self, request: SamplingRequest)
    -> BoxFuture<'static, Result<SamplingReply, String>>;
}

impl<F, Fut> Sampler for F
where
    F: Fn(SamplingRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SamplingReply, String>> + Send + 'static,
{
    fn sample(
        &self,
        request: SamplingRequest,
    ) -> BoxFuture<'static, Result<SamplingReply, String>> {
        Box::pin(self(request))
    }
}

/// The engine's callbacks for the whole host; any may be absent (the host then declines).
#[derive(Clone, Default)]
pub struct Callbacks {
    /// Approves `ask` calls that carry no approver of their own.
    pub approver: Option<Arc<dyn Approver>>,
    /// Answers input requests not tied to a call with a handler of its own.
    pub input: Option<Arc<dyn InputHandler>>,
    /// Answers sampling requests from servers that allow sampling.
    pub sampler: Option<Arc<dyn Sampler>>,
    /// Completes OAuth authorizations (the "browser"); without one a server that needs a login
    /// cannot be reached.
    pub authorizer: Option<Arc<dyn Authorizer>>,
    /// Keeps OAuth logins (in memory when unset).
    pub vault: Option<Arc<dyn CredentialVault>>,
}

impl Callbacks {
    /// Builder: sets the approver.
    pub fn with_approver(mut self, approver: impl Approver) -> Self {
        self.approver = Some(Arc::new(approver));
        self
    }

    /// Builder: sets the input handler.
    pub fn with_input(mut self, input: impl InputHandler) -> Self {
        self.input = Some(Arc::new(input));
        self
    }

    /// Builder: sets the OAuth authorizer.
    pub fn with_authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(Arc::new(authorizer));
        self
    }

    /// Builder: sets where OAuth logins are kept.
    pub fn with_vault(mut self, vault: impl CredentialVault) -> Self {
        self.vault = Some(Arc::new(vault));
        self
    }

    /// Builder: sets the sampler.
    pub fn with_sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Some(Arc::new(sampler));
        self
    }
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("approver", &self.approver.is_some())
            .field("input", &self.input.is_some())
            .field("sampler", &self.sampler.is_some())
            .field("authorizer", &self.authorizer.is_some())
            .field("vault", &self.vault.is_some())
            .finish()
    }
}
