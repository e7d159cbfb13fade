//! THE page a browser sees for a refusal (a status of 400 or more) where an API client gets the
//! `application/problem+json` body: the same words (title, detail) in the pages' layout, without
//! the signed-in header (the person may not be signed in). Every refusal a browser reads goes
//! through [`error_page`]: the router's layer for problem answers on non-`/v1` paths, the OAuth
//! callbacks and the one-time link pages.

use super::layout;
use crate::api::auth::Signed;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

/// A whole HTML page with `status`: `title` as its heading, `detail` as its text.
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    error_page_as(None, status, title, detail)
}

/// The same, with the signed-in person's name and sign-out in the header when there is one.
pub fn error_page_as(signed: Option<&Signed>, status: StatusCode, title: &str, detail: &str) -> Response {
    let title = heading(status, title);
    let title = title.as_str();
    let body = html! {
        h1 { (title) }
        div.alert role="alert" #error tabindex="-1" { p { (sentences(&layout::plain(detail))) } }
        p { a.btn href="/" { "Open the accounts" } }
    };
    let page = match signed {
        Some(s) => layout::page(s, title, body),
        None => layout::public_page(title, body),
    };
    (status, page).into_response()
}

/// A heading in a person's words where the title is only the status's name ("Unauthorized").
fn heading(status: StatusCode, title: &str) -> String {
    if status.canonical_reason() != Some(title) {
        return title.to_string();
    }
    match status {
        StatusCode::UNAUTHORIZED => "Sign in to forgelink",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::METHOD_NOT_ALLOWED => "This address cannot do that",
        StatusCode::GONE => "No longer here",
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => "Busy: try again in a moment",
        s if s.is_server_error() => "Something went wrong on our side",
        _ => "That did not work",
    }
    .to_string()
}

/// Each sentence of a refusal's words starting with a capital ("this login link is not valid.
/// a login link works once" reads as two sentences).
fn sentences(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.push(c);
            if c == '.' || c == '?' || c == '!' {
                start = true;
            } else if !c.is_whitespace() {
                start = false;
            }
        }
    }
    out
}

#[cfg(test)]
#[test]
fn each_sentence_of_a_refusal_starts_with_a_capital() {
    assert_eq!(
        sentences("this login link is not valid. a login link works once (forgelink login-link --for NAME)."),
        "This login link is not valid. A login link works once (forgelink login-link --for NAME)."
    );
}
