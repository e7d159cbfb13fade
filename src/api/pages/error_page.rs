//! THE page a browser sees for a refusal (a status of 400 or more) where an API client gets the
//! `application/problem+json` body: the same words (title, detail) in the pages' layout, without
//! the signed-in header (the person may not be signed in). Every refusal a browser reads goes
//! through [`error_page`]: the router's layer for problem answers on non-`/v1` paths, the OAuth
//! callbacks and the one-time link pages.

use super::style::STYLE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, PreEscaped, DOCTYPE};

/// A whole HTML page with `status`: `title` as its heading, `detail` as its text.
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · forgelink" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    a.brand href="/" {
                        span.logo aria-hidden="true" { "f" }
                        "forgelink"
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    div.alert role="alert" { p { (detail) } }
                    p { a href="/" { "Back to the accounts" } }
                }
            }
        }
    };
    (status, page).into_response()
}
