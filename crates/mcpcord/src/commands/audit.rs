//! `mcpcord audit export`: the operator's copy of the audit log, as JSON Lines on stdout
//! (oldest first), optionally since a time and for one guild. Read from the database directly
//! (the bot may be running): no model backend is asked and no MCP server is started.

use std::io::Write as _;
use std::time::SystemTime;

use anyhow::Context as _;
use mcpcord_engine::{AuditFilter, GuildId};
use mcpcord_memory::Store;

use super::Failure;
use crate::cli::{AuditCommand, AuditExportArgs};
use crate::config::Config;

/// Runs one `audit` subcommand.
pub async fn run(config: &Config, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Export(args) => export(config, &args).await,
    }
}

async fn export(config: &Config, args: &AuditExportArgs) -> Result<(), Failure> {
    let since = args
        .since
        .as_deref()
        .map(|since| parse_since(since, SystemTime::now()))
        .transpose()
        .map_err(Failure::Usage)?;
    let store = Store::connect(config.storage.url.expose().as_str())
        .await
        .with_context(|| format!("cannot open the database at {}", config.storage.url))?;
    let filter = AuditFilter {
        guild: args.guild.map(GuildId::new),
        since,
        oldest_first: true,
        ..AuditFilter::default()
    };
    let records = store.audit(&filter).await;
    store.close().await;
    let records = records.context("cannot read the audit log")?;
    let mut out = std::io::stdout().lock();
    for record in &records {
        writeln!(out, "{}", record.to_json()).context("cannot write to stdout")?;
    }
    out.flush().context("cannot write to stdout")?;
    Ok(())
}

/// `--since`: an age counted back from `now` (`2h`, `7d`), a day (`2026-01-31`, its start in
/// UTC) or an RFC 3339 time.
pub fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let text = text.trim();
    let unclear = || {
        format!(
            "--since {text:?} is not a time: give an age such as 2h or 7d, a day such as \
             2026-01-31, or an RFC 3339 time such as 2026-01-31T12:00:00Z"
        )
    };
    if let Ok(age) = humantime::parse_duration(text) {
        return now.checked_sub(age).ok_or_else(unclear);
    }
    let moment = if text.len() == "YYYY-MM-DD".len() {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    humantime::parse_rfc3339_weak(&moment).map_err(|_| unclear())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn since_reads_ages_days_and_times() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(parse_since("2h", now), Ok(now - Duration::from_secs(7_200)));
        assert_eq!(
            parse_since("7d", now),
            Ok(now - Duration::from_secs(7 * 86_400))
        );
        assert_eq!(
            parse_since("2023-11-14", now),
            Ok(UNIX_EPOCH + Duration::from_secs(1_699_920_000))
        );
        assert_eq!(
            parse_since("2023-11-14T22:13:20Z", now),
            Ok(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        let error = parse_since("last tuesday", now).unwrap_err();
        assert!(error.contains("2h or 7d"), "{error}");
    }
}
