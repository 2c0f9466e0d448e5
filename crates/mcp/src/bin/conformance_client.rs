//! `mcpcord-conformance-client`: drives the MCP host against one scenario of the official MCP
//! client conformance suite (`npx @modelcontextprotocol/conformance client --command …`).
//!
//! Usage: `mcpcord-conformance-client [--protocol VERSION] [--lifecycle auto] URL`. The suite
//! appends the URL of its scenario server and sets `MCP_CONFORMANCE_SCENARIO` (and
//! `MCP_CONFORMANCE_PROTOCOL_VERSION` when run with `--spec-version`; `--protocol` wins over it,
//! for suites that do not forward it).
//!
//! It does what the bot does with a server, through the host only: connect with the lifecycle of
//! the protocol version (the `initialize` handshake up to 2025-11-25, `server/discover` for
//! 2026-07-28, automatic otherwise) — or, with `--lifecycle auto`, the way the bot itself
//! connects: the server spec the bot builds from `[mcp.servers.NAME] url = "…"` with every
//! default, whose lifecycle is `Auto` whatever the version — list the tools, call every tool with arguments built from
//! its input schema (or make the calls the scenario's context lists), accept input requests
//! without filling anything in (the host applies the form's defaults), then list and get the
//! prompts and list and read the resources. Scenario-specific: `json-schema-2020-12-preservation`
//! gets the schema the host kept for the focal tool echoed back.
//!
//! Exit status 1 when the host cannot connect (or the run takes too long), else 0: the suite's
//! checks judge the rest, and scenario servers implement only what their checks need, so a
//! failed request is logged, not fatal.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use mcpcord_mcp::{
    AuthSpec, CallOptions, Callbacks, ClientCredential, ClientCredentialsSpec, HeadlessAuthorizer,
    InputAnswer, InputMode, InputRequest, Lifecycle, McpHost, OAuthSpec, RestartPolicy, ServerSpec,
    SigningAlgorithm, ToolDescriptor, TransportSpec,
};
use serde_json::{Map, Value, json};

/// The server name the scenario's server gets in the host.
const SERVER: &str = "conformance";
/// Longest the whole run may take (the suite's own timeout is 30 s by default).
const DEADLINE: Duration = Duration::from_secs(25);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,mcpcord_mcp=debug".into()),
        )
        .init();
    let Some(spec) = spec_from_args(std::env::args().skip(1)) else {
        eprintln!("usage: mcpcord-conformance-client [--protocol VERSION] [--lifecycle auto] URL");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome =
        runtime.block_on(async { tokio::time::timeout(DEADLINE, run(&scenario, spec)).await });
    let error = match outcome {
        Ok(Ok(())) => return ExitCode::SUCCESS,
        Ok(Err(error)) => error,
        Err(_) => format!("gave up after {DEADLINE:?}"),
    };
    eprintln!("conformance client: {error}");
    ExitCode::FAILURE
}

/// The server spec the command line asks for; `None` without a URL.
fn spec_from_args(mut args: impl Iterator<Item = String>) -> Option<ServerSpec> {
    let mut protocol = std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").ok();
    let mut production = false;
    let mut url = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--protocol" => protocol = args.next(),
            "--lifecycle" => production = args.next().as_deref() == Some("auto"),
            _ => url = Some(arg),
        }
    }
    let url = url?;
    Some(if production {
        production_spec(&url)
    } else {
        pinned_spec(&url, protocol.as_deref())
    })
}

/// The lifecycle a protocol version calls for.
fn lifecycle(protocol: Option<&str>) -> Lifecycle {
    match protocol {
        // Dated versions compare as strings; 2026-07-28 is the first stateless one.
        Some(version) if version < "2026-07-28" => Lifecycle::Initialize,
        Some(_) => Lifecycle::Discover,
        None => Lifecycle::Auto,
    }
}

/// The spec of the bot's own path: what it builds from `[mcp.servers.conformance] url = "…"`
/// (every setting at its default, so the lifecycle is `Auto`).
fn production_spec(url: &str) -> ServerSpec {
    ServerSpec::http(SERVER, url)
}

