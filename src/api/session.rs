//! Signing in and out of the dashboard: `GET /login?token=ONE_TIME` spends a login link and sets
//! the session cookie; `POST /logout` (with the page's CSRF token) ends the session on the
//! server and clears the cookie. Also the two pages a refused browser sees: "sign in" (401) and
//! "not allowed" (403).

use super::auth::Signed;
use super::AppState;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use std::collections::HashMap;

/// A page in the app's layout for someone not (or no longer) signed in.
fn small_page(title: &str, heading: &str, text: maud::Markup) -> maud::Markup {
    super::pages::layout::public_page(title, maud::html! { h1 { (heading) } p { (text) } })
}

/// What a browser without a (valid) session sees instead of a page.
pub fn sign_in_page() -> Response {
    let page = small_page(
        "Sign in",
        "Sign in to forgelink",
        maud::html! {
            "Open a one-time login link. An admin makes one with " code { "forgelink login-link --for NAME" }
            " (or " code { "POST /v1/login-links" } " with the admin token); " code { "forgelink demo" } " prints one."
        },
    );
    (StatusCode::UNAUTHORIZED, page).into_response()
}

/// What a signed-in browser sees where its sign-in does not reach.
pub fn forbidden_page(why: &str) -> Response {
    let page = small_page(
        "Not allowed",
        "Not allowed",
        maud::html! { (why) " " a href="/" { "Open the accounts" } },
    );
    (StatusCode::FORBIDDEN, page).into_response()
}

/// `GET /login?token=ONE_TIME`: spends the token, sets the session cookie, redirects to `/`.
pub async fn login(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let access = &state.inner.access;
    match q.get("token").and_then(|t| access.redeem_login_token(t)) {
        Some(session) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/".to_string()),
                (header::SET_COOKIE, access.session_cookie(&session)),
            ],
        )
            .into_response(),
        // A spent link opened again by someone still signed in: they are where they wanted to be.
        None if matches!(access.session(&headers), Ok(Some(_))) => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, "/".to_string())]).into_response()
        }
        None => {
            let page = small_page(
                "Login link not valid",
                "This login link is not valid",
                maud::html! {
                    "A login link works once and expires. Ask an admin for a new one ("
                    code { "forgelink login-link --for NAME" } ")."
                },
            );
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SignOut {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /logout`: the session ends on the server; the browser's cookie is cleared.
pub async fn logout(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<SignOut>,
) -> Response {
    let access = &state.inner.access;
    if !access.verify_csrf(&signed, form.csrf.as_deref()) {
        return forbidden_page("This sign-out was not sent from this session's page; open the page again.");
    }
    access.sign_out(&signed);
    let page = small_page(
        "Signed out",
        "Signed out",
        maud::html! { "Sign in again with a new login link." },
    );
    (
        StatusCode::OK,
        [(header::SET_COOKIE, access.cleared_cookie())],
        page,
    )
        .into_response()
}
