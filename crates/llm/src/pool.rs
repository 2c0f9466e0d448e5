//! The backend pool: routes each request to a backend that has the model, balanced by requests
//! in flight within each backend's `max_concurrency`, and fails over when a backend fails before
//! its first token.
//!
//! Each backend's model list is cached and refreshed on a timer ([`BackendPool::refresh`]) and
//! after a failure; model details (capabilities, context length) are cached with moka.
//!
//! Why one long file: routing, failover, the per-backend concurrency slots and the model caches
//! share the pool's private state and change together; the wire clients live in `ollama` and
//! `openai`. About 150 of its lines are doc comments of the public API.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures::{Stream, StreamExt, stream};
use tokio::sync::{OwnedSemaphorePermit, RwLock, Semaphore};
use tokio::time::Instant;

use crate::backend::{Backend, BackendSpec};
use crate::error::LlmError;
use crate::types::{Capability, ChatEvent, ChatRequest, ChatResponse, ModelInfo};
use crate::{ChatStream, ServerKind, collect};

/// The tracing target of the background health checks' warnings, so that a front end which
/// reports failed requests itself can leave them out of its log.
pub const HEALTH_LOG_TARGET: &str = "mcpcord_llm::health";

/// How the pool behaves.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// How long a backend's model list is trusted.
    pub models_ttl: Duration,
    /// How long a model's details are trusted.
    pub info_ttl: Duration,
    /// The largest context window asked for (`num_ctx`), whatever the model supports.
    pub max_context: Option<u32>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            models_ttl: Duration::from_secs(60),
            info_ttl: Duration::from_secs(600),
            max_context: Some(32_768),
        }
    }
}

/// Several backends behind one interface. Cheap to clone.
#[derive(Clone)]
pub struct BackendPool {
    inner: Arc<Inner>,
}

struct Inner {
    /// The backends; swapped whole by [`BackendPool::reconfigure`] (a running request keeps
    /// the entry it holds).
    entries: ArcSwap<Vec<Arc<Entry>>>,
    info: moka::future::Cache<(usize, String), ModelInfo>,
    options: ArcSwap<PoolOptions>,
    /// The next entry's index: an entry keeps its index (its cache key) for its whole life.
    next_index: AtomicUsize,
    http: reqwest::Client,
}

struct Entry {
    index: usize,
    backend: Backend,
    permits: Arc<Semaphore>,
    /// Requests running or waiting for a permit on this backend.
    load: AtomicUsize,
    healthy: AtomicBool,
    models: RwLock<Option<(Instant, Vec<String>)>>,
}

impl Entry {
    fn new(index: usize, spec: BackendSpec, http: &reqwest::Client) -> Arc<Self> {
        Arc::new(Entry {
            index,
            permits: Arc::new(Semaphore::new(spec.max_concurrency.max(1))),
            backend: Backend::new(spec, http.clone()),
            load: AtomicUsize::new(0),
            healthy: AtomicBool::new(true),
            models: RwLock::new(None),
        })
    }
}

/// Whether two specs describe the same backend in every respect.
fn same_spec(a: &BackendSpec, b: &BackendSpec) -> bool {
    a.name == b.name
        && a.kind == b.kind
        && a.url == b.url
        && a.api_key == b.api_key
        && a.max_concurrency == b.max_concurrency
        && a.request_timeout == b.request_timeout
        && a.stall_timeout == b.stall_timeout
}

/// What a health check found for one backend.
#[derive(Debug, Clone)]
pub struct BackendHealth {
    /// The backend's name.
    pub name: String,
    /// Its URL, credentials redacted.
    pub url: String,
    /// The server's version line, or why it could not be reached.
    pub result: Result<String, LlmError>,
}

/// One backend's load and health right now, for status pages and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendLoad {
    /// The backend's name.
    pub name: String,
    /// Its URL, credentials redacted.
    pub url: String,
    /// Whether its latest request or health check succeeded.
    pub healthy: bool,
    /// Requests holding one of its concurrency permits (streaming now).
    pub in_flight: usize,
    /// Requests waiting for a permit.
    pub queued: usize,
    /// Its `max_concurrency`.
    pub max_concurrency: usize,
}

