//! Shared state of one FakeOllama: models, script queue, recorded requests, violations and the
//! in-flight counter. Handlers and the test-facing handle both hold an `Arc<Shared>`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::model::{FakeModel, normalize_name};
use super::script::Script;

/// One HTTP request the fake received, as it arrived.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path without the query string, e.g. `/api/chat`.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw request body.
    pub body: Bytes,
    /// The body parsed as JSON, when it was valid JSON.
    pub json: Option<Value>,
    /// When the request arrived.
    pub received_at: Instant,
    /// Status of the response, once its head was ready (`None` while still being handled).
    pub status: Option<StatusCode>,
    /// When the response ended: the handler's answer, or the last chunk of a streamed body
    /// (its last token) or the cut (`None` while still being handled).
    pub finished_at: Option<Instant>,
}

impl RecordedRequest {
    /// The value of header `name` as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request the fake rejected with 400 because it was malformed or asked for something the
/// model cannot do (unknown JSON-Schema keywords in tools, images for a text-only model, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the rejected request, e.g. `/api/chat`.
    pub path: String,
    /// The error message sent back to the client.
    pub message: String,
}

/// Mutable state behind one lock; never held across an `.await`.
#[derive(Debug)]
pub(crate) struct Inner {
    pub models: BTreeMap<String, FakeModel>,
    pub loaded: BTreeSet<String>,
    pub scripts: VecDeque<Script>,
    pub requests: Vec<RecordedRequest>,
    pub violations: Vec<Violation>,
    pub api_key: Option<String>,
    pub version: String,
    pub next_id: u64,
    /// Embedding requests answer 503 while set (a backend that is down, then up again).
    pub embeddings_down: bool,
    /// How long an echoed answer waits before its first chunk (a model's time to first token).
    pub echo_delay: std::time::Duration,
}

impl Inner {
    /// The registered model answering to `name` (`llama3.2` finds `llama3.2:latest`).
    pub fn find_model(&self, name: &str) -> Option<&FakeModel> {
        self.models.get(&normalize_name(name))
    }

    /// A fresh number for response ids (`chatcmpl-N`).
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// State shared by the server tasks and the [`super::FakeOllama`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Cancelled when the fake shuts down: ends delays, stalls and the server itself.
    pub shutdown: CancellationToken,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Shared {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                models: BTreeMap::new(),
                loaded: BTreeSet::new(),
                scripts: VecDeque::new(),
                requests: Vec::new(),
                violations: Vec::new(),
                api_key: None,
                version: "0.12.6".to_owned(),
                next_id: 0,
                embeddings_down: false,
                echo_delay: std::time::Duration::ZERO,
            }),
            shutdown: CancellationToken::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    /// Locks the state; a poisoned lock is still usable (the fake never panics while holding it).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a request and returns its index, to set its status later.
    pub fn record(&self, request: RecordedRequest) -> usize {
        let mut inner = self.lock();
        inner.requests.push(request);
        inner.requests.len() - 1
    }

    /// Sets the response status of the request at `index`.
    pub fn set_status(&self, index: usize, status: StatusCode) {
        if let Some(r) = self.lock().requests.get_mut(index) {
            r.status = Some(status);
        }
    }

    /// Records a rejected request.
    pub fn violation(&self, path: &str, message: &str) {
        self.lock().violations.push(Violation {
            path: path.to_owned(),
            message: message.to_owned(),
        });
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Counts one request as in flight until the last clone is dropped; the streaming body keeps a
/// clone, so a streamed answer counts until its last byte (or the cut).
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    guard: Arc<InFlightGuard>,
}

#[derive(Debug)]
struct InFlightGuard {
    shared: Arc<Shared>,
    /// The recorded request (index and arrival) whose `finished_at` is set on drop.
    request: OnceLock<(usize, Instant)>,
}

impl InFlight {
    pub fn enter(shared: &Arc<Shared>) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self {
            guard: Arc::new(InFlightGuard {
                shared: Arc::clone(shared),
                request: OnceLock::new(),
            }),
        }
    }

    /// Names the recorded request this guard ends: its `finished_at` is set when the last
    /// clone drops.
    pub fn finishes(&self, index: usize, received_at: Instant) {
        let _ = self.guard.request.set((index, received_at));
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(&(index, received_at)) = self.request.get() {
            let mut inner = self.shared.lock();
            // The records may have been cleared since: only the same request is marked.
            if let Some(r) = inner
                .requests
                .get_mut(index)
                .filter(|r| r.received_at == received_at && r.finished_at.is_none())
            {
                r.finished_at = Some(Instant::now());
            }
        }
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
