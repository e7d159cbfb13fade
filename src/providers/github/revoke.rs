//! Revoking a user-to-server token the app holds: `DELETE /applications/{client_id}/token` with
//! the app's client id and secret as basic authentication and `{"access_token": ...}` as the
//! body; GitHub answers 204, or 404 for a token that is already invalid (nothing left to do).
//! Page: docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token

use super::{GitHubClient, PROVIDER};
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use reqwest::{Method, StatusCode};

impl GitHubClient {
    /// Revokes the user token `token`; one GitHub no longer knows is success.
    pub async fn revoke_user_token(&self, token: &Secret) -> Result<(), ProviderError> {
        let c = self.config();
        let url = self.api_path(&["applications", &c.client_id, "token"])?;
        let rb = self
            .request(Method::DELETE, url.as_str())
            .basic_auth(&c.client_id, Some(c.client_secret.expose()))
            .json(&serde_json::json!({"access_token": token.expose()}));
        let resp = self.send(rb).await?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(http::error_from(PROVIDER, "user token", resp).await),
        }
    }
}
