//! `POST …/images/generations`: the gateway checks (auth, JSON, model), scenario
//! injection, validation, admission (rate limits), then the planned answer.

use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, request::Parts};
use axum::response::Response;
use serde_json::{Map, Value};

use super::comet::Gateway;
use super::config::FakeConfig;
use super::conn::ConnHandle;
use super::errors::{ArkError, ItemError};
use super::faults;
use super::inject::inject;
use super::models::ModelRules;
use super::output::{self, Item, StreamParts};
use super::plan::{Outcome, Plan};
use super::reply::{JSON_TYPE, Mode, Reply, bytes_response};
use super::scenario::{Scenario, strip_tokens};
use super::state::{App, RecordedRequest, Tracker};
use super::validate::{GenRequest, validate};

/// Largest request body accepted (reference images travel inline as base64).
pub(crate) const MAX_BODY: usize = 64 * 1024 * 1024;

/// Handles one generation request on the route of `mode`.
pub(crate) async fn handle(app: App, mode: Mode, request: Request) -> Response {
    let config = app.config();
    let reply = Reply {
        mode,
        style: config.upstream_error_style,
        ids: app.new_ids(config.seed_ids),
    };
    let conn = request
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let (parts, body) = request.into_parts();
    // Counts the request as closed early if hyper drops this future (client hung up).
    let mut tracker = Some(Tracker::new(app.clone()));
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let bytes = match declared {
        Some(n) if n > MAX_BODY => None,
        _ => axum::body::to_bytes(body, MAX_BODY).await.ok(),
    };
    let response = match bytes {
        None => Gateway::TooLarge.render(&reply),
        Some(bytes) => {
            let parsed = serde_json::from_slice::<Value>(&bytes);
            let key = app.record(recorded(&parts, &bytes, parsed.as_ref().ok()));
            let ctx = Ctx {
                app: &app,
                config: &config,
                reply: &reply,
                conn,
                record_key: key,
            };
            ctx.process(&parts.headers, parsed, &mut tracker).await
        }
    };
    if let Some(t) = tracker {
        t.finish();
    }
    response
}

fn recorded(parts: &Parts, bytes: &[u8], parsed: Option<&Value>) -> RecordedRequest {
    let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    RecordedRequest {
        path: parts.uri.path().to_owned(),
        authorization: parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(text),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), text(v)))
            .collect(),
        body: parsed.cloned().unwrap_or(Value::Null),
        raw_body: String::from_utf8_lossy(bytes).into_owned(),
        notes: Vec::new(),
    }
}

struct Ctx<'a> {
    app: &'a App,
    config: &'a FakeConfig,
    reply: &'a Reply,
    conn: Option<ConnHandle>,
    record_key: u64,
}

