//! Models a test registers: name, capabilities, context length and the details Ollama reports
//! for them in `/api/tags`, `/api/show`, `/api/ps` and `/v1/models`.

use serde_json::{Value, json};

use super::clock;
use super::embed::splitmix64;

/// When every fake model was "modified" (a fixed instant keeps listings deterministic).
const MODIFIED_AT: &str = "2025-01-01T00:00:00Z";
/// Unix time of [`MODIFIED_AT`], for `/v1/models`.
const MODIFIED_UNIX: u64 = 1_735_689_600;

/// A model the fake serves, built with chained setters:
/// `FakeModel::new("llama3.2").capabilities(&["completion", "tools"]).context_length(8192)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeModel {
    pub(crate) name: String,
    pub(crate) capabilities: Vec<String>,
    pub(crate) context_length: u64,
    pub(crate) embedding_length: u64,
    pub(crate) family: String,
    pub(crate) parameter_size: String,
    pub(crate) quantization_level: String,
    pub(crate) size: u64,
    pub(crate) parameters: String,
    pub(crate) template: String,
    pub(crate) loaded: bool,
}

impl FakeModel {
    /// A chat model named `name` (`:latest` is added when no tag is given) with the
    /// `completion` capability only, a context of 8192 tokens and llama-like details.
    pub fn new(name: &str) -> Self {
        Self {
            name: normalize_name(name),
            capabilities: vec!["completion".to_owned()],
            context_length: 8192,
            embedding_length: 384,
            family: "llama".to_owned(),
            parameter_size: "3.2B".to_owned(),
            quantization_level: "Q4_K_M".to_owned(),
            size: 2_019_393_189,
            parameters: "temperature 0.7".to_owned(),
            template: "{{ .Prompt }}".to_owned(),
            loaded: false,
        }
    }

    /// An embedding model (capability `embedding` only, bert family, 384 dimensions).
    pub fn embedding(name: &str) -> Self {
        Self::new(name)
            .capabilities(&["embedding"])
            .family("nomic-bert")
            .parameter_size("137M")
            .quantization("F16")
            .size(274_302_450)
            .context_length(2048)
    }

    /// Replaces the capabilities: any of `completion`, `tools`, `vision`, `thinking`,
    /// `embedding` (other strings are reported as given).
    pub fn capabilities(mut self, capabilities: &[&str]) -> Self {
        self.capabilities = capabilities.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Context length reported as `model_info["<family>.context_length"]` and in `/api/ps`.
    pub fn context_length(mut self, tokens: u64) -> Self {
        self.context_length = tokens;
        self
    }

    /// Dimension of the vectors `/api/embed` returns for this model (at least 1).
    pub fn embedding_length(mut self, dimensions: u64) -> Self {
        self.embedding_length = dimensions.max(1);
        self
    }

    /// Model family (`details.family`, and the prefix of `model_info` keys).
    pub fn family(mut self, family: &str) -> Self {
        self.family = family.to_owned();
        self
    }

    /// Parameter size label, e.g. `8.0B`.
    pub fn parameter_size(mut self, label: &str) -> Self {
        self.parameter_size = label.to_owned();
        self
    }

    /// Quantization level label, e.g. `Q4_K_M`.
    pub fn quantization(mut self, level: &str) -> Self {
        self.quantization_level = level.to_owned();
        self
    }

    /// Size in bytes (`/api/tags`, `/api/ps`).
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = bytes;
        self
    }

    /// The Modelfile parameters text `/api/show` returns, e.g. `"temperature 0.7\nnum_ctx 4096"`.
    pub fn parameters(mut self, text: &str) -> Self {
        self.parameters = text.to_owned();
        self
    }

    /// The prompt template `/api/show` returns.
    pub fn template(mut self, text: &str) -> Self {
        self.template = text.to_owned();
        self
    }

    /// Whether the model is already loaded (listed by `/api/ps`) before any request uses it.
    pub fn loaded(mut self, loaded: bool) -> Self {
        self.loaded = loaded;
        self
    }

    /// The full name, with its tag (`llama3.2:latest`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the model has capability `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// The name as Ollama prints it in capability errors:
    /// `registry.ollama.ai/library/llama3.2:latest`.
    pub(crate) fn registry_name(&self) -> String {
        let first = self.name.split('/').next().unwrap_or_default();
        let has_host = self.name.contains('/') && (first.contains('.') || first.contains(':'));
        match self.name.matches('/').count() {
            0 => format!("registry.ollama.ai/library/{}", self.name),
            _ if has_host => self.name.clone(),
            _ => format!("registry.ollama.ai/{}", self.name),
        }
    }

    /// A stable sha256-looking digest derived from the name.
    pub(crate) fn digest(&self) -> String {
        let mut seed = super::embed::fnv1a(self.name.as_bytes());
        (0..4)
            .map(|_| {
                seed = splitmix64(seed);
                format!("{seed:016x}")
            })
            .collect()
    }

    pub(crate) fn details(&self) -> Value {
        json!({
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        })
    }

    /// One entry of `/api/tags`.
    pub(crate) fn tags_entry(&self) -> Value {
        json!({
            "name": self.name,
            "model": self.name,
            "modified_at": MODIFIED_AT,
            "size": self.size,
            "digest": self.digest(),
            "details": self.details(),
        })
    }

    /// One entry of `/api/ps`; the model stays loaded for five more minutes.
    pub(crate) fn ps_entry(&self) -> Value {
        let expires = std::time::SystemTime::now() + std::time::Duration::from_secs(300);
        json!({
            "name": self.name,
            "model": self.name,
            "size": self.size,
            "digest": self.digest(),
            "details": self.details(),
            "expires_at": clock::rfc3339(expires),
            "size_vram": self.size,
            "context_length": self.context_length,
        })
    }

    /// The `/api/show` answer.
    pub(crate) fn show(&self) -> Value {
        let f = &self.family;
        let mut info = serde_json::Map::new();
        info.insert("general.architecture".into(), json!(f));
        info.insert("general.file_type".into(), json!(15));
        info.insert("general.parameter_count".into(), json!(self.size * 2));
        info.insert("general.quantization_version".into(), json!(2));
        info.insert(format!("{f}.context_length"), json!(self.context_length));
        info.insert(
            format!("{f}.embedding_length"),
            json!(self.embedding_length),
        );
        info.insert(format!("{f}.block_count"), json!(28));
        info.insert(format!("{f}.attention.head_count"), json!(24));
        json!({
            "license": "fake license",
            "modelfile": format!("FROM {}\n", self.name),
            "parameters": self.parameters,
            "template": self.template,
            "details": self.details(),
            "model_info": info,
            "capabilities": self.capabilities,
            "modified_at": MODIFIED_AT,
        })
    }

    /// One entry of `/v1/models`.
    pub(crate) fn openai_entry(&self) -> Value {
        let owner = match self.name.rsplit_once('/') {
            Some((owner, _)) => owner.rsplit('/').next().unwrap_or("library"),
            None => "library",
        };
        json!({
            "id": self.name,
            "object": "model",
            "created": MODIFIED_UNIX,
            "owned_by": owner,
        })
    }
}

/// Ollama's name normalization: a name without a tag means `:latest`.
pub(crate) fn normalize_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}
