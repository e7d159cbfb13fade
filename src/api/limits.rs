//! Bounds on what a request may hold: every body is capped ([`DEFAULT_BODY_BYTES`] unless its
//! route says more), and a webhook delivery (up to GitHub's 25 MB) is read as a stream, counted
//! chunk by chunk against one memory budget shared by every delivery in flight
//! ([`BODY_BUDGET_BYTES`]): a body over its route's cap is answered 413 as soon as it passes the
//! cap, and a body that finds the budget spent is answered 503 with `Retry-After`, so many large
//! unauthenticated bodies at once cannot grow the server's memory without bound. Every such
//! refusal, like any other, is the JSON `{error, hint}` of [`ApiError`].

use super::error::ApiError;
use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use futures_util::StreamExt;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// The cap of every body without a cap of its own (commands, forms): they are small.
pub const DEFAULT_BODY_BYTES: usize = 64 * 1024;
/// The bytes of request bodies all deliveries in flight may hold together.
pub const BODY_BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// What a shed request is told to wait, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

fn budget() -> &'static Arc<Semaphore> {
    static BUDGET: OnceLock<Arc<Semaphore>> = OnceLock::new();
    BUDGET.get_or_init(|| Arc::new(Semaphore::new(BODY_BUDGET_BYTES)))
}

/// The bytes of the shared budget free now (for tests and metrics).
pub fn budget_available() -> usize {
    budget().available_permits()
}

fn too_large(max: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {} KiB", max / 1024),
    )
    .hint("send a smaller body")
    .into_response()
}

/// A 503 asking to come back later, as every shed request gets it.
pub fn busy(what: &str) -> Response {
    let mut r = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the server is busy: {what}"),
    )
    .hint(format!("try again in {RETRY_AFTER_SECS} seconds"))
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}

/// `route` with bodies of up to `max` bytes, streamed against the shared budget.
pub fn streamed_body_limit(route: MethodRouter<AppState>, max: usize) -> MethodRouter<AppState> {
    route
        .layer::<_, std::convert::Infallible>(from_fn(move |req: Request, next: Next| {
            read_within(max, req, next)
        }))
        .layer(DefaultBodyLimit::max(max))
}

async fn read_within(max: usize, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large(max);
    }
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut held = Vec::new();
    let mut permits = None::<tokio::sync::OwnedSemaphorePermit>;
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return ApiError::bad_request("the request body was cut off").into_response();
        };
        total += chunk.len();
        if total > max {
            return too_large(max);
        }
        let Ok(n) = u32::try_from(chunk.len()) else {
            return too_large(max);
        };
        match budget().clone().try_acquire_many_owned(n) {
            Ok(p) => match permits.as_mut() {
                Some(all) => all.merge(p),
                None => permits = Some(p),
            },
            Err(_) => return busy("too many large requests at once"),
        }
        held.push(chunk);
    }
    let bytes: Bytes = if held.len() == 1 {
        held.pop().unwrap_or_default()
    } else {
        held.concat().into()
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    drop(permits);
    response
}

/// Turns any 413 a body extractor answers (plain text) into the JSON refusal; for
/// `Router::layer(map_response(json_refusals))`.
pub async fn json_refusals(r: Response) -> Response {
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        too_large(DEFAULT_BODY_BYTES)
    } else {
        r
    }
}
