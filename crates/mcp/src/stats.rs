//! CPU time and resident memory of a stdio server, summed over its process group (so
//! `npx` → `node` counts as one server), read from `/proc` on Linux. Elsewhere: unknown.

use std::time::Duration;

use serde::Serialize;

/// Resource use of one server instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcessStats {
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
    /// User + system CPU time used so far.
    pub cpu_time: Duration,
    /// Processes in the group.
    pub processes: usize,
}

/// Samples the process group `pgid`; `None` when it has no processes or `/proc` is unreadable.
#[cfg(target_os = "linux")]
pub fn group_stats(pgid: u32) -> Option<ProcessStats> {
    // SAFETY: sysconf has no preconditions.
    let (page, ticks) = unsafe {
        (
            libc::sysconf(libc::_SC_PAGESIZE),
            libc::sysconf(libc::_SC_CLK_TCK),
        )
    };
    let page = u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096);
    let ticks = u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100);
    let mut total = ProcessStats::default();
    let mut cpu_ticks = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        if let Some(process) = process_stat(&entry)
            && process.pgrp == pgid
        {
            total.processes += 1;
            total.rss_bytes += process.rss_pages * page;
            cpu_ticks += process.utime + process.stime;
        }
    }
    if total.processes == 0 {
        return None;
    }
    total.cpu_time = Duration::from_millis(cpu_ticks * 1000 / ticks);
    Some(total)
}

/// The stat line of the process behind a `/proc` entry; `None` for other entries and for a
/// process that is gone.
#[cfg(target_os = "linux")]
fn process_stat(entry: &std::fs::DirEntry) -> Option<StatLine> {
    let name = entry.file_name();
    let name = name.to_str()?;
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
    parse_stat(&stat)
}

/// Samples the process group `pgid` (not supported on this platform).
#[cfg(not(target_os = "linux"))]
pub fn group_stats(_pgid: u32) -> Option<ProcessStats> {
    None
}

/// The fields of `/proc/PID/stat` that matter here.
#[derive(Debug, PartialEq, Eq)]
struct StatLine {
    pgrp: u32,
    utime: u64,
    stime: u64,
    rss_pages: u64,
}

/// Parses `/proc/PID/stat`; the command name may hold spaces and parentheses, so fields are
/// counted from the last `)`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(line: &str) -> Option<StatLine> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(StatLine {
        pgrp: u32::try_from(field(5)?).ok()?,
        utime: field(14)?,
        stime: field(15)?,
        rss_pages: field(24)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_an_awkward_name() {
        let line = "4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 \
                    12345 1000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(StatLine {
                pgrp: 4242,
                utime: 7,
                stime: 3,
                rss_pages: 250
            })
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process_group() {
        // SAFETY: getpgrp has no preconditions.
        let pgid = unsafe { libc::getpgrp() } as u32;
        let stats = group_stats(pgid).expect("this process is in its own group");
        assert!(stats.processes >= 1);
        assert!(stats.rss_bytes > 0);
    }
}