impl Ctx<'_> {
    async fn process(
        &self,
        headers: &HeaderMap,
        parsed: Result<Value, serde_json::Error>,
        tracker: &mut Option<Tracker>,
    ) -> Response {
        if !self.authorized(headers) {
            return Gateway::Unauthorized.render(self.reply);
        }
        let body = match parsed {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Gateway::InvalidJson("the request body must be a JSON object".into())
                    .render(self.reply);
            }
            Err(e) => return Gateway::InvalidJson(e.to_string()).render(self.reply),
        };
        let model = match body.get("model") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Gateway::ModelMissing.render(self.reply);
            }
            Some(_) => {
                return Gateway::InvalidJson("model must be a string".into()).render(self.reply);
            }
        };
        let raw_prompt = body.get("prompt").and_then(Value::as_str).unwrap_or("");
        let (prompt, token_directives) = strip_tokens(raw_prompt);
        let header_directives = headers
            .get_all("x-fake-scenario")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','));
        let scenario = match Scenario::parse(
            header_directives.chain(token_directives.iter().map(String::as_str)),
        ) {
            Ok(s) => s,
            Err(why) => return Gateway::BadDirective(why).render(self.reply),
        };
        let scenario = match scenario.fail_n {
            Some(k) if !self.app.failures_remaining(raw_prompt, k) => scenario.succeeding(),
            _ => scenario,
        };
        if let Some(failure) = scenario.failure {
            if let Some(ms) = scenario.slow_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            return match inject(failure, &model, self.config, self.reply, self.conn.as_ref()).await
            {
                Ok(response) => response,
                Err(ark) => self.error(&ark, &scenario),
            };
        }
        self.generate(&body, &model, &prompt, &scenario, tracker)
            .await
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        token.is_some_and(|t| self.config.accepts_token(t))
    }

    /// An error response, with `Retry-After` on a 429 when the scenario asks for one.
    fn error(&self, error: &ArkError, scenario: &Scenario) -> Response {
        let mut response = error.render(self.reply);
        if let (StatusCode::TOO_MANY_REQUESTS, Some(s)) = (response.status(), scenario.retry_after)
        {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(s));
        }
        response
    }

    async fn generate(
        &self,
        body: &Map<String, Value>,
        model: &str,
        prompt: &str,
        scenario: &Scenario,
        tracker: &mut Option<Tracker>,
    ) -> Response {
        let (req, plan, sse) = match self.admit(body, model, prompt, scenario, tracker) {
            Ok(admitted) => admitted,
            Err(refused) => return *refused,
        };
        if plan.successes() == 0 {
            return self.nothing_made(&plan, scenario).await;
        }
        let (app, config, ids) = (self.app, self.config, &self.reply.ids);
        let items = match output::items(app, config, &req, &plan, ids).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "the fake API could not encode an image");
                return self.error(&ArkError::internal(), scenario);
            }
        };
        let usage = output::usage(&req, &plan, scenario.search.unwrap_or(0));
        if sse {
            return self
                .stream(model, items, plan, usage, scenario, tracker)
                .await;
        }
        tokio::time::sleep(plan.delays.iter().sum()).await;
        let body = output::json_body(model, app.clock.now_unix(), &items, usage)
            .to_string()
            .into_bytes();
        self.whole_body(body, scenario, tracker)
    }

    /// The gateway's and the model's checks, then the plan: the request, what it will make, and
    /// whether it streams; or the error response that refuses it.
    fn admit(
        &self,
        body: &Map<String, Value>,
        model: &str,
        prompt: &str,
        scenario: &Scenario,
        tracker: &mut Option<Tracker>,
    ) -> Result<(GenRequest, Plan, bool), Box<Response>> {
        let (app, config) = (self.app, self.config);
        if config.model_not_open.iter().any(|m| m == model) {
            return Err(Box::new(
                self.error(&ArkError::model_not_open(model), scenario),
            ));
        }
        let Some(rules) = ModelRules::lookup(model, config) else {
            return Err(Box::new(
                self.error(&ArkError::model_not_found(model), scenario),
            ));
        };
        let req = validate(body, prompt, model, rules, config)
            .map_err(|e| Box::new(self.error(&e, scenario)))?;
        app.add_notes(self.record_key, &req.notes);
        let sse = req.stream && config.stream_passthrough;
        // Without a stream there is no "mid-stream": the failure lands in `data[j]` instead.
        let internal_at = match (sse, scenario.internal_at, scenario.stream_error_after) {
            (false, Some(a), Some(b)) => Some(a.min(b)),
            (false, a, b) => a.or(b),
            (true, a, _) => a,
        };
        let plan = Plan::new(&req, scenario, internal_at, config);
        if let Some(t) = tracker.as_mut()
            && !t.enter_inflight(config.max_inflight)
        {
            return Err(Box::new(self.error(&ArkError::inflight(), scenario)));
        }
        if !app.admit_images(model, plan.successes() as u64, u64::from(config.ipm_limit)) {
            return Err(Box::new(self.error(&ArkError::ipm(), scenario)));
        }
        Ok((req, plan, sse))
    }

    /// Every image failed: after the time they took, one error for the request.
    async fn nothing_made(&self, plan: &Plan, scenario: &Scenario) -> Response {
        tokio::time::sleep(plan.delays.iter().sum()).await;
        let internal = plan
            .outcomes
            .contains(&Outcome::Failed(ItemError::Internal));
        let error = if internal {
            ArkError::internal()
        } else {
            ArkError::output_sensitive()
        };
        self.error(&error, scenario)
    }

    async fn stream(
        &self,
        model: &str,
        items: Vec<Item>,
        plan: Plan,
        usage: Value,
        scenario: &Scenario,
        tracker: &mut Option<Tracker>,
    ) -> Response {
        let ids = &self.reply.ids;
        let delay_headers = self.config.delay_headers_until_first_image;
        if delay_headers {
            tokio::time::sleep(plan.delays.first().copied().unwrap_or_default()).await;
        }
        let parts = StreamParts {
            model: model.to_owned(),
            items,
            delays: plan.delays,
            usage,
            error_after: scenario.stream_error_after,
            ark_id: ids.ark.clone(),
        };
        output::event_stream(self.app.clone(), parts, delay_headers, tracker.take(), ids)
    }

    /// A JSON body, whole or broken as the scenario asks.
    fn whole_body(
        &self,
        body: Vec<u8>,
        scenario: &Scenario,
        tracker: &mut Option<Tracker>,
    ) -> Response {
        let ids = &self.reply.ids;
        if scenario.truncated {
            return faults::truncated(body, ids);
        }
        if scenario.reset_mid_body {
            return faults::reset_mid_body(body, ids);
        }
        if let Some(ms) = scenario.trickle_ms {
            return faults::trickle(body, Duration::from_millis(ms), tracker.take(), ids);
        }
        bytes_response(StatusCode::OK, JSON_TYPE, body, ids)
    }
}
