//! GitLab's offset pagination as the sandbox answers it: `page` and `per_page` (missing or
//! unparsable page is 1, per_page at most 100), the `X-Page`, `X-Per-Page`, `X-Total`,
//! `X-Total-Pages`, `X-Next-Page`, `X-Prev-Page` headers and an RFC 8288 `Link` header.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

/// One page of `values`; `link_to(page, per_page)` builds the URL of another page.
pub(super) fn page_response(
    values: Vec<Value>,
    page: Option<String>,
    per_page: Option<String>,
    link_to: impl Fn(usize, usize) -> String,
) -> Response {
    let page = page
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let per_page = per_page
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(20)
        .min(100);
    let total = values.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let body: Vec<Value> = values
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let next = (page < total_pages).then_some(page + 1);
    let prev = (page > 1).then(|| (page - 1).min(total_pages));
    let mut links = Vec::new();
    if let Some(p) = prev {
        links.push(format!(r#"<{}>; rel="prev""#, link_to(p, per_page)));
    }
    if let Some(n) = next {
        links.push(format!(r#"<{}>; rel="next""#, link_to(n, per_page)));
    }
    links.push(format!(r#"<{}>; rel="first""#, link_to(1, per_page)));
    links.push(format!(r#"<{}>; rel="last""#, link_to(total_pages, per_page)));
    let mut resp = Json(body).into_response();
    let h = resp.headers_mut();
    let mut set = |name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(name, v);
        }
    };
    set("x-page", page.to_string());
    set("x-per-page", per_page.to_string());
    set("x-total", total.to_string());
    set("x-total-pages", total_pages.to_string());
    set("x-next-page", next.map(|n| n.to_string()).unwrap_or_default());
    set("x-prev-page", prev.map(|n| n.to_string()).unwrap_or_default());
    set("link", links.join(", "));
    resp
}
