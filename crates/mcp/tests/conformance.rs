//! The official MCP client conformance suite against the host: every client scenario the
//! installed suites offer for the current (2026-07-28) and previous (2025-11-25) dated protocol
//! versions, each run by the suite against `mcpcord-conformance-client` (src/bin), which drives
//! the host — twice: with the lifecycle the scenario's version calls for, and through the bot's
//! own path (`--lifecycle auto`: the spec the bot builds from `[mcp.servers]`, lifecycle
//! `Auto`), so a scenario that only passes with a hand-picked lifecycle is caught. Known failures are in tests/conformance/expected-failures-VERSION.yml, each with
//! its reason; the test fails on any other failure, and on a baselined scenario that passes.
//!
//! Installed by ./scripts/test (or ./scripts/install-tools) into .tools/npm: suite 0.1.16
//! (scenarios up to 2025-11-25) and 0.2.0-alpha.12 (adds 2026-07-28), and Node 22.
//! The suite's per-scenario results (checks.json, the client's stderr) are kept in
//! target/tmp/conformance/ for a look after a failure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcpcord_testkit::conformance::{
    ClientRun, Outcome, SUITE_0_1_16, SUITE_0_2_0_ALPHA_12, ScenarioResult, baseline_entries,
    client_scenarios, run_client_scenarios,
};

/// Scenarios run at once (CI has 2 cores; a scenario mostly waits on localhost traffic).
const PARALLELISM: usize = 2;
/// Longest one scenario may take, Node start-up included (they take about 1–2 s).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// (suite package, protocol version) pairs: every client scenario of both dated versions, and
/// 2025-11-25 under both releases (0.2.0-alpha.12 adds scenarios and checks to it).
const RUNS: [(&str, &str); 3] = [
    (SUITE_0_1_16, "2025-11-25"),
    (SUITE_0_2_0_ALPHA_12, "2025-11-25"),
    (SUITE_0_2_0_ALPHA_12, "2026-07-28"),
];

/// How the client connects: `pinned` picks the lifecycle from the scenario's version; `auto`
/// is the bot's own path (extra client arguments for each).
const PATHS: [(&str, &str); 2] = [("pinned", ""), ("auto", " --lifecycle auto")];

fn baseline(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/conformance/expected-failures-{version}.yml"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_scenarios_of_both_protocol_versions() {
    let client = env!("CARGO_BIN_EXE_mcpcord-conformance-client");
    assert!(
        !client.contains(' '),
        "the suite splits its --command on spaces: {client}"
    );
    let results_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance");
    let _ = std::fs::remove_dir_all(&results_root);
    let started = Instant::now();

    let mut report = Vec::new();
    let mut offered: Vec<(&str, Vec<String>)> = Vec::new();
    for (package, version) in RUNS {
        let scenarios = client_scenarios(package, version).await;
        assert!(
            scenarios.iter().any(|s| s == "tools_call"),
            "{package} offers no tools_call scenario for {version}: {scenarios:?}"
        );
        for (path, extra) in PATHS {
            let run = ClientRun {
                package: package.to_owned(),
                spec_version: version.to_owned(),
                command: format!("{client} --protocol {version}{extra}"),
                baseline: Some(baseline(version)),
                results_dir: results_root.join(format!("{package}-{version}-{path}")),
                timeout: SCENARIO_TIMEOUT,
                force: false,
            };
            let results = run_client_scenarios(&run, &scenarios, PARALLELISM).await;
            report.push((package, version, path, results));
        }
        offered.push((version, scenarios));
    }

    // A baseline entry naming no offered scenario would excuse nothing and never go stale.
    for version in ["2025-11-25", "2026-07-28"] {
        let text = std::fs::read_to_string(baseline(version)).expect("the baseline file");
        for entry in baseline_entries(&text) {
            let scenario = entry.split(':').next().unwrap_or_default();
            assert!(
                offered
                    .iter()
                    .any(|(v, list)| *v == version && list.iter().any(|s| s == scenario)),
                "expected-failures-{version}.yml names `{entry}`, which no suite offers for {version}"
            );
        }
    }

    assert_all_ok(&report, started);
}

