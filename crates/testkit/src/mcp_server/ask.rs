//! The `ask` tool's elicitation: one form with a required `name` field.
//!
//! On the `initialize` lifecycle (2025-11-25 and older) the server sends the client an
//! `elicitation/create` request while the tool call is open. Protocol 2026-07-28 forbids
//! server-to-client requests, so there the tool answers with an `InputRequiredResult` carrying
//! the same elicitation, and the client retries the call with the user's answer (SEP-2322,
//! multi round-trip requests). Either way, a client that did not declare the elicitation
//! capability gets an `isError` result saying so.

use std::collections::BTreeMap;

use rmcp::{
    ErrorData, RoleServer,
    model::{
        CallToolResponse, CallToolResult, ContentBlock, ElicitRequest, ElicitRequestParams,
        ElicitResult, ElicitationAction, ElicitationSchema, InputRequest, InputRequiredResult,
        InputResponses,
    },
    service::RequestContext,
};

/// The key of the elicitation inside `inputRequests` / `inputResponses`.
const INPUT_KEY: &str = "answer";
/// The `requestState` of the second round; the state holds nothing secret, so it is plain text.
const ASKED_STATE: &str = "mcpcord-test-mcp/ask/asked";
/// The one field of the form.
const FIELD: &str = "name";

pub(super) async fn ask(
    question: String,
    context: &RequestContext<RoleServer>,
    state: Option<String>,
    responses: Option<InputResponses>,
) -> Result<CallToolResponse, ErrorData> {
    if !client_elicits_forms(context) {
        return Ok(error(
            "the client did not declare the elicitation capability (form mode), so `ask` cannot ask the user anything",
        ));
    }
    let per_request_lifecycle = context
        .protocol_version()
        .is_some_and(|version| !version.has_initialize());
    if per_request_lifecycle {
        ask_in_rounds(question, state, responses)
    } else {
        ask_with_request(question, context).await
    }
}

/// 2026-07-28: return the question as an input request; read the answer on the retry.
fn ask_in_rounds(
    question: String,
    state: Option<String>,
    responses: Option<InputResponses>,
) -> Result<CallToolResponse, ErrorData> {
    match state.as_deref() {
        None => {
            let mut requests = BTreeMap::new();
            requests.insert(
                INPUT_KEY.to_owned(),
                InputRequest::Elicitation(ElicitRequest::new(form(question))),
            );
            Ok(InputRequiredResult::new(Some(requests), Some(ASKED_STATE.to_owned())).into())
        }
        Some(ASKED_STATE) => {
            let answer = responses
                .and_then(|mut responses| responses.remove(INPUT_KEY))
                .ok_or_else(|| {
                    ErrorData::invalid_params(
                        format!("the retry of `ask` carries no input response `{INPUT_KEY}`"),
                        None,
                    )
                })?;
            let answer: ElicitResult = serde_json::from_value(answer).map_err(|error| {
                ErrorData::invalid_params(
                    format!("input response `{INPUT_KEY}` is not an elicitation result: {error}"),
                    None,
                )
            })?;
            Ok(describe(answer).into())
        }
        Some(other) => Err(ErrorData::invalid_params(
            format!("unknown requestState {other:?} for `ask`"),
            None,
        )),
    }
}

/// `initialize` lifecycle: send `elicitation/create` to the client and wait for the answer.
async fn ask_with_request(
    question: String,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, ErrorData> {
    match context.peer.create_elicitation(form(question)).await {
        Ok(answer) => Ok(describe(answer).into()),
        Err(error) => Ok(error_text(format!(
            "the elicitation request failed: {error}"
        ))),
    }
}

fn client_elicits_forms(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .and_then(|capabilities| capabilities.elicitation)
        // A capability naming neither mode means form mode (2025-06-18 clients).
        .is_some_and(|elicitation| elicitation.form.is_some() || elicitation.url.is_none())
}

fn form(question: String) -> ElicitRequestParams {
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question,
        requested_schema: schema(),
    }
}

fn schema() -> ElicitationSchema {
    ElicitationSchema::builder()
        .required_string_with(FIELD, |field| field.title("Name").description("Your name"))
        .build()
        .expect("a schema with one string field is valid")
}

fn describe(answer: ElicitResult) -> CallToolResult {
    match answer.action {
        ElicitationAction::Accept => {
            match answer
                .content
                .as_ref()
                .and_then(|content| content.get(FIELD))
                .and_then(|name| name.as_str())
            {
                Some(name) => CallToolResult::success(vec![ContentBlock::text(format!(
                    "the user answered: {name}"
                ))]),
                None => error_result(format!(
                    "the user accepted but the answer has no string `{FIELD}`: {:?}",
                    answer.content
                )),
            }
        }
        ElicitationAction::Decline => {
            CallToolResult::success(vec![ContentBlock::text("the user declined to answer")])
        }
        ElicitationAction::Cancel => {
            CallToolResult::success(vec![ContentBlock::text("the user cancelled the question")])
        }
        other => error_result(format!("unknown elicitation action {other:?}")),
    }
}

fn error_result(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

fn error(text: &str) -> CallToolResponse {
    error_result(text.to_owned()).into()
}

fn error_text(text: String) -> CallToolResponse {
    error_result(text).into()
}
