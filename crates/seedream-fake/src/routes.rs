//! The router: generation routes for both modes, signed downloads, `/_fake/*` inspection
//! and control, and what a gateway answers for paths it does not know.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::comet::comet_body;
use super::config::UnknownPath;
use super::errors::ArkError;
use super::faults;
use super::generate;
use super::images::{self, ImageKey};
use super::reply::{Mode, Reply, bytes_response, json_response};
use super::signing;
use super::state::App;

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route(
            "/v1/images/generations",
            post(|State(app): State<App>, req: Request| generate::handle(app, Mode::Comet, req)),
        )
        .route(
            "/api/v3/images/generations",
            post(|State(app): State<App>, req: Request| generate::handle(app, Mode::Ark, req)),
        )
        .route("/tos/{*object}", get(download))
        .route(
            "/_fake/requests",
            get(|State(app): State<App>| async move { Json(app.requests()) }),
        )
        .route(
            "/_fake/downloads",
            get(|State(app): State<App>| async move { Json(app.downloads()) }),
        )
        .route(
            "/_fake/config",
            get(|State(app): State<App>| async move { Json(app.config()) }).post(set_config),
        )
        .route("/_fake/clock", post(set_clock))
        .fallback(unknown)
        .with_state(app)
}

/// Longest scripted download stall (an hour), so a bad setting cannot park a task forever.
const MAX_DOWNLOAD_DELAY_MS: u64 = 3_600_000;

/// `GET /tos/...`: checks the raw query against the signature, then serves real bytes.
async fn download(State(app): State<App>, request: Request) -> Response {
    let uri = request.uri();
    let raw = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    app.record_download(raw);
    let config = app.config();
    if let Some(ms) = config.download_delay_ms {
        tokio::time::sleep(std::time::Duration::from_millis(
            ms.min(MAX_DOWNLOAD_DELAY_MS),
        ))
        .await;
    }
    if let Some(status) = config.download_status {
        return scripted_download_failure(status);
    }
    let path = uri.path();
    if !signing::verify(
        &app.secret,
        path,
        uri.query().unwrap_or(""),
        app.clock.now_unix(),
    ) {
        let body =
            json!({"Code": "AccessDenied", "Message": "Access Denied", "EC": "0003-00000015"});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    let Some(object) = app.object(path) else {
        let body = json!({"Code": "NoSuchKey", "Message": "The specified key does not exist.", "EC": "0017-00000003"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let key = ImageKey {
        width: object.width,
        height: object.height,
        fmt: object.fmt,
        bytes: object.bytes,
    };
    match images::encoded(key).await {
        Ok(bytes) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(object.fmt.mime()),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "the fake API could not encode an image");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"Code": "InternalError"})),
            )
                .into_response()
        }
    }
}

fn scripted_download_failure(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match status {
        403 => json!({"Code": "AccessDenied", "Message": "Access Denied", "EC": "0003-00000015"}),
        404 => {
            json!({"Code": "NoSuchKey", "Message": "The specified key does not exist.", "EC": "0017-00000003"})
        }
        _ => json!({"Code": "InternalError", "Message": "scripted download failure"}),
    };
    (code, Json(body)).into_response()
}

/// `POST /_fake/config`: merges the given keys into the configuration.
async fn set_config(State(app): State<App>, Json(patch): Json<Value>) -> Response {
    match app.config().merged(&patch) {
        Ok(config) => {
            app.set_config(config.clone());
            Json(config).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ClockBody {
    /// Unix seconds to freeze at; `null` returns to real time.
    unix: Option<i64>,
}

/// `POST /_fake/clock`: freezes the fake clock (URL expiry, `created`) or releases it.
async fn set_clock(State(app): State<App>, Json(body): Json<ClockBody>) -> Json<Value> {
    app.clock.set(body.unix);
    Json(json!({"unix": app.clock.now_unix()}))
}

/// Unknown paths: JSON 404 under the API prefixes; elsewhere what a gateway in front of a
/// web console does (a redirect, or the console's HTML).
async fn unknown(State(app): State<App>, request: Request) -> Response {
    let config = app.config();
    let ids = app.new_ids(config.seed_ids);
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let path = uri.path();
    if path.starts_with("/api/v3") {
        let reply = Reply {
            mode: Mode::Ark,
            style: config.upstream_error_style,
            ids,
        };
        return ArkError::path_not_found(path).render(&reply);
    }
    if path == "/v1" || path.starts_with("/v1/") {
        let message = format!("Invalid URL ({method} {path}) (request id: {})", ids.comet);
        return json_response(StatusCode::NOT_FOUND, &comet_body("", &message, true), &ids);
    }
    match config.unknown_path {
        UnknownPath::Html => faults::html_200(&ids),
        UnknownPath::Redirect => {
            let target = match uri.query() {
                Some(q) => format!("/v1{path}?{q}"),
                None => format!("/v1{path}"),
            };
            let mut response = bytes_response(
                StatusCode::MOVED_PERMANENTLY,
                "text/html; charset=utf-8",
                Vec::new(),
                &ids,
            );
            if let Ok(location) = HeaderValue::from_str(&target) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
    }
}
