//! Bitbucket's token endpoint, `POST /site/oauth2/access_token`: the consumer key and secret as
//! HTTP basic auth, `authorization_code` and `refresh_token` grants, Bitbucket's answer
//! (`scopes`, `expires_in`, `token_type: bearer`, `state`) and its OAuth error bodies.

use super::super::oauth::{secure_eq, GrantRefusal, Issued};
use super::{lock, Shared};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;
use std::sync::Arc;

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/site/oauth2/access_token", post(token))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `(key, secret)` from `Authorization: Basic ...`.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (k, s) = decoded.split_once(':')?;
    Some((k.to_string(), s.to_string()))
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let key = {
        let c = lock(&shared.consumer);
        let ok = basic_auth(&headers).is_some_and(|(k, s)| k == c.key && secure_eq(&s, &c.secret));
        if !ok {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "Invalid OAuth client credentials",
            );
        }
        c.key.clone()
    };
    let (issued, grant) = match f.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(code) = f.code.as_deref() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing code parameter.");
            };
            let r = shared.oauth.redeem_code(code, &key, f.redirect_uri.as_deref(), None);
            (r, "authorization_code")
        }
        Some("refresh_token") => {
            let Some(rt) = f.refresh_token.as_deref() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing refresh_token parameter.");
            };
            (shared.oauth.refresh(rt, &key), "refresh_token")
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type. Use authorization_code, refresh_token, client_credentials or urn:bitbucket:oauth2:jwt.",
            )
        }
    };
    match issued {
        Ok(i) => answer(i, grant),
        Err(GrantRefusal::BadCode | GrantRefusal::BadVerifier) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The specified code is not valid.",
        ),
        Err(GrantRefusal::BadRefreshToken) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid refresh_token")
        }
    }
}

fn answer(i: Issued, grant: &str) -> Response {
    let body = json!({
        "access_token": i.access_token,
        "scopes": i.scopes.join(" "),
        "expires_in": i.expires_in,
        "refresh_token": i.refresh_token,
        "token_type": "bearer",
        "state": grant,
    });
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
