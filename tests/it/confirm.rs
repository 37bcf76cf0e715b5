//! Confirmation of expensive calls (issue 16): a call whose worst case is over the threshold
//! (by default 0.50 USD: a 15-image sequence) asks the person first, through form elicitation
//! where the client has it: `elicitation/create` in a 2025 session (stdio, session HTTP, legacy
//! SSE) and MRTR's `InputRequiredResult` in 2026-07-28 (stdio, stateless HTTP). A yes sends the
//! call; a no sends nothing; a client that cannot ask gets a refusal naming `confirm_cost: true`.

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitRequestParams, ElicitResult, ElicitationAction, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RunningService};
use rmcp::{ErrorData, RoleClient, ServiceExt};
use seedream_mcp::tools::ImageServer;
use serde_json::{Value, json};

use crate::legacy_sse::LegacyClient;
use crate::support::{KEY, args, call, config, fake, is_error, text};

/// A person at a client: declares form elicitation (or not) and answers every question the same way.
#[derive(Clone)]
struct Person {
    declares: bool,
    answer: ElicitationAction,
    /// The questions asked, in order.
    asked: Arc<Mutex<Vec<String>>>,
}

impl Person {
    fn answering(answer: ElicitationAction) -> Person {
        Person {
            declares: true,
            answer,
            asked: Arc::default(),
        }
    }

    fn without_elicitation() -> Person {
        Person {
            declares: false,
            ..Person::answering(ElicitationAction::Accept)
        }
    }

    fn questions(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl rmcp::ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        if self.declares {
            info.capabilities = ClientCapabilities::builder().enable_elicitation().build();
        }
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        else {
            panic!("a cost is confirmed with a form, not a URL");
        };
        assert!(requested_schema.properties.contains_key("proceed"));
        self.asked.lock().unwrap().push(message);
        let answer = ElicitResult::new(self.answer.clone());
        Ok(match self.answer {
            ElicitationAction::Accept => answer.with_content(json!({"proceed": true})),
            _ => answer,
        })
    }
}

/// The call that needs a yes: up to 15 images with 4.5 (0.04 USD each) is 0.60 USD.
fn expensive() -> Value {
    json!({"prompt": "15 panels of a fox's day", "max_images": 15, "model": "4.5"})
}

/// Serves the tools in-process over a pipe (what stdio carries), in the 2025 era or 2026-07-28.
async fn over_pipe(
    fake: &seedream_fake::FakeApi,
    person: Person,
    modern: bool,
) -> RunningService<RoleClient, Person> {
    let client_io = serve_pipe(fake);
    person
        .serve_with_lifecycle(client_io, lifecycle(modern))
        .await
        .unwrap()
}

/// The server's end of an in-process pipe, served; returns the client's end.
fn serve_pipe(fake: &seedream_fake::FakeApi) -> tokio::io::DuplexStream {
    serve_pipe_with(fake, &[])
}

fn serve_pipe_with(fake: &seedream_fake::FakeApi, flags: &[&str]) -> tokio::io::DuplexStream {
    let mut settings = vec!["--save", "false"];
    settings.extend_from_slice(flags);
    let server = ImageServer::new(config(&fake.base_url(), KEY, &settings)).unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    client_io
}

fn lifecycle(modern: bool) -> ClientLifecycleMode {
    if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    }
}

/// A `generate_sequence` call through rmcp's high-level helper, which answers MRTR input
/// requests through the person and retries (the bare peer's `call_tool` does not).
async fn sequence<H: rmcp::ClientHandler>(
    client: &RunningService<RoleClient, H>,
    arguments: Value,
) -> CallToolResult {
    let params = CallToolRequestParams::new("generate_sequence").with_arguments(args(arguments));
    let result = client.call_tool(params).await.expect("the call is routed");
    crate::support::check_output_schema(client, "generate_sequence", &result).await;
    result
}

fn assert_sent(result: &CallToolResult, fake: &seedream_fake::FakeApi) {
    assert!(!is_error(result), "{}", text(result));
    assert_eq!(
        fake.requests().len(),
        1,
        "the confirmed call went upstream once"
    );
}