/// A spec whose lifecycle is picked from the scenario's protocol version, restarts off and
/// short timeouts.
fn pinned_spec(url: &str, protocol: Option<&str>) -> ServerSpec {
    ServerSpec::http(SERVER, url)
        .with_lifecycle(lifecycle(protocol))
        .with_restart(RestartPolicy::Never)
        .with_start_timeout(Duration::from_secs(10))
        .with_call_timeout(Duration::from_secs(10))
}

async fn run(scenario: &str, spec: ServerSpec) -> Result<(), String> {
    if let TransportSpec::Http(http) = &spec.transport {
        eprintln!(
            "scenario {scenario:?}, lifecycle {:?}, server {}",
            spec.lifecycle, http.url
        );
    }
    let callbacks = Callbacks::default()
        .with_input(accept_defaults)
        .with_authorizer(HeadlessAuthorizer);
    let spec = match auth_spec(scenario, context().as_ref()) {
        Some(auth) => spec.with_auth(auth),
        None => spec,
    };
    let host = McpHost::connect(spec, callbacks)
        .await
        .map_err(|error| format!("connecting failed: {error}"))?;
    exercise(&host, scenario).await;
    host.shutdown().await;
    Ok(())
}

/// The authorization of a scenario: client credentials from the context for the
/// `auth/client-credentials-*` scenarios (an operator's `auth = "client-credentials"`), an OAuth
/// login for the other `auth/*` ones, none otherwise.
fn auth_spec(scenario: &str, context: Option<&Value>) -> Option<AuthSpec> {
    if scenario.starts_with("auth/client-credentials-") {
        return client_credentials_spec(context).map(AuthSpec::ClientCredentials);
    }
    scenario
        .starts_with("auth/")
        .then(|| AuthSpec::OAuth(oauth_spec(context)))
}

/// The client credentials the scenario's context gives: `client_id` with `client_secret`, or
/// with `private_key_pem` and `signing_algorithm`.
fn client_credentials_spec(context: Option<&Value>) -> Option<ClientCredentialsSpec> {
    let field = |name: &str| context?.get(name)?.as_str().map(str::to_owned);
    let credential = match field("client_secret") {
        Some(secret) => ClientCredential::Secret(secret),
        None => ClientCredential::PrivateKey {
            pem: field("private_key_pem")?,
            algorithm: SigningAlgorithm::from_name(
                field("signing_algorithm").as_deref().unwrap_or("ES256"),
            )?,
        },
    };
    Some(ClientCredentialsSpec {
        client_id: field("client_id")?,
        credential,
        scopes: Vec::new(),
    })
}

