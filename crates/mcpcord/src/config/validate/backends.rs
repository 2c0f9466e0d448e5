//! `[[backends]]`: each model server's name, kind, URL, API key and limits; Ollama on this
//! machine (or at `OLLAMA_HOST`) when none is written.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use super::{defaults, duration, nonzero, url, valid_name};
use crate::config::env::{self, Env};
use crate::config::raw::RawBackend;
use crate::config::report::Report;
use crate::config::secret::Secret;
use crate::config::types::{BackendConfig, BackendKind};

/// Validates every backend; the default Ollama backend when `raw` is empty.
pub(super) fn backends(raw: Vec<RawBackend>, env: &Env, report: &mut Report) -> Vec<BackendConfig> {
    if raw.is_empty() {
        return default_backend(env, report).into_iter().collect();
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, b) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("backends[{i}].{key}");
        let Some(name) = backend_name(b.name, &at("name"), report) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            report.error(at("name"), format!("{name:?} is used by another backend"));
        }
        let kind = backend_kind(b.kind.as_deref(), &at("kind"), report);
        let url = match b.url {
            Some(u) => url(&u, &at("url"), &["http", "https"], report),
            None => {
                report.error(at("url"), "is missing: e.g. \"http://127.0.0.1:11434\"");
                None
            }
        };
        let api_key = b
            .api_key_env
            .as_deref()
            .and_then(|var| api_key(var, env, &at("api_key_env"), report));
        let max_concurrency = nonzero(b.max_concurrency, 1, &at("max_concurrency"), report);
        let request_timeout = duration(b.request_timeout, "5m", &at("request_timeout"), report);
        let stall_timeout = duration(b.stall_timeout, "60s", &at("stall_timeout"), report);
        if let (Some(kind), Some(url)) = (kind, url) {
            out.push(BackendConfig {
                name,
                kind,
                url,
                api_key,
                api_key_env: b.api_key_env,
                max_concurrency,
                request_timeout,
                stall_timeout,
            });
        }
    }
    out
}

/// With no `[[backends]]`: Ollama at `OLLAMA_HOST`, else on its usual port on this machine.
fn default_backend(env: &Env, report: &mut Report) -> Option<BackendConfig> {
    let url_text = env
        .get(env::OLLAMA_HOST)
        .filter(|h| !h.is_empty())
        .map_or_else(
            || defaults::OLLAMA_URL.to_string(),
            |h| env::ollama_host_url(h),
        );
    url(&url_text, env::OLLAMA_HOST, &["http", "https"], report).map(|url| BackendConfig {
        name: "ollama".into(),
        kind: BackendKind::Ollama,
        url,
        api_key: None,
        api_key_env: None,
        max_concurrency: NonZeroU32::MIN,
        request_timeout: Duration::from_secs(300),
        stall_timeout: Duration::from_secs(60),
    })
}

/// A backend's `name`: required, and short enough to show users in errors.
fn backend_name(name: Option<String>, path: &str, report: &mut Report) -> Option<String> {
    match name {
        Some(name) if valid_name(&name) => Some(name),
        Some(name) => {
            report.error(
                path,
                format!("{name:?} must be 1-64 letters, digits, '-' or '_'"),
            );
            None
        }
        None => {
            report.error(path, "is missing: give each backend a short unique name");
            None
        }
    }
}

/// A backend's `kind`: `ollama` (the default) or `openai`.
fn backend_kind(kind: Option<&str>, path: &str, report: &mut Report) -> Option<BackendKind> {
    match kind {
        None | Some("ollama") => Some(BackendKind::Ollama),
        Some("openai") => Some(BackendKind::Openai),
        Some(other) => {
            report.error(
                path,
                format!("{other:?} is not a backend kind; allowed: ollama, openai"),
            );
            None
        }
    }
}

/// The API key in the environment variable `var` (named by `api_key_env`), which must be set.
fn api_key(var: &str, env: &Env, path: &str, report: &mut Report) -> Option<Secret> {
    match env.get(var) {
        Some(key) if !key.is_empty() => Some(Secret::new(key.clone())),
        _ => {
            report.error(path, format!("the environment variable {var} is not set"));
            None
        }
    }
}