fn assert_declined(result: &CallToolResult, fake: &seedream_fake::FakeApi) {
    assert!(is_error(result));
    let t = text(result);
    assert!(
        t.contains("declined") && t.contains("nothing was billed"),
        "{t}"
    );
    assert!(fake.requests().is_empty(), "a declined call sends nothing");
}

#[tokio::test]
async fn in_a_2025_session_over_stdio_the_person_is_asked_and_a_yes_sends_the_call() {
    for modern in [false, true] {
        let fake = fake().await;
        let person = Person::answering(ElicitationAction::Accept);
        let client = over_pipe(&fake, person.clone(), modern).await;
        let result = sequence(&client, expensive()).await;
        assert_sent(&result, &fake);
        let questions = person.questions();
        assert_eq!(questions.len(), 1, "asked once (modern: {modern})");
        assert!(
            questions[0].contains("up to 15 images") && questions[0].contains("0.60 USD"),
            "{}",
            questions[0]
        );
    }
}

#[tokio::test]
async fn a_no_sends_nothing_in_either_era_over_stdio() {
    for (modern, answer) in [
        (false, ElicitationAction::Decline),
        (true, ElicitationAction::Decline),
        (false, ElicitationAction::Cancel),
    ] {
        let fake = fake().await;
        let client = over_pipe(&fake, Person::answering(answer), modern).await;
        assert_declined(&sequence(&client, expensive()).await, &fake);
    }
}

#[tokio::test]
async fn a_client_that_cannot_ask_is_refused_with_the_argument_that_proceeds() {
    let fake = fake().await;
    let client = over_pipe(&fake, Person::without_elicitation(), false).await;
    let refused = sequence(&client, expensive()).await;
    assert!(is_error(&refused));
    let t = text(&refused);
    assert!(
        t.contains("`confirm_cost: true`") && t.contains("0.60 USD") && t.contains("0.50 USD"),
        "{t}"
    );
    assert!(fake.requests().is_empty(), "nothing sent before the yes");
    let mut confirmed = expensive();
    confirmed["confirm_cost"] = json!(true);
    assert_sent(&sequence(&client, confirmed).await, &fake);
}

#[tokio::test]
async fn a_call_under_the_threshold_never_asks() {
    let fake = fake().await;
    let person = Person::answering(ElicitationAction::Decline);
    let client = over_pipe(&fake, person.clone(), false).await;
    let four = json!({"prompt": "4 panels", "max_images": 4, "model": "4.5"});
    assert_sent(&sequence(&client, four).await, &fake);
    let one = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "model": "5.0-pro"}),
    )
    .await;
    assert!(!is_error(&one), "{}", text(&one));
    assert!(person.questions().is_empty());
}

#[tokio::test]
async fn the_threshold_is_a_setting_and_off_never_asks() {
    let upstream = fake().await;
    let server = config(
        &upstream.base_url(),
        KEY,
        &["--save", "false", "--confirm-above", "off"],
    );
    let client = crate::support::connect(server).await;
    assert!(!is_error(&sequence(&client, expensive()).await));
    let fake = fake().await;
    let server = config(
        &fake.base_url(),
        KEY,
        &["--save", "false", "--confirm-above", "0.01"],
    );
    let client = crate::support::connect(server).await;
    let refused = call(&client, "generate_image", json!({"prompt": "a fox"})).await;
    assert!(
        text(&refused).contains("confirmation threshold of 0.01 USD"),
        "{}",
        text(&refused)
    );
    assert!(fake.requests().is_empty());
    // generate_image does not advertise confirm_cost, but takes it.
    let confirmed = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "confirm_cost": true}),
    )
    .await;
    assert_sent(&confirmed, &fake);
}

#[tokio::test]
async fn over_stateless_http_the_question_is_an_input_required_result_and_its_retry_carries_the_answer()
 {
    let fake = fake().await;
    let (addr, _stop) = crate::http::start(&fake, &[]).await;
    let person = Person::answering(ElicitationAction::Accept);
    let client = crate::tenants::client_as(person.clone(), addr, true, None).await;
    // Driven by hand first: the wire answer is MRTR's, with a state to echo.
    let first = client
        .call_tool_once(
            CallToolRequestParams::new("generate_sequence").with_arguments(args(expensive())),
        )
        .await
        .unwrap();
    let CallToolResponse::InputRequired(question) = first else {
        panic!("not an input request: {first:?}");
    };
    assert!(question.request_state.is_some());
    assert!(
        question
            .input_requests
            .is_some_and(|r| r.contains_key("confirm_cost"))
    );
    assert!(fake.requests().is_empty(), "nothing sent while asking");
    // rmcp's client fulfils it through the person and retries.
    assert_sent(&sequence(&client, expensive()).await, &fake);
    assert_eq!(person.questions().len(), 1);
    a_no_over_http_sends_nothing(false).await;
}

