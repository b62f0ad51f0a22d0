//! The HTTP API: `POST /v1/interests` and `GET /healthz`, the request body's size and time
//! limits, and JSON errors that name the field, the bad value and what is valid (the body's
//! parsing and checks are in `request`).

use super::batcher::{Batcher, SubmitError};
use super::drain::Drain;
use super::engine::Answer;
use super::request::{parse, validate};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// An oversized body is read (and dropped) up to this many bytes before the 413 is sent, so
/// the client, still writing, reads the answer instead of a connection reset; a larger one
/// is answered at once and the connection closed.
const DRAIN_LIMIT: usize = 1 << 20;

/// What one request may ask for.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_signals: usize,
    pub max_text_chars: usize,
    pub max_top_k: usize,
    /// The whole body must arrive within this (a slow client cannot hold a request open).
    pub read_timeout: Duration,
}

/// The state the handlers share.
pub struct App {
    pub batcher: Batcher,
    pub limits: Limits,
    /// The engine's description, for `/healthz`.
    pub info: Value,
    /// Requests in flight, and whether the server is shutting down.
    pub drain: Drain,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/v1/interests",
            post(interests).fallback(|| async { wrong_method("POST") }),
        )
        .route(
            "/healthz",
            get(healthz).fallback(|| async { wrong_method("GET") }),
        )
        .fallback(not_found)
        .with_state(app)
}

/// A 4xx or 5xx answer: `{"error": ..., "field": ..., "valid": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    /// The request field at fault, as a path (`signals[3].kind`).
    pub field: Option<String>,
    /// What the field accepts.
    pub valid: Option<String>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: None,
            valid: None,
        }
    }

    pub(super) fn field(
        field: impl Into<String>,
        error: impl Into<String>,
        valid: impl Into<String>,
    ) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: error.into(),
            field: Some(field.into()),
            valid: Some(valid.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error });
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        if let Some(v) = self.valid {
            body["valid"] = json!(v);
        }
        let mut response = (self.status, json_body(&body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // The queue drains within a batch or two.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

fn json_body(value: &impl serde::Serialize) -> ([(header::HeaderName, &'static str); 1], String) {
    let text = serde_json::to_string(value).unwrap_or_else(|e| {
        // Serialising plain data to a string cannot fail; say so rather than panic.
        format!("{{\"error\":\"serialising the answer: {e}\"}}")
    });
    ([(header::CONTENT_TYPE, "application/json")], text)
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let stats = app.batcher.stats();
    let draining = app.drain.is_draining();
    let mut body = json!({ "status": if draining { "draining" } else { "ok" } });
    if let (Value::Object(out), Value::Object(info)) = (&mut body, &app.info) {
        out.extend(info.clone());
    }
    body["batching"] = json!({
        "max_batch": app.batcher.max_batch,
        "max_wait_ms": app.batcher.max_wait.as_millis() as u64,
        "queue": app.batcher.queue,
        "requests": stats.requests,
        "batches": stats.batches,
        "in_flight": app.drain.in_flight(),
    });
    body["limits"] = json!({
        "max_body_bytes": app.limits.max_body_bytes,
        "max_signals": app.limits.max_signals,
        "max_text_chars": app.limits.max_text_chars,
        "max_top_k": app.limits.max_top_k,
        "read_timeout_ms": app.limits.read_timeout.as_millis() as u64,
    });
    // A draining server is not healthy: a load balancer stops sending it requests.
    let status = match draining {
        true => StatusCode::SERVICE_UNAVAILABLE,
        false => StatusCode::OK,
    };
    (status, json_body(&body)).into_response()
}

fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is shutting down: retry against another replica, or once it restarts",
    )
}

fn wrong_method(allowed: &str) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        error: format!("this endpoint takes {allowed}"),
        field: Some("method".into()),
        valid: Some(allowed.into()),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: use POST /v1/interests or GET /healthz",
    )
}

async fn interests(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let Some(_in_flight) = app.drain.admit() else {
        return shutting_down().into_response();
    };
    match answer(&app, &headers, body).await {
        Ok(answer) => (StatusCode::OK, json_body(&answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn answer(app: &App, headers: &HeaderMap, body: Body) -> Result<Answer, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        // The media type is what comes before any `;` parameter (`; charset=utf-8`).
        let media_type = ct.split(';').next().unwrap_or("").trim();
        if !media_type.eq_ignore_ascii_case("application/json") {
            return Err(ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                error: format!("content-type {ct:?} is not JSON"),
                field: Some("content-type".into()),
                valid: Some("application/json".into()),
            });
        }
    }
    let bytes = read_body(body, headers, &app.limits).await?;
    let request = parse(&bytes)?;
    let input = validate(request, &app.limits)?;
    let reply = app.batcher.submit(input).map_err(|e| match e {
        SubmitError::Full => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the server is busy: {} requests are already queued; retry shortly",
                app.batcher.queue
            ),
        ),
        SubmitError::Stopped => shutting_down(),
    })?;
    match reply.await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server stopped before answering",
        )),
    }
}

/// The body, within the size and time limits: 413 past `max_body_bytes`, 408 when it has not
/// all arrived within `read_timeout`.
async fn read_body(body: Body, headers: &HeaderMap, limits: &Limits) -> Result<Bytes, ApiError> {
    let too_large = |size: String| ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        error: format!(
            "the request body is {size} bytes; at most {} are accepted",
            limits.max_body_bytes
        ),
        field: Some("body".into()),
        valid: Some(format!("at most {} bytes", limits.max_body_bytes)),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|&n| n > DRAIN_LIMIT) {
        return Err(too_large(n.to_string()));
    }
    let max = limits.max_body_bytes;
    let read = async move {
        let mut body = body;
        let mut buf = BytesMut::new();
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            seen += data.len();
            if seen <= max {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
        Ok::<_, axum::Error>((buf.freeze(), seen))
    };
    match tokio::time::timeout(limits.read_timeout, read).await {
        Err(_) => Err(ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            error: format!(
                "the request body did not arrive within {} ms",
                limits.read_timeout.as_millis()
            ),
            field: Some("body".into()),
            valid: None,
        }),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("reading the request body: {e}"),
        )),
        Ok(Ok((_, seen))) if seen > max => Err(too_large(match seen > DRAIN_LIMIT {
            true => format!("over {DRAIN_LIMIT}"),
            false => seen.to_string(),
        })),
        Ok(Ok((bytes, _))) => Ok(bytes),
    }
}
