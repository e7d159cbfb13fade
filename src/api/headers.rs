//! The headers every answer carries for the browser's sake. Every HTML page gets a
//! `Content-Security-Policy` that allows no source but the server itself for fetches and only
//! the inline style sheets and the one inline script the pages hold, each named by its SHA-256
//! hash (so an injected `<script>` or `style` attribute does not run), with `frame-ancestors
//! 'none'` against click-jacking; and `Cache-Control: no-store`, as the pages show accounts and
//! carry a CSRF token. Every answer gets `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: same-origin`; the login answer (it sets the session cookie) is not stored.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

fn hash_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The policy of every HTML page.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let styles = hash_source(super::pages::style::STYLE);
        let script = hash_source(super::pages::live::SCRIPT);
        format!(
            "default-src 'none'; style-src {styles}; script-src {script}; connect-src 'self'; \
             img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
    })
}

/// Adds the headers to `response`; for `Router::layer(map_response(secure_headers))`.
pub async fn secure_headers(mut response: Response) -> Response {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let sets_cookie = response.headers().contains_key(header::SET_COOKIE);
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(content_security_policy()),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if html || sets_cookie {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
