//! Asking the person before an expensive call is sent (the threshold and the quote are
//! `spend::ConfirmAbove`'s). A 2026-07-28 request gets an `InputRequiredResult` holding a form
//! elicitation, and its retry carries the answer (MRTR); an older session is asked with
//! `elicitation/create` while the call waits. A client that cannot ask is refused with the quote
//! and the argument that proceeds (`confirm_cost: true`). Either way nothing is sent upstream
//! until the person has said yes, and a no bills nothing.

use std::ops::ControlFlow;
use std::time::Duration;

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ElicitRequest, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationSchema, InputRequest, InputRequests,
    InputRequiredResult, InputResponses, JsonObject, ProtocolVersion,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::generating::ToolKind;
use crate::generation::ToolError;
use crate::spend::Quote;

/// The argument that confirms a call without asking (the person agreed in the conversation).
pub const ARGUMENT: &str = "confirm_cost";
/// The key of the one input request, in `inputRequests` and `inputResponses`.
const INPUT_KEY: &str = "confirm_cost";
/// How long an older session's client has to answer; a person reading a dialog is slow.
const ASK_TIMEOUT: Duration = Duration::from_secs(300);

/// The MRTR fields of a retried `tools/call`, taken from the call like its arguments.
#[derive(Debug, Default)]
pub struct Retry {
    pub responses: Option<InputResponses>,
    pub state: Option<String>,
}

impl<S> FromContextPart<ToolCallContext<'_, S>> for Retry {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, ErrorData> {
        Ok(Retry {
            responses: context.input_responses.take(),
            state: context.request_state.take(),
        })
    }
}

/// Takes `confirm_cost` out of the arguments (the tools' params do not carry it): `true`
/// confirms; absent, `null` or `false` does not.
pub fn take_flag(args: &mut JsonObject) -> Result<bool, ToolError> {
    match args.remove(ARGUMENT) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(yes)) => Ok(yes),
        Some(_) => Err(ToolError::invalid(
            ARGUMENT,
            "use true to proceed with a call over the cost confirmation threshold, or leave it out",
        )),
    }
}

/// Whether the person agreed to `quote` for this `tool` call: `Continue` proceeds, `Break` holds
/// the answer to send instead (a question, a refusal, or the person's no).
pub async fn ask(
    quote: &Quote,
    tool: ToolKind,
    rc: &RequestContext<RoleServer>,
    retry: Retry,
) -> ControlFlow<CallToolResponse> {
    let refused = |e: ToolError| ControlFlow::Break(CallToolResult::from(e).into());
    if !asks_forms(rc.client_capabilities().as_ref()) {
        return refused(not_confirmed(quote, tool));
    }
    let stateless = rc
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    let answer = if stateless {
        let state = state_for(quote, tool);
        match answered(&retry, &state) {
            Some(answer) => answer,
            None => return ControlFlow::Break(question(quote, tool, state).into()),
        }
    } else {
        let asked = rc
            .peer
            .create_elicitation_with_timeout(params(quote, tool), Some(ASK_TIMEOUT));
        tokio::select! {
            answer = asked => match answer {
                Ok(answer) => answer,
                Err(error) => {
                    tracing::info!(%error, "the client did not answer the cost confirmation");
                    return refused(not_confirmed(quote, tool));
                }
            },
            () = rc.ct.cancelled() => return refused(ToolError::Cancelled),
        }
    };
    if agreed(&answer) {
        tracing::info!(tool = tool.name(), "the person confirmed the cost");
        ControlFlow::Continue(())
    } else {
        tracing::info!(tool = tool.name(), action = ?answer.action, "the person declined the cost");
        refused(ToolError::CostDeclined {
            tool: tool.name(),
            quote: quote.summary(),
        })
    }
}

/// Whether the client renders form elicitations (a bare `elicitation: {}` means form).
fn asks_forms(caps: Option<&ClientCapabilities>) -> bool {
    caps.and_then(|c| c.elicitation.as_ref())
        .is_some_and(|e| e.form.is_some() || e.url.is_none())
}

fn not_confirmed(quote: &Quote, tool: ToolKind) -> ToolError {
    ToolError::CostNotConfirmed {
        tool: tool.name(),
        quote: quote.summary(),
        threshold: quote.threshold.clone(),
    }
}

/// The answer in a retry, when it answers this very quote: a retry whose arguments now cost
/// something else is asked again.
fn answered(retry: &Retry, state: &str) -> Option<ElicitResult> {
    if retry.state.as_deref() != Some(state) {
        return None;
    }
    let value = retry.responses.as_ref()?.get(INPUT_KEY)?;
    serde_json::from_value(value.clone()).ok()
}

