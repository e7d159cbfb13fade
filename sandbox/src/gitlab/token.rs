//! GitLab's token endpoint, `POST /oauth/token`: the client id and secret in the form body,
//! `authorization_code` (with `redirect_uri` and the PKCE `code_verifier`) and `refresh_token`
//! grants, and Doorkeeper's error bodies (`invalid_client` 401, `invalid_grant` 400, ...). And
//! `POST /oauth/revoke` ("OAuth 2.0 identity provider API", RFC 7009): the client id and secret
//! and the `token` (access or refresh) in the form body; 200 `{}` whether or not the token was
//! alive; the pair it belongs to dies.

use super::super::oauth::{secure_eq, GrantRefusal, Issued};
use super::{lock, Shared};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::json;
use std::sync::Arc;

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

#[derive(serde::Deserialize)]
struct RevokeForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    token: Option<String>,
}

async fn revoke(State(shared): State<Arc<Shared>>, Form(f): Form<RevokeForm>) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let client_id = match authenticated_client(&shared, f.client_id.as_deref(), f.client_secret.as_deref()) {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let Some(token) = f.token.as_deref().filter(|t| !t.is_empty()) else {
        return missing("token");
    };
    shared.oauth.revoke_token(token, &client_id);
    shared
        .revocations
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    (StatusCode::OK, Json(json!({}))).into_response()
}

/// The application's client id when `client_id` and `client_secret` are its own (GitLab takes
/// them as form fields on `/oauth/token` and `/oauth/revoke`); else GitLab's `invalid_client`,
/// the handler's finished answer.
#[allow(clippy::result_large_err)]
fn authenticated_client(shared: &Shared, id: Option<&str>, secret: Option<&str>) -> Result<String, Response> {
    let app = lock(&shared.app);
    let id_ok = id == Some(app.client_id.as_str());
    let secret_ok = secret.is_some_and(|s| secure_eq(s, &app.client_secret));
    if !(id_ok && secret_ok) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        ));
    }
    Ok(app.client_id.clone())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn invalid_grant() -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
    )
}

fn missing(param: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &format!("Missing required parameter: {param}."),
    )
}

async fn token(State(shared): State<Arc<Shared>>, Form(f): Form<TokenForm>) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let client_id = match authenticated_client(&shared, f.client_id.as_deref(), f.client_secret.as_deref()) {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let issued = match f.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(code) = f.code.as_deref() else {
                return missing("code");
            };
            shared.oauth.redeem_code(
                code,
                &client_id,
                f.redirect_uri.as_deref(),
                f.code_verifier.as_deref(),
            )
        }
        Some("refresh_token") => {
            let Some(rt) = f.refresh_token.as_deref() else {
                return missing("refresh_token");
            };
            shared.oauth.refresh(rt, &client_id)
        }
        None => return missing("grant_type"),
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        }
    };
    match issued {
        Ok(i) => answer(&shared, i),
        Err(GrantRefusal::BadCode | GrantRefusal::BadVerifier | GrantRefusal::BadRefreshToken) => {
            invalid_grant()
        }
    }
}

fn answer(shared: &Shared, i: Issued) -> Response {
    let body = json!({
        "access_token": i.access_token,
        "token_type": "Bearer",
        "expires_in": i.expires_in,
        "refresh_token": i.refresh_token,
        "scope": i.scopes.join(" "),
        "created_at": shared.oauth.now().timestamp(),
    });
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
