//! The host against the testkit MCP server binary over stdio: catalogue and calls, crashes,
//! hangs, floods, input requests, replicas, tool list changes, name collisions, approval,
//! memory limits, prompts and resources, and shutdown without orphans.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use mcpcord_mcp::{
    Approval, ApprovalPolicy, CallOptions, Callbacks, ConnectError, HostError, InputAnswer,
    InputMode, Lifecycle, McpHost, RestartPolicy, ServerState, ToolPolicy,
};
use mcpcord_testkit::mcp_server::{DEFAULT_LARGE_OUTPUT_SIZE, EXTRA_TOOL, README_TEXT, TEST_PNG};
use serde_json::json;

fn names(host: &McpHost) -> Vec<String> {
    host.tools().into_iter().map(|t| t.name).collect()
}

#[tokio::test]
async fn the_catalogue_offers_the_tools_and_calls_reach_them() {
    let host = ready_host(vec![stdio("t", &[])], Callbacks::default()).await;
    let tools = host.tools();
    let mut listed = names(&host);
    listed.sort();
    assert_eq!(
        listed,
        [
            "add",
            "ask",
            "crash",
            "delete",
            "echo",
            "env",
            "image",
            "large_output",
            "progress",
            "sleep",
            "toggle_extra"
        ]
    );
    let add = tools.iter().find(|t| t.name == "add").unwrap();
    assert_eq!((add.server.as_str(), add.tool.as_str()), ("t", "add"));
    assert_eq!(add.input_schema["properties"]["a"]["type"], "number");
    assert!(!add.description.is_empty());

    let echo = call(&host, "echo", json!({"text": "héllo"})).await;
    assert_eq!((echo.is_error, echo.text.as_str()), (false, "héllo"));

    // Bad arguments are a result the model can read and correct, not a failure.
    let bad = call(&host, "add", json!({"a": "two", "b": 3})).await;
    assert!(bad.is_error, "{bad:?}");
    assert!(bad.text.contains("invalid type"), "{}", bad.text);

    let image = call(&host, "image", json!({})).await;
    assert_eq!(image.images.len(), 1);
    assert_eq!(image.images[0].mime_type, "image/png");
    assert_eq!(image.images[0].data, TEST_PNG);
    assert!(image.text.contains("[image: image/png"), "{}", image.text);

    let unknown = host
        .call_tool("nope", json!({}), CallOptions::default())
        .await;
    assert!(
        matches!(unknown, Err(HostError::UnknownTool { .. })),
        "{unknown:?}"
    );
    let not_object = host
        .call_tool("echo", json!([1]), CallOptions::default())
        .await;
    assert!(matches!(
        not_object,
        Err(HostError::InvalidArguments { .. })
    ));

    let status = &host.status()[0];
    assert_eq!(status.state, ServerState::Ready);
    assert_eq!(status.tools, 11);
    assert_eq!(status.protocol.as_deref(), Some("2026-07-28"));
    assert!(
        status
            .implementation
            .as_deref()
            .unwrap()
            .starts_with("mcpcord-test-mcp")
    );
    let replica = &status.replicas[0];
    assert!(replica.pid.is_some() && replica.uptime.is_some());
    assert_eq!(
        replica.calls, 3,
        "calls refused before reaching a server are not counted"
    );
    if cfg!(target_os = "linux") {
        let stats = replica.stats.expect("process stats on Linux");
        assert!(stats.rss_bytes > 0);
    }
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_legacy_server_is_reached_through_initialize() {
    let host = ready_host(vec![stdio("old", &["--legacy"])], Callbacks::default()).await;
    assert_eq!(host.status()[0].protocol.as_deref(), Some("2025-11-25"));
    assert_eq!(
        call(&host, "echo", json!({"text": "still"})).await.text,
        "still"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn servers_answering_discover_with_an_empty_result_or_never_are_reached_through_initialize() {
    for reply in ["empty", "never"] {
        // The discovery probe gets a third of the start timeout.
        let spec = stdio("old", &["--discover", reply]).with_start_timeout(Duration::from_secs(9));
        let host = ready_host(vec![spec], Callbacks::default()).await;
        let status = &host.status()[0];
        assert_eq!(status.protocol.as_deref(), Some("2025-11-25"), "{reply}");
        assert_eq!(
            status.learned_lifecycle,
            Some(Lifecycle::Initialize),
            "{reply}"
        );
        assert_eq!(
            status.restarts(),
            0,
            "{reply}: connected on the first start"
        );
        assert_eq!(
            call(&host, "echo", json!({"text": reply})).await.text,
            reply
        );
        within(host.shutdown()).await;
    }
}

#[tokio::test]
async fn a_crash_mid_call_fails_the_call_quickly_and_the_server_comes_back() {
    let host = ready_host(vec![stdio("t", &[])], Callbacks::default()).await;
    let old_pid = pids(&host)[0];
    let started = Instant::now();
    let crashed = within(host.call_tool("crash", json!({}), CallOptions::default())).await;
    let failed_after = started.elapsed();
    assert!(
        matches!(crashed, Err(HostError::ConnectionLost { .. })),
        "{crashed:?}"
    );
    assert!(
        failed_after < Duration::from_secs(2),
        "took {failed_after:?}"
    );

    eventually("the server is back with a new process", || {
        let status = &host.status()[0];
        status.state == ServerState::Ready && status.replicas[0].pid != Some(old_pid)
    })
    .await;
    let back_after = started.elapsed();
    eprintln!("crash: call failed after {failed_after:?}, server ready again after {back_after:?}");
    let status = &host.status()[0];
    assert_eq!(status.restarts(), 1);
    assert!(
        status.last_error().unwrap().contains("exit status 3"),
        "{:?}",
        status.last_error()
    );
    assert!(!alive(old_pid));
    assert_eq!(
        call(&host, "echo", json!({"text": "back"})).await.text,
        "back"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_hung_server_is_detected_killed_and_restarted() {
    let spec = stdio("t", &[]).with_health(quick_health());
    let host = ready_host(vec![spec], Callbacks::default()).await;
    let old_pid = pids(&host)[0];
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &old_pid.to_string()])
        .status()
        .expect("run kill");
    assert!(stopped.success());
    eventually("the hung server is replaced", || {
        let status = &host.status()[0];
        status.state == ServerState::Ready && status.replicas[0].pid != Some(old_pid)
    })
    .await;
    let status = &host.status()[0];
    assert!(
        status.last_error().unwrap().contains("health check"),
        "{:?}",
        status.last_error()
    );
    eventually("the hung process is gone", || !alive(old_pid)).await;
    assert_eq!(call(&host, "echo", json!({"text": "ok"})).await.text, "ok");
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_call_past_its_timeout_is_abandoned_and_the_server_stays() {
    let spec = stdio("t", &[]).with_call_timeout(Duration::from_millis(300));
    let host = ready_host(vec![spec], Callbacks::default()).await;
    let pid = pids(&host)[0];
    let started = Instant::now();
    let result =
        within(host.call_tool("sleep", json!({"ms": 600_000}), CallOptions::default())).await;
    assert!(
        matches!(result, Err(HostError::Timeout { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let error = result.unwrap_err();
    assert!(
        error.model_message().contains("no answer within 300ms"),
        "{}",
        error.model_message()
    );
    assert_eq!(
        call(&host, "echo", json!({"text": "alive"})).await.text,
        "alive"
    );
    assert_eq!(pids(&host), [pid], "a slow tool is not a hung server");
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_flood_of_output_is_truncated_with_a_note() {
    let host = ready_host(vec![stdio("t", &[])], Callbacks::default()).await;
    let output = call(&host, "large_output", json!({})).await;
    let cut = output.truncated.expect("truncated");
    assert_eq!(cut.original_bytes, DEFAULT_LARGE_OUTPUT_SIZE);
    assert_eq!(cut.kept_bytes, 32 * 1024);
    assert!(output.text.len() < 32 * 1024 + 100);
    assert!(output.text.ends_with(&format!(
        "[output truncated: showing the first 32768 of {DEFAULT_LARGE_OUTPUT_SIZE} bytes]"
    )));
    let small = call(&host, "large_output", json!({"size": 100})).await;
    assert!(small.truncated.is_none());
    within(host.shutdown()).await;
}

#[tokio::test]
async fn input_requests_are_answered_by_the_engine_and_declined_without_it() {
    for args in [&[][..], &["--legacy"]] {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = asked.clone();
        let callbacks =
            Callbacks::default().with_input(move |request: mcpcord_mcp::InputRequest| {
                seen.lock().unwrap().push(request.clone());
                async { InputAnswer::Accept(Some(json!({"name": "Ferris"}))) }
            });
        let host = ready_host(vec![stdio("t", args)], callbacks).await;
        let answered = call(&host, "ask", json!({"question": "Who are you?"})).await;
        assert_eq!(answered.text, "the user answered: Ferris", "{args:?}");
        let requests = asked.lock().unwrap().clone();
        assert_eq!(requests.len(), 1, "{args:?}");
        assert_eq!(requests[0].server, "t");
        assert_eq!(requests[0].message, "Who are you?");
        let InputMode::Form { schema } = &requests[0].mode else {
            panic!("expected a form");
        };
        assert!(schema["properties"]["name"].is_object(), "{schema}");

        // The call's own handler wins over the host's.
        let options = CallOptions::default().with_input(|_| async { InputAnswer::Cancel });
        let cancelled = within(host.call_tool("ask", json!({}), options))
            .await
            .unwrap();
        assert_eq!(
            cancelled.text, "the user cancelled the question",
            "{args:?}"
        );
        within(host.shutdown()).await;

        let host = ready_host(vec![stdio("t", args)], Callbacks::default()).await;
        let declined = call(&host, "ask", json!({})).await;
        assert_eq!(declined.text, "the user declined to answer", "{args:?}");
        within(host.shutdown()).await;
    }
}

#[tokio::test]
async fn replicas_run_apart_and_share_the_calls() {
    let host = ready_host(vec![stdio("t", &[]).with_replicas(3)], Callbacks::default()).await;
    let mut distinct = pids(&host);
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
    let calls = (0..6).map(|_| host.call_tool("sleep", json!({"ms": 300}), CallOptions::default()));
    for result in within(futures::future::join_all(calls)).await {
        assert_eq!(result.unwrap().text, "slept 300 ms");
    }
    let served: Vec<u64> = host.status()[0].replicas.iter().map(|r| r.calls).collect();
    assert_eq!(served, [2, 2, 2], "calls are balanced by load");
    for _ in 0..3 {
        call(&host, "echo", json!({"text": "x"})).await;
    }
    let served: Vec<u64> = host.status()[0].replicas.iter().map(|r| r.calls).collect();
    assert_eq!(served.iter().sum::<u64>(), 9);
    assert!(served.iter().all(|&n| n >= 2), "{served:?}");
    within(host.shutdown()).await;
}

#[tokio::test]
async fn tool_list_changes_are_followed_on_both_lifecycles() {
    for args in [&[][..], &["--legacy"]] {
        let host = ready_host(vec![stdio("t", args)], Callbacks::default()).await;
        let mut changes = host.catalogue_changes();
        changes.borrow_and_update();
        assert!(!names(&host).contains(&EXTRA_TOOL.to_owned()));
        call(&host, "toggle_extra", json!({})).await;
        within(changes.changed()).await.unwrap();
        eventually("the extra tool is listed", || {
            names(&host).contains(&EXTRA_TOOL.to_owned())
        })
        .await;
        assert_eq!(
            call(&host, EXTRA_TOOL, json!({})).await.text,
            "tool `extra` answered"
        );
        call(&host, "toggle_extra", json!({})).await;
        eventually("the extra tool is gone again", || {
            !names(&host).contains(&EXTRA_TOOL.to_owned())
        })
        .await;
        within(host.shutdown()).await;
    }
}

#[tokio::test]
async fn colliding_names_are_prefixed_with_the_server_and_mapped_back() {
    let mut policy = ToolPolicy::default();
    policy.denied.insert("crash".into());
    let host = ready_host(
        vec![stdio("a", &[]), stdio("b", &[]).with_tools(policy)],
        Callbacks::default(),
    )
    .await;
    let listed = names(&host);
    assert!(listed.contains(&"a__echo".to_owned()) && listed.contains(&"b__echo".to_owned()));
    assert!(
        listed.contains(&"crash".to_owned()),
        "only `a` offers crash: {listed:?}"
    );
    assert!(!listed.contains(&"b__crash".to_owned()));
    let b_echo = host.catalogue().get("b__echo").cloned().unwrap();
    assert_eq!(
        (b_echo.server.as_str(), b_echo.tool.as_str()),
        ("b", "echo")
    );
    assert_eq!(
        call(&host, "b__echo", json!({"text": "to b"})).await.text,
        "to b"
    );
    let status = host.status();
    assert_eq!(
        status
            .iter()
            .map(|s| s.replicas[0].calls)
            .collect::<Vec<_>>(),
        [0, 1]
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn ask_tools_wait_for_approval_and_deny_tools_are_never_offered() {
    let mut policy = ToolPolicy::default();
    policy.approval.insert("echo".into(), ApprovalPolicy::Ask);
    policy.approval.insert("add".into(), ApprovalPolicy::Deny);
    let host = ready_host(
        vec![stdio("t", &[]).with_tools(policy)],
        Callbacks::default(),
    )
    .await;
    let listed = names(&host);
    assert!(!listed.contains(&"add".to_owned()), "{listed:?}");
    assert_eq!(
        host.catalogue().get("echo").unwrap().approval,
        ApprovalPolicy::Ask
    );
    let refused = host
        .call_server_tool("t", "add", json!({"a": 1, "b": 2}), CallOptions::default())
        .await;
    assert!(
        matches!(refused, Err(HostError::NotOffered { .. })),
        "{refused:?}"
    );

    // Nobody to ask: denied.
    let unasked = host
        .call_tool("echo", json!({"text": "x"}), CallOptions::default())
        .await;
    assert!(
        matches!(unasked, Err(HostError::Denied { .. })),
        "{unasked:?}"
    );

    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let approving =
        CallOptions::default().with_approver(move |request: mcpcord_mcp::ApprovalRequest| {
            seen.lock().unwrap().push(request);
            async { Approval::Approved }
        });
    let approved = within(host.call_tool("echo", json!({"text": "yes"}), approving)).await;
    assert_eq!(approved.unwrap().text, "yes");
    let request = requests.lock().unwrap()[0].clone();
    assert_eq!(
        (request.server.as_str(), request.tool.as_str()),
        ("t", "echo")
    );
    assert_eq!(request.arguments, json!({"text": "yes"}));

    let denying = CallOptions::default().with_approver(|_| async {
        Approval::Denied {
            reason: Some("not now".into()),
        }
    });
    let denied = within(host.call_tool("echo", json!({"text": "no"}), denying)).await;
    let error = denied.unwrap_err();
    assert!(matches!(&error, HostError::Denied { reason } if reason.as_deref() == Some("not now")));
    assert!(error.model_message().contains("not now"));
    assert_eq!(
        host.status()[0].replicas[0].calls,
        1,
        "denied calls never reach the server"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn shutdown_leaves_no_process_behind() {
    let host = ready_host(
        vec![stdio("a", &[]).with_replicas(2), stdio("b", &["--legacy"])],
        Callbacks::default(),
    )
    .await;
    let children = pids(&host);
    assert_eq!(children.len(), 3);
    assert!(children.iter().all(|&pid| alive(pid)));
    let started = Instant::now();
    within(host.shutdown()).await;
    eprintln!("shutdown of 3 stdio servers took {:?}", started.elapsed());
    for pid in children {
        assert!(!alive(pid), "process {pid} survived the shutdown");
    }
    assert!(
        host.status()
            .iter()
            .all(|s| s.state == ServerState::Stopped)
    );
}

#[tokio::test]
async fn a_server_over_its_memory_limit_is_restarted() {
    let spec = stdio("t", &[]).with_memory_limit(1024 * 1024);
    let host = McpHost::start(vec![spec], fast_options(), Callbacks::default());
    eventually("the server was restarted for its memory", || {
        let status = &host.status()[0];
        status.restarts() >= 1
            && status
                .last_error()
                .is_some_and(|e| e.contains("over the limit of 1.0 MiB"))
    })
    .await;
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_server_that_cannot_start_is_reported_and_retried() {
    let spec = mcpcord_mcp::ServerSpec::stdio("ghost", "/nonexistent/mcp-server", ["--x"]);
    let host = McpHost::start(vec![spec.clone()], fast_options(), Callbacks::default());
    assert!(!within(host.wait_ready(TIMEOUT)).await);
    eventually("it is retried", || host.status()[0].restarts() >= 2).await;
    let status = &host.status()[0];
    assert!(
        status
            .last_error()
            .unwrap()
            .contains("cannot launch `/nonexistent/mcp-server`"),
        "{:?}",
        status.last_error()
    );
    let call = host
        .call_tool("echo", json!({}), CallOptions::default())
        .await;
    assert!(matches!(call, Err(HostError::UnknownTool { .. })));
    within(host.shutdown()).await;

    let once = spec.with_restart(RestartPolicy::Never);
    let error = within(McpHost::connect(once, Callbacks::default()))
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Spawn { .. }), "{error:?}");
}

#[tokio::test]
async fn restart_policy_never_leaves_a_crashed_server_stopped() {
    let spec = stdio("t", &[]).with_restart(RestartPolicy::Never);
    let host = ready_host(vec![spec], Callbacks::default()).await;
    let _ = within(host.call_tool("crash", json!({}), CallOptions::default())).await;
    eventually("the server is stopped", || {
        host.status()[0].state == ServerState::Stopped
    })
    .await;
    assert!(host.tools().is_empty(), "a stopped server offers nothing");
    within(host.shutdown()).await;
}

#[tokio::test]
async fn prompts_and_resources_are_listed_and_read() {
    let host = ready_host(vec![stdio("t", &[])], Callbacks::default()).await;
    let prompts = within(host.list_prompts()).await;
    assert!(prompts.errors.is_empty(), "{:?}", prompts.errors);
    let greet = prompts
        .items
        .iter()
        .find(|p| p.name == "greet")
        .expect("greet");
    assert_eq!(greet.server, "t");
    assert!(greet.arguments[0].required);
    let filled = within(host.get_prompt("t", "greet", [("name".into(), "Ada".into())].into()))
        .await
        .unwrap();
    assert_eq!(filled.messages[0].role, "user");
    assert!(filled.messages[0].text.contains("Ada"));

    let resources = within(host.list_resources()).await;
    let readme = resources
        .items
        .iter()
        .find(|r| r.uri == "test://readme")
        .expect("readme");
    assert_eq!(readme.mime_type.as_deref(), Some("text/plain"));
    let templates = within(host.list_resource_templates()).await;
    assert!(
        templates
            .items
            .iter()
            .any(|t| t.uri_template == "test://echo/{text}")
    );
    let read = within(host.read_resource("t", "test://readme"))
        .await
        .unwrap();
    assert_eq!(read[0].text.as_deref(), Some(README_TEXT));
    let echo = within(host.read_resource("t", "test://echo/hello"))
        .await
        .unwrap();
    assert_eq!(echo[0].text.as_deref(), Some("hello"));
    let missing = within(host.read_resource("t", "test://nothing")).await;
    assert!(
        matches!(missing, Err(HostError::Protocol { .. })),
        "{missing:?}"
    );
    let unknown = within(host.get_prompt("nope", "greet", Default::default())).await;
    assert!(matches!(unknown, Err(HostError::UnknownServer { .. })));
    within(host.shutdown()).await;
}

/// The pids of live processes whose command line is exactly `args`.
fn processes_running(args: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted)
                })
                .filter(|&pid| alive(pid))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_server_that_never_answers_the_handshake_is_killed_at_the_start_timeout() {
    // `sleep` never reads its stdin nor answers: every start attempt times out.
    let marker = ["sleep", "4242.125"];
    let spec = mcpcord_mcp::ServerSpec::stdio("mute", marker[0], [marker[1]])
        .with_start_timeout(Duration::from_millis(300));
    let host = McpHost::start(vec![spec], fast_options(), Callbacks::default());
    assert!(!within(host.wait_ready(TIMEOUT)).await);
    eventually("a few attempts were made", || {
        host.status()[0].restarts() >= 2
    })
    .await;
    let status = &host.status()[0];
    assert!(
        status
            .last_error()
            .unwrap()
            .contains("did not start within 300ms"),
        "{:?}",
        status.last_error()
    );
    eventually("at most the current attempt is running", || {
        processes_running(&marker).len() <= 1
    })
    .await;
    within(host.shutdown()).await;
    eventually("no attempt is left running", || {
        processes_running(&marker).is_empty()
    })
    .await;
}

/// A tool the server annotates as destructive needs approval unless the configuration says
/// otherwise for the server or the tool; unannotated tools keep `auto`.
#[tokio::test]
async fn destructive_tools_ask_unless_the_configuration_says_otherwise() {
    let with = |policy: ToolPolicy| stdio("t", &[]).with_tools(policy);
    let host = ready_host(vec![with(ToolPolicy::default())], Callbacks::default()).await;
    let approval = |host: &McpHost, tool: &str| host.catalogue().get(tool).unwrap().approval;
    assert_eq!(approval(&host, "delete"), ApprovalPolicy::Ask);
    assert_eq!(
        host.catalogue().get("delete").unwrap().destructive,
        Some(true)
    );
    assert_eq!(approval(&host, "echo"), ApprovalPolicy::Auto, "unannotated");
    // Nobody can approve here: the call is refused, through either way in.
    let refused = within(host.call_tool("delete", json!({"item": "x"}), CallOptions::default()))
        .await
        .unwrap_err();
    assert!(matches!(refused, HostError::Denied { .. }), "{refused}");
    let refused =
        within(host.call_server_tool("t", "delete", json!({"item": "x"}), CallOptions::default()))
            .await
            .unwrap_err();
    assert!(matches!(refused, HostError::Denied { .. }), "{refused}");
    within(host.shutdown()).await;

    // `approval = "auto"` written for the server, or for the tool, wins over the annotation.
    let server_auto = ToolPolicy {
        default_approval: Some(ApprovalPolicy::Auto),
        ..ToolPolicy::default()
    };
    let mut tool_auto = ToolPolicy::default();
    tool_auto
        .approval
        .insert("delete".into(), ApprovalPolicy::Auto);
    for policy in [server_auto, tool_auto] {
        let host = ready_host(vec![with(policy)], Callbacks::default()).await;
        assert_eq!(approval(&host, "delete"), ApprovalPolicy::Auto);
        assert_eq!(
            call(&host, "delete", json!({"item": "x"})).await.text,
            "deleted x (not really)"
        );
        within(host.shutdown()).await;
    }
}

/// `/prompt` and `/resource` follow the server's rules: a denied server serves neither, and
/// their text is cut at the tool output limit with a note.
#[tokio::test]
async fn prompts_and_resources_follow_the_servers_policy_and_output_cap() {
    let denied = ToolPolicy {
        default_approval: Some(ApprovalPolicy::Deny),
        ..ToolPolicy::default()
    };
    let host = McpHost::start(
        vec![stdio("open", &[]), stdio("closed", &[]).with_tools(denied)],
        mcpcord_mcp::HostOptions {
            max_output_bytes: 20,
            disabled_servers: ["off".to_owned()].into(),
            ..fast_options()
        },
        Callbacks::default(),
    );
    assert!(within(host.wait_ready(Duration::from_secs(30))).await);

    let prompt = within(host.get_prompt("closed", "greet", [("name".into(), "Ada".into())].into()))
        .await
        .unwrap_err();
    assert!(matches!(prompt, HostError::ServerDenied { .. }), "{prompt}");
    assert!(
        prompt.to_string().contains("denied by configuration"),
        "{prompt}"
    );
    let resource = within(host.read_resource("closed", "test://readme"))
        .await
        .unwrap_err();
    assert!(
        matches!(resource, HostError::ServerDenied { .. }),
        "{resource}"
    );
    let off = within(host.get_prompt("off", "greet", Default::default()))
        .await
        .unwrap_err();
    assert_eq!(
        off.to_string(),
        "the MCP server `off` is disabled in the configuration"
    );
    let off = within(host.read_resource("off", "test://readme"))
        .await
        .unwrap_err();
    assert!(matches!(off, HostError::Disabled { .. }), "{off}");

    let filled = within(host.get_prompt("open", "greet", [("name".into(), "Ada".into())].into()))
        .await
        .unwrap();
    let text = &filled.messages[0].text;
    assert!(text.starts_with("Please greet Ada war"), "{text}");
    assert!(
        text.contains("[output truncated: showing the first 20 of"),
        "{text}"
    );
    let read = within(host.read_resource("open", "test://readme"))
        .await
        .unwrap();
    let text = read[0].text.as_deref().unwrap();
    assert!(text.starts_with(&README_TEXT[..20]), "{text}");
    assert!(
        text.contains(&format!(
            "[output truncated: showing the first 20 of {} bytes]",
            README_TEXT.len()
        )),
        "{text}"
    );
    within(host.shutdown()).await;
}
