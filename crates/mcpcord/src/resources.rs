//! The process's own resource use (resident memory, CPU time, from `/proc/self` on Linux), and
//! the periodic resource line `run` logs every `logging.resource_interval` (target
//! [`RESOURCE_LOG_TARGET`]): memory, turns, the database pool and the backends' queues.

use std::time::Duration;

use mcpcord_engine::{Engine, EngineStatus};
use tokio_util::sync::CancellationToken;

/// The tracing target of the resource line.
pub const RESOURCE_LOG_TARGET: &str = "mcpcord::resources";

/// Resource use of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessUsage {
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
    /// User + system CPU time used so far.
    pub cpu_time: Duration,
}

/// This process's resource use now; `None` where `/proc/self/stat` cannot be read.
#[cfg(target_os = "linux")]
pub fn process_usage() -> Option<ProcessUsage> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // SAFETY: sysconf has no preconditions.
    let (page, ticks) = unsafe {
        (
            libc::sysconf(libc::_SC_PAGESIZE),
            libc::sysconf(libc::_SC_CLK_TCK),
        )
    };
    let page = u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096);
    let ticks = u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100);
    let (cpu_ticks, rss_pages) = parse_stat(&stat)?;
    Some(ProcessUsage {
        rss_bytes: rss_pages * page,
        cpu_time: Duration::from_millis(cpu_ticks * 1000 / ticks),
    })
}

/// This process's resource use (not known on this platform).
#[cfg(not(target_os = "linux"))]
pub fn process_usage() -> Option<ProcessUsage> {
    None
}

/// CPU ticks (user + system) and resident pages from a `/proc/PID/stat` line; fields are
/// counted from the last `)`, since the command name may hold spaces.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(line: &str) -> Option<(u64, u64)> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some((field(14)? + field(15)?, field(24)?))
}

/// Logs the resource line every `interval` until `stop` is cancelled; nothing when `interval`
/// is zero.
pub fn spawn_resource_line(engine: Engine, interval: Duration, stop: CancellationToken) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate: nothing has happened yet
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => log_resources(&engine.status(), process_usage()),
            }
        }
    });
}

/// Writes one resource line.
pub fn log_resources(status: &EngineStatus, usage: Option<ProcessUsage>) {
    let backends: Vec<String> = status
        .backends
        .iter()
        .map(|b| format!("{}:{}/{}", b.name, b.in_flight, b.queued))
        .collect();
    let pool = status.db_pool;
    tracing::info!(
        target: RESOURCE_LOG_TARGET,
        rss_bytes = usage.map(|u| u.rss_bytes),
        cpu_seconds = usage.map(|u| u.cpu_time.as_secs_f64()),
        turns_in_flight = status.turns_in_flight,
        turns_queued = status.turns_queued,
        db_pool_open = pool.open,
        db_pool_idle = pool.idle,
        db_pool_max = pool.max,
        backend_queues = backends.join(","),
        "resources"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_and_parentheses_in_the_name_is_read() {
        let line = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 4 0 \
                    100 123456 789 18446744073709551615";
        assert_eq!(parse_stat(line), Some((10, 789)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_uses_some_memory() {
        let usage = process_usage().expect("/proc/self/stat is readable");
        assert!(usage.rss_bytes > 1 << 20, "{usage:?}");
    }
}
