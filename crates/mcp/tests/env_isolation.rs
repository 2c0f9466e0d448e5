//! A stdio server gets only the environment its configuration names plus PATH, HOME and LANG:
//! never the bot's secrets. Its own test binary, because it sets variables in the test process.

mod common;

use common::*;
use mcpcord_mcp::{Callbacks, INHERITED_ENV};
use serde_json::json;

#[tokio::test]
async fn a_child_sees_only_its_configured_environment() {
    // SAFETY: this is the only test in this binary, and no other thread reads the
    // environment while it is being set.
    unsafe {
        std::env::set_var("DISCORD_TOKEN", "MTIz.secret-token");
        std::env::set_var("DATABASE_URL", "postgres://bot:hunter2@db/mcpcord");
        std::env::set_var("OPENAI_API_KEY", "sk-secret");
    }
    let spec = stdio("t", &[])
        .with_env("MCP_ONLY", "1")
        .with_env("TZ", "UTC");
    let host = ready_host(vec![spec], Callbacks::default()).await;
    let output = call(&host, "env", json!({})).await;
    let names: Vec<String> = serde_json::from_str(&output.text).expect("a JSON array of names");
    for secret in ["DISCORD_TOKEN", "DATABASE_URL", "OPENAI_API_KEY"] {
        assert!(
            !names.contains(&secret.to_owned()),
            "{secret} leaked: {names:?}"
        );
    }
    assert!(names.contains(&"MCP_ONLY".to_owned()) && names.contains(&"TZ".to_owned()));
    let allowed: Vec<&str> = INHERITED_ENV
        .iter()
        .copied()
        .chain(["MCP_ONLY", "TZ"])
        .collect();
    assert!(
        names.iter().all(|name| allowed.contains(&name.as_str())),
        "unexpected variables: {names:?}"
    );
    within(host.shutdown()).await;
}
