//! Signing in and out of the dashboard: `GET /login?token=ONE_TIME` spends a login link and sets
//! the session cookie; `POST /logout` (with the page's CSRF token) ends the session on the
//! server and clears the cookie. Also the two refusals of the pages: "sign in" (401) and "not
//! allowed" (403), problems like every refusal (a browser sees them as pages, see `problem`).

use super::auth::Signed;
use super::error::ApiError;
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

/// What a request without a (valid) session gets instead of a page.
pub fn sign_in() -> Response {
    ApiError::unauthorized(
        "open a one-time login link: an admin makes one with `forgelink login-link --for NAME` \
         (or POST /v1/login-links with the admin token); `forgelink demo` prints one",
    )
    .into_response()
}

/// What a signed-in person gets where their sign-in does not reach.
pub fn forbidden(why: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, why).into_response()
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
        None => ApiError::new(StatusCode::UNAUTHORIZED, "this login link is not valid")
            .field("token")
            .hint("a login link works once and expires; ask an admin for a new one (`forgelink login-link --for NAME`)")
            .into_response(),
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
        return forbidden("this sign-out was not sent from this session's page; open the page again");
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
