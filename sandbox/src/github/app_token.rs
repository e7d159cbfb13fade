//! Revoking a user-to-server token, as GitHub's REST API documents it ("Delete an app token",
//! docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token):
//! `DELETE /applications/{client_id}/token` with the app's client id and secret as basic
//! authentication and `{"access_token": ...}` in the body; 204 when the token is revoked, 404
//! when GitHub does not know it, 422 without `access_token`. The sandbox counts revocations.

use super::api::gh_error;
use super::{GitHubSandbox, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::delete;
use axum::Router;
use base64::Engine;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/v3/applications/{client_id}/token", delete(revoke))
}

/// The (client id, secret) of a `Basic` authorization header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

async fn revoke(
    State(s): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app_ok = basic(&headers).is_some_and(|(id, secret)| {
        id == s.app.client_id && secret == s.app.client_secret && id == client_id
    });
    if !app_ok {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_string));
    let Some(token) = token else {
        return gh_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request.\n\n\"access_token\" wasn't supplied.",
        );
    };
    if s.world().user_tokens.remove(&token).is_none() {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    }
    s.revoked_user_tokens.fetch_add(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT.into_response()
}

impl GitHubSandbox {
    /// How many user tokens were revoked through `DELETE /applications/{client_id}/token`.
    pub fn revoked_user_tokens(&self) -> usize {
        self.shared.revoked_user_tokens.load(Ordering::SeqCst)
    }

    /// Every installation token issued so far stops working now (GitHub answers 401 "Bad
    /// credentials"), before the `expires_at` it was issued with: a revoked or rotated token.
    pub fn expire_installation_tokens(&self) {
        let past = chrono::Utc::now() - chrono::Duration::seconds(1);
        for t in self.shared.world().installation_tokens.values_mut() {
            t.expires_at = past;
        }
    }
}