/// The OAuth client of the `auth/*` scenarios: a client ID metadata document URL (the suite
/// never fetches it), and the pre-registered client the scenario's context gives, if any. The
/// redirect URI is never contacted: the headless authorizer reads the redirect itself.
fn oauth_spec(context: Option<&Value>) -> OAuthSpec {
    let field = |name: &str| {
        context
            .and_then(|c| c.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    OAuthSpec {
        client_name: "mcpcord-conformance".to_owned(),
        client_id: field("client_id"),
        client_secret: field("client_secret"),
        client_metadata_url: Some("https://conformance-test.local/client-metadata.json".to_owned()),
        scopes: None,
        redirect_uri: "http://127.0.0.1:1/callback".to_owned(),
    }
}

/// The scenario's context (`MCP_CONFORMANCE_CONTEXT`), if it has one.
fn context() -> Option<Value> {
    serde_json::from_str(&std::env::var("MCP_CONFORMANCE_CONTEXT").ok()?).ok()
}

/// Accepts every form without filling anything in: the host applies the schema's defaults.
async fn accept_defaults(request: InputRequest) -> InputAnswer {
    eprintln!("input request: {:?}", request.message);
    match request.mode {
        InputMode::Form { .. } => InputAnswer::Accept(None),
        InputMode::Url { .. } => InputAnswer::Decline,
    }
}

/// Everything the scenario server offers, through the host. Errors of single requests are
/// logged, not fatal: scenario servers implement only what their checks need.
async fn exercise(host: &McpHost, scenario: &str) {
    call_tools(host, scenario).await;
    get_prompts(host).await;
    read_resources(host).await;
}

/// Makes the scenario's calls (or calls every tool once).
async fn call_tools(host: &McpHost, scenario: &str) {
    let tools = host.tools();
    eprintln!(
        "tools: {:?}",
        tools.iter().map(|t| t.tool.as_str()).collect::<Vec<_>>()
    );
    for (name, arguments) in planned_calls(&tools, scenario) {
        let Some(tool) = tools.iter().find(|t| t.tool == name) else {
            eprintln!("the scenario asks for {name}, which the host does not offer");
            continue;
        };
        match host
            .call_tool(&tool.name, arguments, CallOptions::default())
            .await
        {
            Ok(output) => eprintln!(
                "called {name}: {}{}",
                if output.is_error { "error: " } else { "" },
                output.text
            ),
            Err(error) => eprintln!("calling {name} failed: {error}"),
        }
    }
}

/// Lists the prompts and gets each, filling its required arguments.
async fn get_prompts(host: &McpHost) {
    let prompts = host.list_prompts().await;
    for (_, error) in &prompts.errors {
        eprintln!("prompts/list failed: {error}");
    }
    for prompt in &prompts.items {
        let arguments: BTreeMap<String, String> = prompt
            .arguments
            .iter()
            .filter(|a| a.required)
            .map(|a| (a.name.clone(), "test".to_owned()))
            .collect();
        match host.get_prompt(SERVER, &prompt.name, arguments).await {
            Ok(content) => eprintln!(
                "prompt {}: {} messages",
                prompt.name,
                content.messages.len()
            ),
            Err(error) => eprintln!("prompts/get {} failed: {error}", prompt.name),
        }
    }
}

/// Lists the resources and reads each.
async fn read_resources(host: &McpHost) {
    let resources = host.list_resources().await;
    for (_, error) in &resources.errors {
        eprintln!("resources/list failed: {error}");
    }
    for resource in &resources.items {
        match host.read_resource(SERVER, &resource.uri).await {
            Ok(contents) => eprintln!("resource {}: {} parts", resource.uri, contents.len()),
            Err(error) => eprintln!("resources/read {} failed: {error}", resource.uri),
        }
    }
}

/// The calls to make, by the server's tool name: those the scenario's context lists
/// (`MCP_CONFORMANCE_CONTEXT` `toolCalls`), else every tool once with arguments built from its
/// schema.
fn planned_calls(tools: &[ToolDescriptor], scenario: &str) -> Vec<(String, Value)> {
    if let Some(calls) = context_calls() {
        return calls;
    }
    tools
        .iter()
        .map(|tool| {
            let arguments = if scenario == "json-schema-2020-12-preservation"
                && tool.tool == "json_schema_echo"
            {
                focal_schema_echo(tools)
            } else {
                arguments_for(tool)
            };
            (tool.tool.clone(), arguments)
        })
        .collect()
}

/// The calls the scenario's context lists (`MCP_CONFORMANCE_CONTEXT` `toolCalls`), if any.
fn context_calls() -> Option<Vec<(String, Value)>> {
    let context = context()?;
    let calls = context.get("toolCalls")?.as_array()?;
    Some(
        calls
            .iter()
            .filter_map(|call| {
                let name = call.get("name")?.as_str()?.to_owned();
                let arguments = call.get("arguments").cloned().unwrap_or(json!({}));
                Some((name, arguments))
            })
            .collect(),
    )
}

/// The scenario checks which schema keywords the host kept: the arguments of
/// `json_schema_echo` echo the focal tool's schema as the catalogue holds it.
fn focal_schema_echo(tools: &[ToolDescriptor]) -> Value {
    let focal = tools
        .iter()
        .find(|t| t.tool == "json_schema_2020_12_tool")
        .map(|t| t.input_schema.clone())
        .unwrap_or(Value::Null);
    json!({ "schema": focal })
}

/// Arguments for `tool`: a sample value for every required property of its input schema.
fn arguments_for(tool: &ToolDescriptor) -> Value {
    let schema = &tool.input_schema;
    let properties = schema.get("properties").and_then(Value::as_object);
    let required = schema.get("required").and_then(Value::as_array);
    let mut arguments = Map::new();
    if let (Some(properties), Some(required)) = (properties, required) {
        for name in required.iter().filter_map(Value::as_str) {
            let property = properties.get(name).unwrap_or(&Value::Null);
            arguments.insert(name.to_owned(), sample(property));
        }
    }
    Value::Object(arguments)
}

/// A plausible value for a property schema.
fn sample(schema: &Value) -> Value {
    if let Some(value) = schema.get("default").or_else(|| schema.get("const")) {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    sample_of_kind(schema_kind(schema))
}

/// The schema's `type`: the first that is not `null` of a list; `string` when unsaid.
fn schema_kind(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("string"),
        _ => "string",
    }
}

/// A plausible value of a JSON Schema type.
fn sample_of_kind(kind: &str) -> Value {
    match kind {
        "number" => json!(2.5),
        "integer" => json!(3),
        "boolean" => json!(true),
        "array" => json!([]),
        "object" => json!({}),
        "null" => Value::Null,
        _ => json!("test"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_version_picks_the_lifecycle() {
        assert_eq!(lifecycle(Some("2025-06-18")), Lifecycle::Initialize);
        assert_eq!(lifecycle(Some("2025-11-25")), Lifecycle::Initialize);
        assert_eq!(lifecycle(Some("2026-07-28")), Lifecycle::Discover);
        assert_eq!(lifecycle(None), Lifecycle::Auto);
    }

    #[test]
    fn the_production_path_is_auto_with_the_bots_defaults() {
        let spec = production_spec("http://127.0.0.1:1/mcp");
        assert_eq!(spec.lifecycle, Lifecycle::Auto);
        assert_eq!(spec.restart, RestartPolicy::Always);
        assert_eq!(spec.start_timeout, Duration::from_secs(30));
        let pinned = pinned_spec("http://127.0.0.1:1/mcp", Some("2025-11-25"));
        assert_eq!(pinned.lifecycle, Lifecycle::Initialize);
    }

    #[test]
    fn the_oauth_client_takes_the_pre_registered_one_from_the_context() {
        let context = json!({ "client_id": "pre-registered-client", "client_secret": "s" });
        let spec = oauth_spec(Some(&context));
        assert_eq!(spec.client_id.as_deref(), Some("pre-registered-client"));
        assert_eq!(spec.client_secret.as_deref(), Some("s"));
        let spec = oauth_spec(None);
        assert_eq!(spec.client_id, None);
        assert!(spec.client_metadata_url.is_some());
    }

    #[test]
    fn client_credentials_scenarios_get_the_contexts_client() {
        let secret = json!({ "client_id": "c", "client_secret": "s" });
        let Some(AuthSpec::ClientCredentials(spec)) =
            auth_spec("auth/client-credentials-basic", Some(&secret))
        else {
            panic!("client credentials for the basic scenario");
        };
        assert_eq!(spec.client_id, "c");
        assert!(matches!(spec.credential, ClientCredential::Secret(ref s) if s == "s"));
        let key =
            json!({ "client_id": "c", "private_key_pem": "PEM", "signing_algorithm": "ES256" });
        let Some(AuthSpec::ClientCredentials(spec)) =
            auth_spec("auth/client-credentials-jwt", Some(&key))
        else {
            panic!("client credentials for the jwt scenario");
        };
        assert!(matches!(
            spec.credential,
            ClientCredential::PrivateKey { ref pem, algorithm: SigningAlgorithm::Es256 } if pem == "PEM"
        ));
        assert!(matches!(
            auth_spec("auth/metadata-default", None),
            Some(AuthSpec::OAuth(_))
        ));
        assert!(auth_spec("tools_call", None).is_none());
    }

    #[test]
    fn samples_follow_the_schema() {
        assert_eq!(sample(&json!({ "type": "number" })), json!(2.5));
        assert_eq!(sample(&json!({ "type": ["null", "integer"] })), json!(3));
        assert_eq!(sample(&json!({ "enum": ["a", "b"] })), json!("a"));
        assert_eq!(
            sample(&json!({ "type": "string", "default": "x" })),
            json!("x")
        );
    }
}
