//! One format for every refusal, as two router layers:
//! - [`refusals`]: an answer of 400 or more that is neither a problem (`ApiError`) nor a page
//!   (the router's own 404/405, axum's extractor rejections: a bad query, a form that is not a
//!   form, a body over its cap) becomes an RFC 9457 `application/problem+json` answer, with the
//!   words it had as its `detail`;
//! - [`pages_for_browsers`]: a browser (its `Accept` prefers `text/html`) gets that problem as
//!   an HTML page ([`pages::error_page`]) instead, outside the `/v1` API.

use super::error::{ApiError, PROBLEM_JSON};
use super::pages;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// The largest body of a refusal read back to rewrite it.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;

fn content_type(r: &Response) -> &str {
    r.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// For `Router::layer(middleware::from_fn(refusals))`.
pub async fn refusals(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let r = next.run(req).await;
    let kind = content_type(&r);
    if r.status().as_u16() < 400 || kind.starts_with(PROBLEM_JSON) || kind.starts_with("text/html") {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, MAX_REFUSAL_BYTES)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let status = parts.status;
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            format!(
                "the request body is larger than {} KiB",
                super::limits::DEFAULT_BODY_BYTES / 1024
            ),
        )
        .hint("send a smaller body"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(status, format!("{path} does not take {method}"))
            .hint("the Allow header lists the methods it takes"),
        StatusCode::NOT_FOUND if text.is_empty() => ApiError::not_found("no such route"),
        _ if text.is_empty() => ApiError::new(status, status.canonical_reason().unwrap_or("refused")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(status, text).field("Content-Type"),
        StatusCode::BAD_REQUEST => match query_field(&text) {
            Some(field) => ApiError::new(status, text.clone()).field(field),
            None => ApiError::new(status, text),
        },
        _ => ApiError::new(status, text),
    };
    let mut answer = axum::response::IntoResponse::into_response(error);
    // The answer's own headers (Allow, Retry-After) stay; its length and type are the problem's.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        answer.headers_mut().insert(name, value);
    }
    answer
}

/// The parameter an axum query rejection names (`Failed to deserialize query string: limit:
/// invalid digit found in string`).
fn query_field(text: &str) -> Option<String> {
    let rest = text.strip_prefix("Failed to deserialize query string: ")?;
    let (field, _) = rest.split_once(": ")?;
    let plain = !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| field.to_string())
}

/// True when the request's `Accept` prefers an HTML page to JSON (a browser's navigation).
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let (mut html, mut json) = (0.0f32, 0.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => html = html.max(q),
            "application/json" | "application/problem+json" => json = json.max(q),
            _ => {}
        }
    }
    html > 0.0 && html >= json
}

/// For `Router::layer(middleware::from_fn(pages_for_browsers))`.
pub async fn pages_for_browsers(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = path == "/v1" || path.starts_with("/v1/");
    let browser = !api && prefers_html(req.headers());
    let r = next.run(req).await;
    if !browser || r.status().as_u16() < 400 || !content_type(&r).starts_with(PROBLEM_JSON) {
        return r;
    }
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_REFUSAL_BYTES)
        .await
        .unwrap_or_default();
    let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = |k: &str| problem[k].as_str().unwrap_or("").to_string();
    let detail = match text("hint") {
        h if h.is_empty() => text("detail"),
        h => format!("{}. {h}.", text("detail").trim_end_matches('.')),
    };
    let mut page = pages::error_page(parts.status, &text("title"), &detail);
    for name in [header::ALLOW, header::RETRY_AFTER, header::SET_COOKIE] {
        if let Some(v) = parts.headers.get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn a_query_rejection_names_its_parameter() {
        let text = "Failed to deserialize query string: limit: invalid digit found in string";
        assert_eq!(query_field(text).as_deref(), Some("limit"));
        assert_eq!(query_field("Failed to deserialize query string: oops"), None);
    }

    #[test]
    fn a_browser_navigation_prefers_html_and_an_api_client_does_not() {
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
        assert!(prefers_html(&accept(chrome)));
        assert!(!prefers_html(&accept("application/json")));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&HeaderMap::new()));
        assert!(!prefers_html(&accept("text/html;q=0.5, application/json")));
        assert!(!prefers_html(&accept("text/html;q=0")));
    }
}