/// A declining person over HTTP, in the 2026-07-28 era (`session` false) or a 2025 session.
async fn a_no_over_http_sends_nothing(session: bool) {
    let fake = fake().await;
    let (addr, _stop) = crate::http::start(&fake, &[]).await;
    let client = crate::tenants::client_as(
        Person::answering(ElicitationAction::Decline),
        addr,
        !session,
        None,
    )
    .await;
    assert_declined(&sequence(&client, expensive()).await, &fake);
}

#[tokio::test]
async fn in_a_2025_http_session_the_person_is_asked_on_the_calls_stream() {
    let fake = fake().await;
    let (addr, _stop) = crate::http::start(&fake, &[]).await;
    let person = Person::answering(ElicitationAction::Accept);
    let client = crate::tenants::client_as(person.clone(), addr, false, None).await;
    assert_sent(&sequence(&client, expensive()).await, &fake);
    assert_eq!(person.questions().len(), 1);
    a_no_over_http_sends_nothing(true).await;
}

#[tokio::test]
async fn a_legacy_sse_client_is_asked_on_its_event_stream() {
    let fake = fake().await;
    let (addr, _stop) = crate::http::start(&fake, &[]).await;
    let (transport, _) = LegacyClient::connect(addr).await;
    let person = Person::answering(ElicitationAction::Accept);
    let client = person.clone().serve(transport).await.unwrap();
    assert_sent(&sequence(&client, expensive()).await, &fake);
    assert_eq!(person.questions().len(), 1);
}

#[tokio::test]
async fn a_task_declaring_client_is_asked_before_its_task_exists() {
    let fake = fake().await;
    let client_io = serve_pipe(&fake);
    let mut info = crate::tasks::declaring();
    info.capabilities.elicitation = ClientCapabilities::builder()
        .enable_elicitation()
        .build()
        .elicitation;
    let client = info
        .serve_with_lifecycle(client_io, lifecycle(true))
        .await
        .unwrap();
    let mut slow = expensive();
    slow["prompt"] = json!("[[fake:slow=1500,n=2]] 15 slow panels");
    let params = CallToolRequestParams::new("generate_sequence").with_arguments(args(slow));
    let CallToolResponse::InputRequired(question) =
        client.call_tool_once(params.clone()).await.unwrap()
    else {
        panic!("not asked first");
    };
    assert!(
        fake.requests().is_empty(),
        "no task and no request before the answer"
    );
    let mut answers = rmcp::model::InputResponses::new();
    answers.insert(
        "confirm_cost".into(),
        json!({"action": "accept", "content": {"proceed": true}}),
    );
    let retried = params
        .with_input_responses(answers)
        .with_request_state(question.request_state.unwrap());
    let CallToolResponse::Task(task) = client.call_tool_once(retried).await.unwrap() else {
        panic!("the confirmed slow call is not a task");
    };
    let done = crate::tasks::settle(&client, &task.task.task_id).await;
    let result = crate::tasks::tool_result(&done);
    assert!(!is_error(&result), "{}", text(&result));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_call_over_a_per_call_cap_is_refused_without_asking() {
    let fake = fake().await;
    let person = Person::answering(ElicitationAction::Accept);
    let pipe = serve_pipe_with(&fake, &["--max-images-per-call", "10"]);
    let client = person
        .clone()
        .serve_with_lifecycle(pipe, lifecycle(false))
        .await
        .unwrap();
    let refused = sequence(&client, expensive()).await;
    assert!(
        text(&refused).contains("per-call cap of 10"),
        "{}",
        text(&refused)
    );
    assert!(
        person.questions().is_empty(),
        "not asked to pay for a call the cap refuses"
    );
    assert!(fake.requests().is_empty());
}