/// One backend's models, for `mcpcord models`.
#[derive(Debug, Clone)]
pub struct BackendModels {
    /// The backend's name.
    pub backend: String,
    /// Its models with details, or why they could not be listed.
    pub models: Result<Vec<ModelInfo>, LlmError>,
}

impl BackendPool {
    /// A pool over `specs`, in order of preference when loads are equal.
    pub fn new(specs: Vec<BackendSpec>, options: PoolOptions) -> Self {
        let http = crate::http_client();
        let count = specs.len();
        let entries = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| Entry::new(index, spec, &http))
            .collect();
        let info = moka::future::Cache::builder()
            .max_capacity(1024)
            .time_to_live(options.info_ttl)
            .build();
        Self {
            inner: Arc::new(Inner {
                entries: ArcSwap::from_pointee(entries),
                info,
                options: ArcSwap::from_pointee(options),
                next_index: AtomicUsize::new(count),
                http,
            }),
        }
    }

    /// Replaces the backends with `specs` and the options with `options` (a configuration
    /// reload). A backend whose spec did not change keeps its state (requests in flight, model
    /// list, health); the others start afresh. Requests already running finish where they are.
    pub fn reconfigure(&self, specs: Vec<BackendSpec>, options: PoolOptions) {
        let old = self.entries();
        let entries: Vec<Arc<Entry>> = specs
            .into_iter()
            .map(
                |spec| match old.iter().find(|e| same_spec(e.backend.spec(), &spec)) {
                    Some(kept) => kept.clone(),
                    None => {
                        let index = self.inner.next_index.fetch_add(1, Ordering::SeqCst);
                        tracing::info!(backend = %spec.name, "backend added or changed");
                        Entry::new(index, spec, &self.inner.http)
                    }
                },
            )
            .collect();
        for gone in old
            .iter()
            .filter(|e| !entries.iter().any(|n| Arc::ptr_eq(n, e)))
        {
            tracing::info!(backend = %gone.backend.spec().name, "backend removed or changed");
        }
        self.inner.entries.store(Arc::new(entries));
        self.inner.options.store(Arc::new(options));
    }

    fn entries(&self) -> Arc<Vec<Arc<Entry>>> {
        self.inner.entries.load_full()
    }

    /// The backends' specs, in configuration order.
    pub fn specs(&self) -> Vec<BackendSpec> {
        self.entries()
            .iter()
            .map(|e| e.backend.spec().clone())
            .collect()
    }

    /// Requests running or queued on the backend `name`.
    pub fn load(&self, name: &str) -> usize {
        self.entry_named(name)
            .map_or(0, |e| e.load.load(Ordering::SeqCst))
    }

    /// Every backend's load and health, in configuration order (no request is made).
    pub fn loads(&self) -> Vec<BackendLoad> {
        self.entries()
            .iter()
            .map(|e| {
                let spec = e.backend.spec();
                let max = spec.max_concurrency.max(1);
                let in_flight = max.saturating_sub(e.permits.available_permits());
                BackendLoad {
                    name: spec.name.clone(),
                    url: crate::redact::redact_url(spec.url.as_str()),
                    healthy: e.healthy.load(Ordering::SeqCst),
                    in_flight,
                    queued: e.load.load(Ordering::SeqCst).saturating_sub(in_flight),
                    max_concurrency: max,
                }
            })
            .collect()
    }

    /// Streams the answer to `request` from the best backend that has the model. When a backend
    /// fails before its first event, the next one is tried.
    pub async fn chat(&self, request: &ChatRequest) -> Result<PooledStream, LlmError> {
        let mut candidates = self.candidates(&request.model).await?;
        let mut last_error = None;
        while let Some(reservation) = Reservation::best(&mut candidates) {
            let entry = reservation.entry.clone();
            match self.start_on(reservation, request).await {
                Ok(stream) => return Ok(stream),
                Err(error) if error.is_failover() => {
                    self.failed_over(&entry, &error, !candidates.is_empty())
                        .await;
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(self.exhausted(last_error, &request.model).await)
    }

    /// Starts `request` on the reserved backend: the stream once its first event arrived.
    async fn start_on(
        &self,
        reservation: Reservation,
        request: &ChatRequest,
    ) -> Result<PooledStream, LlmError> {
        let entry = reservation.entry.clone();
        let request = self.fitted(&entry, request).await?;
        let lease = reservation.acquire().await;
        let (first, rest) = start(&entry.backend, &request).await?;
        entry.healthy.store(true, Ordering::SeqCst);
        Ok(PooledStream {
            inner: Box::pin(stream::iter(first).chain(rest)),
            backend: entry.backend.spec().name.clone(),
            _lease: lease,
        })
    }

    /// What to tell the caller when no backend could take a request for `model`: the last
    /// backend's failure, or that none has the model.
    async fn exhausted(&self, last_error: Option<LlmError>, model: &str) -> LlmError {
        match last_error {
            Some(error) => error,
            None => self.no_backend(model).await,
        }
    }

    /// `request` as `entry` should get it: refused if the model there lacks a capability it
    /// needs, with `num_ctx` set from the model's context length unless the caller set it.
    async fn fitted(&self, entry: &Entry, request: &ChatRequest) -> Result<ChatRequest, LlmError> {
        let info = self.info_on(entry, &request.model).await;
        if let Some(info) = &info {
            check_capabilities(request, info)?;
        }
        let mut request = request.clone();
        if request.options.num_ctx.is_none() {
            request.options.num_ctx = num_ctx(info.as_ref(), self.inner.options.load().max_context);
        }
        Ok(request)
    }

    /// Notes that `entry` failed before its first token; says so when another backend is tried
    /// (the last one's error goes to the caller, who reports it: logged, it would be said twice).
    async fn failed_over(&self, entry: &Entry, error: &LlmError, trying_another: bool) {
        if trying_another {
            tracing::warn!(backend = %entry.backend.spec().name, error = %error.detail(), "backend failed before its first token; trying the next");
        }
        self.note_failure(entry, error).await;
    }

    /// The whole answer to `request` (streamed underneath, so failover still applies).
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        collect(self.chat(request).await?).await
    }

    /// Details of `model` (capabilities, context length) from the first backend that has it.
    pub async fn model_info(&self, model: &str) -> Result<ModelInfo, LlmError> {
        let candidates = self.candidates(model).await?;
        for entry in &candidates {
            if let Some(info) = self.info_on(entry, model).await {
                return Ok(info);
            }
        }
        Ok(ModelInfo::named(model))
    }

    /// Embeddings of `inputs` with `model`.
    pub async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let mut last_error = None;
        let mut candidates = self.candidates(model).await?;
        while let Some(reservation) = Reservation::best(&mut candidates) {
            let entry = reservation.entry.clone();
            let _lease = reservation.acquire().await;
            match entry.backend.embed(model, inputs).await {
                Ok(vectors) => return Ok(vectors),
                Err(error) if error.is_failover() => {
                    self.note_failure(&entry, &error).await;
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(self.exhausted(last_error, model).await)
    }

    /// Every backend's models with their details, backends asked concurrently.
    pub async fn list_models(&self) -> Vec<BackendModels> {
        let entries = self.entries();
        let lists = entries.iter().map(|entry| async move {
            let models = match entry.backend.list_models().await {
                Ok(models) => {
                    self.remember_models(entry, &models).await;
                    let detailed = models.into_iter().map(|m| async move {
                        match self.info_on(entry, &m.name).await {
                            Some(info) => ModelInfo {
                                size: m.size,
                                details: info.details.clone().or(m.details),
                                ..info
                            },
                            None => m,
                        }
                    });
                    Ok(futures::future::join_all(detailed).await)
                }
                Err(error) => Err(error),
            };
            BackendModels {
                backend: entry.backend.spec().name.clone(),
                models,
            }
        });
        futures::future::join_all(lists).await
    }

    /// Probes every backend, updates their health, and refreshes their model lists.
    pub async fn refresh(&self) -> Vec<BackendHealth> {
        let entries = self.entries();
        let checks = entries.iter().map(|entry| async move {
            let result = entry.backend.health().await;
            entry.healthy.store(result.is_ok(), Ordering::SeqCst);
            if result.is_ok()
                && let Ok(models) = entry.backend.list_models().await
            {
                self.remember_models(entry, &models).await;
            }
            let spec = entry.backend.spec();
            BackendHealth {
                name: spec.name.clone(),
                url: crate::redact::redact_url(spec.url.as_str()),
                result,
            }
        });
        futures::future::join_all(checks).await
    }

    /// Runs [`refresh`](Self::refresh) every `interval` until `stop` is cancelled.
    pub fn spawn_refresher(
        &self,
        interval: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let pool = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticker.tick() => {
                        for health in pool.refresh().await {
                            if let Err(error) = health.result {
                                // Operators get the (redacted) URL too. A target of its
                                // own: terminal commands, which report a failed request
                                // themselves, leave it out.
                                tracing::warn!(target: HEALTH_LOG_TARGET, backend = %health.name, error = %error.detail(), "backend health check failed");
                            }
                        }
                    }
                }
            }
        })
    }

    fn entry_named(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries()
            .iter()
            .find(|e| e.backend.spec().name == name)
            .cloned()
    }

    /// Backends that have `model` (refreshing the lists once if none seems to).
    async fn candidates(&self, model: &str) -> Result<Vec<Arc<Entry>>, LlmError> {
        let mut found = self.having(model, false).await;
        if found.is_empty() {
            // The model may have been pulled since the lists were read.
            found = self.having(model, true).await;
        }
        if found.is_empty() {
            return Err(self.no_backend(model).await);
        }
        Ok(found)
    }

    async fn having(&self, model: &str, fresh: bool) -> Vec<Arc<Entry>> {
        let entries = self.entries();
        let checks = entries.iter().map(|entry| async move {
            let names = self.models_of(entry, fresh).await;
            // A backend whose list cannot be read is still a candidate: it may have the model.
            let has = names.is_none_or(|names| names.iter().any(|n| same_model(n, model)));
            has.then(|| entry.clone())
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn models_of(&self, entry: &Entry, fresh: bool) -> Option<Vec<String>> {
        if !fresh
            && let Some((at, names)) = entry.models.read().await.as_ref()
            && at.elapsed() < self.inner.options.load().models_ttl
        {
            return Some(names.clone());
        }
        match entry.backend.list_models().await {
            Ok(models) => {
                self.remember_models(entry, &models).await;
                Some(models.into_iter().map(|m| m.name).collect())
            }
            Err(error) => {
                tracing::debug!(backend = %entry.backend.spec().name, error = %error.detail(), "cannot list models");
                entry.healthy.store(false, Ordering::SeqCst);
                None
            }
        }
    }

    async fn remember_models(&self, entry: &Entry, models: &[ModelInfo]) {
        let names = models.iter().map(|m| m.name.clone()).collect();
        *entry.models.write().await = Some((Instant::now(), names));
    }

    async fn info_on(&self, entry: &Entry, model: &str) -> Option<ModelInfo> {
        let key = (entry.index, model.to_string());
        let backend = entry.backend.clone();
        let model = model.to_string();
        self.inner
            .info
            .try_get_with(key, async move { backend.model_info(&model).await })
            .await
            .ok()
    }

    async fn note_failure(&self, entry: &Entry, error: &LlmError) {
        match error {
            LlmError::Unreachable { .. } => entry.healthy.store(false, Ordering::SeqCst),
            LlmError::ModelNotFound { .. } => *entry.models.write().await = None,
            _ => {}
        }
    }

    /// The error for a model no backend has: with one backend, that backend's "not found"; with
    /// several, their names, whether it can be pulled, and the closest names they have.
    async fn no_backend(&self, model: &str) -> LlmError {
        let entries = self.entries();
        let entries = entries.as_slice();
        if let [only] = entries {
            return LlmError::ModelNotFound {
                model: model.to_string(),
                backend: only.backend.spec().name.clone(),
                kind: only.backend.spec().kind,
            };
        }
        let mut names = Vec::new();
        for entry in entries {
            if let Some((_, listed)) = &*entry.models.read().await {
                names.extend(listed.iter().cloned());
            }
        }
        LlmError::NoBackendForModel {
            model: model.to_string(),
            backends: entries
                .iter()
                .map(|e| e.backend.spec().name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            ollama: entries
                .iter()
                .any(|e| e.backend.spec().kind == ServerKind::Ollama),
            closest: closest(model, names),
        }
    }
}

/// Up to [`CLOSEST`] of `names` most like `model` (and somewhat like it), best first.
fn closest(model: &str, mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    let mut scored: Vec<(f64, String)> = names
        .into_iter()
        .map(|name| (strsim::jaro_winkler(model, &name), name))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(CLOSEST)
        .map(|(_, name)| name)
        .collect()
}

/// How many close model names an error suggests.
const CLOSEST: usize = 3;

/// Whether a listed model name is the one asked for (`llama3.2` is `llama3.2:latest`).
fn same_model(listed: &str, asked: &str) -> bool {
    listed == asked
        || listed.strip_suffix(":latest") == Some(asked)
        || asked.strip_suffix(":latest") == Some(listed)
}

fn check_capabilities(request: &ChatRequest, info: &ModelInfo) -> Result<(), LlmError> {
    if !request.tools.is_empty() && !info.can(Capability::Tools) {
        return Err(LlmError::ToolsUnsupported {
            model: request.model.clone(),
        });
    }
    if request.has_images() && !info.can(Capability::Vision) {
        return Err(LlmError::VisionUnsupported {
            model: request.model.clone(),
        });
    }
    Ok(())
}

/// The context window to ask for: the model's own length, capped by configuration.
fn num_ctx(info: Option<&ModelInfo>, cap: Option<u32>) -> Option<u32> {
    match (info.and_then(|i| i.context_length), cap) {
        (Some(length), Some(cap)) => Some(length.min(cap)),
        (Some(length), None) => Some(length),
        (None, _) => None,
    }
}

/// Sends the request and waits for its first event, so failures before it can fail over.
async fn start(
    backend: &Backend,
    request: &ChatRequest,
) -> Result<(Option<Result<ChatEvent, LlmError>>, ChatStream), LlmError> {
    let mut stream = backend.chat(request).await?;
    match stream.next().await {
        Some(Err(error)) if error.partial_text().is_none_or(str::is_empty) => Err(error),
        first => Ok((first, stream)),
    }
}

/// A backend chosen for a request: counted in its load from the moment it is chosen, so that
/// requests starting together spread out.
struct Reservation {
    entry: Arc<Entry>,
}

impl Reservation {
    /// Takes the best of `candidates` out of the list: healthy first, then least loaded for its
    /// size, then configuration order. Choosing and counting happen without an await between.
    fn best(candidates: &mut Vec<Arc<Entry>>) -> Option<Reservation> {
        let score = |e: &Entry| {
            let load = e.load.load(Ordering::SeqCst) as f64
                / e.backend.spec().max_concurrency.max(1) as f64;
            (!e.healthy.load(Ordering::SeqCst), load, e.index)
        };
        let best = (0..candidates.len()).min_by(|&a, &b| {
            let (ha, la, ia) = score(&candidates[a]);
            let (hb, lb, ib) = score(&candidates[b]);
            ha.cmp(&hb).then(la.total_cmp(&lb)).then(ia.cmp(&ib))
        })?;
        let entry = candidates.swap_remove(best);
        entry.load.fetch_add(1, Ordering::SeqCst);
        Some(Reservation { entry })
    }

    /// Waits for a concurrency permit on the backend.
    async fn acquire(self) -> Lease {
        let permit = self
            .entry
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the pool never closes its semaphores");
        Lease {
            _permit: permit,
            _reservation: self,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.entry.load.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A reservation holding its concurrency permit.
struct Lease {
    _permit: OwnedSemaphorePermit,
    _reservation: Reservation,
}

/// A streamed answer holding its backend's permit until dropped.
pub struct PooledStream {
    inner: ChatStream,
    backend: String,
    _lease: Lease,
}

impl PooledStream {
    /// The name of the backend answering.
    pub fn backend(&self) -> &str {
        &self.backend
    }
}

impl Stream for PooledStream {
    type Item = Result<ChatEvent, LlmError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.as_mut().poll_next(cx)
    }
}
