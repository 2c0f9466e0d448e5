//! `[storage]`: the database URL, the bot's data folder and how long conversations are kept.

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{defaults, duration, parse_duration};
use crate::config::env::{self, Env};
use crate::config::raw::RawStorage;
use crate::config::report::Report;
use crate::config::types::{DatabaseUrl, StorageConfig};

/// Validates `[storage]`.
pub(super) fn storage(raw: RawStorage, env: &Env, report: &mut Report) -> StorageConfig {
    // In this order, so problems are reported in the order of the keys.
    let data_dir = data_dir(raw.data_dir, env, report);
    let url = database_url(raw.url, report);
    let retention = retention(raw.retention, report);
    let retention_default = raw.retention_default.and_then(|text| {
        parse_duration(&text)
            .map_err(|problem| report.error("storage.retention_default", problem))
            .ok()
    });
    let audit_retention = audit_retention(raw.audit_retention, report);
    StorageConfig {
        url,
        data_dir,
        retention,
        retention_default,
        audit_retention,
    }
}

/// `storage.audit_retention`: how long audit-log entries are kept (a year when unwritten).
fn audit_retention(written: Option<String>, report: &mut Report) -> Duration {
    let Some(text) = written else {
        return defaults::AUDIT_RETENTION;
    };
    match parse_duration(&text) {
        Ok(duration) if duration.is_zero() => {
            report.error(
                "storage.audit_retention",
                "is zero, which would delete every entry; give a duration such as \"365d\"",
            );
            defaults::AUDIT_RETENTION
        }
        Ok(duration) => duration,
        Err(problem) => {
            report.error("storage.audit_retention", problem);
            defaults::AUDIT_RETENTION
        }
    }
}

/// `storage.data_dir`, else systemd's `STATE_DIRECTORY`, else `./data`.
fn data_dir(written: Option<String>, env: &Env, report: &mut Report) -> PathBuf {
    match written {
        Some(dir) if dir.trim().is_empty() => {
            report.error("storage.data_dir", "is empty: name a folder, e.g. \"data\"");
            PathBuf::from(defaults::DATA_DIR)
        }
        Some(dir) => PathBuf::from(dir),
        // systemd's StateDirectory= may list several, separated by ':'; the first is ours.
        None => env
            .get(env::STATE_DIRECTORY)
            .and_then(|dirs| dirs.split(':').next())
            .filter(|dir| !dir.is_empty())
            .map_or_else(|| PathBuf::from(defaults::DATA_DIR), PathBuf::from),
    }
}

/// `storage.url`: a `sqlite:` or `postgres:` URL (the default SQLite file when unwritten).
fn database_url(written: Option<String>, report: &mut Report) -> DatabaseUrl {
    let text = written.unwrap_or_else(|| defaults::STORAGE_URL.into());
    let problem = match Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "sqlite" | "postgres" | "postgresql") => {
            return DatabaseUrl(u);
        }
        Ok(u) => format!(
            "scheme {:?} is not supported; use sqlite://FILE or postgres://…",
            u.scheme()
        ),
        Err(error) => format!("is not a URL ({error}); use sqlite://FILE or postgres://…"),
    };
    report.error("storage.url", problem);
    DatabaseUrl(Url::parse(defaults::STORAGE_URL).expect("the default storage URL parses"))
}

/// `storage.retention`: how long conversations are kept, per guild id.
fn retention(
    written: BTreeMap<String, String>,
    report: &mut Report,
) -> BTreeMap<NonZeroU64, Duration> {
    written
        .into_iter()
        .filter_map(|(guild, ttl)| {
            let at = format!("storage.retention.{guild}");
            let id = guild.parse::<u64>().ok().and_then(NonZeroU64::new);
            if id.is_none() {
                report.error(
                    &at,
                    "keys are guild ids, e.g. \"123456789012345678\" = \"30d\"",
                );
            }
            let ttl = duration(Some(ttl), "30d", &at, report);
            Some((id?, ttl))
        })
        .collect()
}
