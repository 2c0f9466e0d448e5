//! FakeOllama: a protocol-level fake of the Ollama HTTP API, for tests.
//!
//! It owns an HTTP server on `127.0.0.1` (random port) that speaks Ollama's native API
//! (`/api/chat`, `/api/tags`, `/api/show`, `/api/ps`, `/api/embed`, `/api/embeddings`,
//! `/api/version`) and its OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`,
//! `/v1/embeddings`); the models a test registers ([`FakeModel`]); the queue of scripted
//! replies ([`Script`]) that drives both chat APIs; and the record of every request, every
//! rejected request ([`Violation`]) and how many were in flight at once.
//!
//! Requests are checked the way Ollama checks them (unknown model → 404, missing capability →
//! 400, invalid JSON → 400, images for a model without `vision` → 400), and more strictly where
//! Ollama is silently lenient: tool parameter schemas may use only
//! [`ALLOWED_SCHEMA_KEYWORDS`], tool messages need `tool_name`, tool call arguments must be
//! objects. Each chat request that passes takes the next script; with none queued the fake
//! echoes the last user message, one chunk per word.
//!
//! ```no_run
//! use mcpcord_testkit::FakeOllama;
//! use mcpcord_testkit::fake_ollama::{FakeModel, Script};
//! use serde_json::json;
//!
//! # async fn demo() {
//! let fake = FakeOllama::start().await;
//! fake.add_model(FakeModel::new("llama3.2").capabilities(&["completion", "tools"]));
//! fake.push_script(Script::new().text("Let me check.").tool_call("get_time", json!({})));
//! let base_url = fake.url(); // http://127.0.0.1:PORT
//! # let _ = base_url;
//! # }
//! ```

mod catalog;
mod checks;
mod clock;
mod embed;
mod errors;
mod messages;
mod model;
mod native_chat;
mod native_render;
mod openai_chat;
mod openai_render;
mod runner;
mod schema;
mod script;
mod server;
mod state;

use axum::serve::ListenerExt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use embed::{CONCEPTS, embedding_vector};
pub use model::FakeModel;
pub use schema::ALLOWED_SCHEMA_KEYWORDS;
pub use script::{DoneReason, FakeToolCall, Script, Step};
pub use state::{RecordedRequest, Violation};

use state::Shared;

/// A running fake Ollama server. Dropping it (or [`FakeOllama::shutdown`]) stops the server;
/// streams still open are cut.
#[derive(Debug)]
pub struct FakeOllama {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl FakeOllama {
    /// Starts a fake with no models on `127.0.0.1` and a random port.
    ///
    /// # Panics
    /// When no local port can be bound; use [`FakeOllama::try_start`] to get the error instead.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(e) => panic!("FakeOllama: cannot listen on 127.0.0.1: {e}"),
        }
    }

    /// Starts a fake serving `models`.
    pub async fn start_with_models(models: impl IntoIterator<Item = FakeModel>) -> Self {
        let fake = Self::start().await;
        models.into_iter().for_each(|m| fake.add_model(m));
        fake
    }

    /// Starts a fake with no models, returning the error if no port can be bound.
    pub async fn try_start() -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new());
        let app = server::router(Arc::clone(&shared));
        let stop = shared.shutdown.clone();
        let task = tokio::spawn(async move {
            // Small streamed writes would otherwise wait on delayed ACKs: 40 ms a request.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "FakeOllama server stopped with an error");
            }
        });
        Ok(Self {
            shared,
            addr,
            task: Some(task),
        })
    }

    /// Base URL of the native API, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URL of the OpenAI-compatible API, `http://127.0.0.1:PORT/v1`.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The socket address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers `model`, replacing one with the same name.
    pub fn add_model(&self, model: FakeModel) {
        let mut inner = self.shared.lock();
        if model.loaded {
            inner.loaded.insert(model.name.clone());
        }
        inner.models.insert(model.name.clone(), model);
    }

    /// Removes the model called `name` (as if deleted); true when it existed.
    pub fn remove_model(&self, name: &str) -> bool {
        let name = model::normalize_name(name);
        let mut inner = self.shared.lock();
        inner.loaded.remove(&name);
        inner.models.remove(&name).is_some()
    }

    /// Names of the models `/api/ps` currently lists.
    pub fn loaded_models(&self) -> Vec<String> {
        self.shared.lock().loaded.iter().cloned().collect()
    }

    /// Queues `script` for a later chat request (first in, first out).
    pub fn push_script(&self, script: Script) {
        self.shared.lock().scripts.push_back(script);
    }

    /// Queues several scripts, in order.
    pub fn push_scripts(&self, scripts: impl IntoIterator<Item = Script>) {
        self.shared.lock().scripts.extend(scripts);
    }

    /// How many queued scripts no request has taken yet.
    pub fn pending_scripts(&self) -> usize {
        self.shared.lock().scripts.len()
    }

    /// Makes the embedding endpoints answer `503 Service Unavailable` (`down`) or serve again:
    /// an embedding backend that goes away and comes back.
    pub fn set_embeddings_down(&self, down: bool) {
        self.shared.lock().embeddings_down = down;
    }

    /// Makes an echoed answer (no script queued) wait `delay` before its first chunk: a model
    /// that takes time to start answering, as every real one does.
    pub fn set_echo_delay(&self, delay: std::time::Duration) {
        self.shared.lock().echo_delay = delay;
    }

    /// Requires `Authorization: Bearer KEY` on every request; others get 401.
    pub fn require_api_key(&self, key: &str) {
        self.shared.lock().api_key = Some(key.to_owned());
    }

    /// Sets the version `/api/version` reports.
    pub fn set_version(&self, version: &str) {
        version.clone_into(&mut self.shared.lock().version);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests received on `path` (e.g. `/api/chat`).
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        let inner = self.shared.lock();
        inner
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// How many requests were received on `path`.
    pub fn count(&self, path: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// How many requests were received in all.
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// The JSON bodies of the `/api/chat` requests, in order (invalid JSON left out).
    pub fn chat_requests(&self) -> Vec<Value> {
        self.json_bodies("/api/chat")
    }

    /// The JSON bodies of the `/v1/chat/completions` requests, in order.
    pub fn openai_chat_requests(&self) -> Vec<Value> {
        self.json_bodies("/v1/chat/completions")
    }

    /// The JSON body of the latest `/api/chat` request.
    pub fn last_chat_request(&self) -> Option<Value> {
        self.chat_requests().pop()
    }

    fn json_bodies(&self, path: &str) -> Vec<Value> {
        let inner = self.shared.lock();
        inner
            .requests
            .iter()
            .filter(|r| r.path == path)
            .filter_map(|r| r.json.clone())
            .collect()
    }

    /// Forgets the recorded requests and violations (not the in-flight maximum).
    pub fn clear_requests(&self) {
        let mut inner = self.shared.lock();
        inner.requests.clear();
        inner.violations.clear();
    }

    /// Every request rejected with 400, with the message it got.
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// Requests being handled right now (a streamed answer counts until its end).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// The most requests that were in flight at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight()
    }

    /// Stops the server and waits (up to 5 s) for it to finish; open streams are cut.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}