/// Yes is an accepted form whose box was not unticked.
fn agreed(answer: &ElicitResult) -> bool {
    answer.action == ElicitationAction::Accept
        && answer
            .content
            .as_ref()
            .and_then(|c| c.get("proceed"))
            .and_then(Value::as_bool)
            != Some(false)
}

/// Binds an answer to what it agreed to: the tool and its quote. Not a secret: a client that
/// wants to skip the question can pass `confirm_cost: true` anyway.
fn state_for(quote: &Quote, tool: ToolKind) -> String {
    let digest = Sha256::digest(format!("{}\n{}", tool.name(), quote.summary()));
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("confirm-cost-v1:{hex}")
}

fn question(quote: &Quote, tool: ToolKind, state: String) -> InputRequiredResult {
    let mut requests = InputRequests::new();
    requests.insert(
        INPUT_KEY.to_owned(),
        InputRequest::Elicitation(ElicitRequest::new(params(quote, tool))),
    );
    InputRequiredResult::new(Some(requests), Some(state))
}

fn params(quote: &Quote, tool: ToolKind) -> ElicitRequestParams {
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!(
            "{} wants to generate {}. That is over {}. Nothing is sent until you accept.",
            tool.name(),
            quote.summary(),
            quote.threshold
        ),
        requested_schema: schema(),
    }
}

fn schema() -> ElicitationSchema {
    let schema = json!({
        "type": "object",
        "properties": {
            "proceed": {
                "type": "boolean",
                "title": "Generate and pay for these images",
                "default": true
            }
        },
        "required": ["proceed"]
    });
    match schema {
        Value::Object(o) => ElicitationSchema::from_json_schema(o)
            .unwrap_or_else(|_| ElicitationSchema::new(Default::default())),
        _ => ElicitationSchema::new(Default::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote() -> Quote {
        Quote {
            images: 15,
            estimate: Some(0.6),
            currency: "USD".into(),
            model: "doubao-seedream-4-5-251128".into(),
            threshold: "the confirmation threshold of 0.50 USD".into(),
        }
    }

    #[test]
    fn the_flag_is_taken_out_of_the_arguments_and_only_true_confirms() {
        let mut args: JsonObject =
            serde_json::from_value(json!({"prompt": "x", "confirm_cost": true})).unwrap();
        assert!(take_flag(&mut args).unwrap());
        assert!(!args.contains_key(ARGUMENT));
        let mut args: JsonObject = serde_json::from_value(json!({"confirm_cost": null})).unwrap();
        assert!(!take_flag(&mut args).unwrap());
        let mut args: JsonObject = serde_json::from_value(json!({"confirm_cost": "yes"})).unwrap();
        let error = take_flag(&mut args).unwrap_err().to_string();
        assert!(error.contains("`confirm_cost`"), "{error}");
    }

    #[test]
    fn an_answer_counts_only_for_the_quote_it_was_asked_for() {
        let state = state_for(&quote(), ToolKind::Sequence);
        let mut responses = InputResponses::new();
        responses.insert(
            INPUT_KEY.into(),
            json!({"action": "accept", "content": {"proceed": true}}),
        );
        let retry = Retry {
            responses: Some(responses.clone()),
            state: Some(state.clone()),
        };
        assert!(answered(&retry, &state).is_some_and(|a| agreed(&a)));
        let mut dearer = quote();
        dearer.estimate = Some(1.2);
        let other = state_for(&dearer, ToolKind::Sequence);
        assert!(answered(&retry, &other).is_none());
    }

    #[test]
    fn a_decline_a_cancel_or_an_unticked_box_is_a_no() {
        for answer in [
            json!({"action": "decline"}),
            json!({"action": "cancel"}),
            json!({"action": "accept", "content": {"proceed": false}}),
        ] {
            let answer: ElicitResult = serde_json::from_value(answer).unwrap();
            assert!(!agreed(&answer));
        }
        let yes: ElicitResult =
            serde_json::from_value(json!({"action": "accept", "content": {"proceed": true}}))
                .unwrap();
        assert!(agreed(&yes));
    }

    #[test]
    fn the_question_is_a_form_with_one_box_and_names_the_quote() {
        let asked =
            serde_json::to_value(question(&quote(), ToolKind::Sequence, "s".into())).unwrap();
        assert_eq!(asked["resultType"], "input_required");
        let request = &asked["inputRequests"][INPUT_KEY];
        assert_eq!(request["method"], "elicitation/create");
        assert_eq!(request["params"]["mode"], "form");
        assert!(
            request["params"]["message"]
                .as_str()
                .unwrap()
                .contains("0.60 USD")
        );
        assert_eq!(
            request["params"]["requestedSchema"]["properties"]["proceed"]["type"],
            "boolean"
        );
    }
}
