//! Bounds on what requests may hold, as router layers:
//! - requests in flight: at most `ServerLimits::max_in_flight` are handled at once; one more is
//!   answered 503 with `Retry-After` at once (load shedding) instead of queueing without bound;
//! - bodies: every route that takes a body reads it through [`streamed_body_limit`], with its
//!   route's cap ([`DEFAULT_BODY_BYTES`] for commands and forms, 25 MB for webhooks, GitHub's
//!   own cap), chunk by chunk, counted (twice: the chunks and their one copy) against ONE memory budget shared by every request in
//!   flight (`ServerLimits::body_budget`), and within `ServerLimits::body_timeout`. A body over
//!   its cap is answered 413 as soon as it passes the cap (or at once when its `Content-Length`
//!   says so), a body that finds the budget spent 503 with `Retry-After`, a body too slow 408;
//!   so many large or slow unauthenticated bodies cannot grow the server's memory without bound.
//!
//! Every such refusal, like any other, is the problem details (`application/problem+json`) of
//! [`ApiError`].

use super::error::ApiError;
use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use futures_util::StreamExt;

/// The cap of every body without a cap of its own (commands, forms, login links): they are small.
pub const DEFAULT_BODY_BYTES: usize = 64 * 1024;
/// What a shed request is told to wait, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

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

/// The load-shedding layer: `Router::layer(from_fn_with_state(state, shed_load))`.
pub async fn shed_load(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.inner.in_flight.clone().try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(req).await;
            drop(permit);
            response
        }
        Err(_) => busy("too many requests at once"),
    }
}

/// `route` with bodies of up to `max` bytes, streamed against the shared budget.
pub fn streamed_body_limit(
    state: &AppState,
    route: MethodRouter<AppState>,
    max: usize,
) -> MethodRouter<AppState> {
    route
        .layer::<_, std::convert::Infallible>(from_fn_with_state(
            state.clone(),
            move |s: State<AppState>, req: Request, next: Next| read_within(s, max, req, next),
        ))
        .layer(DefaultBodyLimit::max(max))
}

async fn read_within(State(state): State<AppState>, max: usize, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large(max);
    }
    let (parts, body) = req.into_parts();
    let budget = state.inner.body_budget.clone();
    let deadline = state.inner.limits.body_timeout;
    let read = async move {
        let mut stream = body.into_data_stream();
        let mut held = Vec::new();
        let mut permits = None::<tokio::sync::OwnedSemaphorePermit>;
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else {
                return Err(ApiError::bad_request("the request body was cut off").into_response());
            };
            total += chunk.len();
            if total > max {
                return Err(too_large(max));
            }
            // Twice the chunk: the chunks and, at the end, the one contiguous copy of them.
            let n = u32::try_from(chunk.len() * 2).map_err(|_| too_large(max))?;
            match budget.clone().try_acquire_many_owned(n) {
                Ok(p) => match permits.as_mut() {
                    Some(all) => all.merge(p),
                    None => permits = Some(p),
                },
                Err(_) => return Err(busy("too many large requests at once")),
            }
            held.push(chunk);
        }
        let bytes: Bytes = match held.len() {
            1 => held.pop().unwrap_or_default(),
            _ => held.concat().into(),
        };
        Ok((bytes, permits))
    };
    let (bytes, permits) = match tokio::time::timeout(deadline, read).await {
        Ok(Ok(read)) => read,
        Ok(Err(refusal)) => return refusal,
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )
            .hint(format!(
                "send the whole body within {} seconds",
                deadline.as_secs()
            ))
            .into_response()
        }
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    drop(permits);
    response
}