/// The extension scenarios of client credentials (SEP-1046,
/// `io.modelcontextprotocol/oauth-client-credentials`): `auth/client-credentials-basic` (a client
/// secret, HTTP Basic) and `auth/client-credentials-jwt` (an ES256 `private_key_jwt` assertion).
/// No dated version lists extension scenarios, so they run with `--force` at 2026-07-28, on both
/// lifecycle paths, against tests/conformance/expected-failures-extensions.yml. The suite's other
/// extensions (enterprise-managed authorization, DPoP, workload identity federation) are not
/// part of issue 17 and are not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_extension_scenarios() {
    let client = env!("CARGO_BIN_EXE_mcpcord-conformance-client");
    let version = "2026-07-28";
    let results_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-extensions");
    let _ = std::fs::remove_dir_all(&results_root);
    let started = Instant::now();
    let scenarios = EXTENSION_SCENARIOS.map(str::to_owned);
    let mut report = Vec::new();
    for (path, extra) in PATHS {
        let run = ClientRun {
            package: SUITE_0_2_0_ALPHA_12.to_owned(),
            spec_version: version.to_owned(),
            command: format!("{client} --protocol {version}{extra}"),
            baseline: Some(baseline("extensions")),
            results_dir: results_root.join(format!("{SUITE_0_2_0_ALPHA_12}-{version}-{path}")),
            timeout: SCENARIO_TIMEOUT,
            force: true,
        };
        let results = run_client_scenarios(&run, &scenarios, PARALLELISM).await;
        for result in &results {
            assert!(
                !result.output.contains("SKIPPED"),
                "{} was skipped although forced:\n{}",
                result.scenario,
                result.output
            );
        }
        report.push((SUITE_0_2_0_ALPHA_12, version, path, results));
    }
    let text = std::fs::read_to_string(baseline("extensions")).expect("the baseline file");
    for entry in baseline_entries(&text) {
        let scenario = entry.split(':').next().unwrap_or_default();
        assert!(
            EXTENSION_SCENARIOS.contains(&scenario),
            "expected-failures-extensions.yml names `{entry}`, which this run does not run"
        );
    }
    assert_all_ok(&report, started);
}

/// The extension scenarios run (client credentials).
const EXTENSION_SCENARIOS: [&str; 2] = [
    "auth/client-credentials-basic",
    "auth/client-credentials-jwt",
];

/// One run's results: suite, version, lifecycle path, scenarios.
type Report<'a> = Vec<(&'a str, &'a str, &'a str, Vec<ScenarioResult>)>;

/// Prints the summary and fails on any scenario that is not ok.
fn assert_all_ok(report: &Report<'_>, started: Instant) {
    let mut summary = String::new();
    let mut failures = Vec::new();
    for (package, version, path, results) in report {
        let count = |outcome| results.iter().filter(|r| r.outcome == outcome).count();
        summary.push_str(&format!(
            "\n{package} at {version}, {path} lifecycle: {} passed, {} expected failures, {} not ok\n",
            count(Outcome::Passed),
            count(Outcome::ExpectedFailure),
            results.iter().filter(|r| !r.outcome.is_ok()).count(),
        ));
        for result in results {
            summary.push_str(&format!("  {}\n", line(result)));
            if !result.outcome.is_ok() {
                failures.push(format!(
                    "{package} at {version}, {path} lifecycle, {}\n{}",
                    line(result),
                    tail(&result.output, 3000)
                ));
            }
        }
    }
    summary.push_str(&format!(
        "\nconformance: {:.1} s in all\n",
        started.elapsed().as_secs_f64()
    ));
    println!("{summary}");
    assert!(
        failures.is_empty(),
        "conformance scenarios not ok:\n{summary}\n{}",
        failures.join("\n\n")
    );
}

fn line(result: &ScenarioResult) -> String {
    let checks = result
        .checks
        .map(|(passed, total)| format!("{passed}/{total} checks"))
        .unwrap_or_else(|| "no checks".to_owned());
    format!(
        "{:<40} {:<28} {:<14} {:.1} s",
        result.scenario,
        result.outcome.label(),
        checks,
        result.elapsed.as_secs_f64()
    )
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
