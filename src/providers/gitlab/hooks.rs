//! GitLab calls that tidy up after forgelink: a project hook per project forgelink creates or
//! imports (`POST /api/v4/projects/:id/hooks` with push and tag events and a secret `token`,
//! read back with `GET .../hooks/:hook_id`, removed with `DELETE`), and revoking a token
//! (`POST /oauth/revoke` with the application's `client_id` and `client_secret`, RFC 7009).
//! Pages: docs.gitlab.com/api/project_webhooks/ and docs.gitlab.com/api/oauth2/#revoke-a-token.

use super::{GitLabClient, PROVIDER};
use crate::providers::latency::SendTimed;
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use reqwest::StatusCode;

/// A project hook as GitLab describes it (only what the engine checks).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GitLabHook {
    pub id: u64,
    pub url: String,
    #[serde(default)]
    pub push_events: bool,
    #[serde(default)]
    pub tag_push_events: bool,
}

impl GitLabClient {
    /// Adds a hook to project `project_id` that sends push and tag events to `url` with
    /// `X-Gitlab-Token: secret`.
    pub async fn add_project_hook(
        &self,
        token: &Secret,
        project_id: u64,
        url: &str,
        secret: &Secret,
    ) -> Result<GitLabHook, ProviderError> {
        let endpoint = self.api_url(&["projects", &project_id.to_string(), "hooks"])?;
        let body = serde_json::json!({
            "url": url,
            "token": secret.expose(),
            "push_events": true,
            "tag_push_events": true,
            "enable_ssl_verification": true,
        });
        let resp = self
            .http
            .post(endpoint)
            .timeout(self.timeout)
            .bearer_auth(token.expose())
            .json(&body)
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        http::json(PROVIDER, &format!("hook of project {project_id}"), resp).await
    }

    /// The hook `hook_id` of project `project_id`; `None` when it is gone.
    pub async fn project_hook(
        &self,
        token: &Secret,
        project_id: u64,
        hook_id: u64,
    ) -> Result<Option<GitLabHook>, ProviderError> {
        let url = self.api_url(&["projects", &project_id.to_string(), "hooks", &hook_id.to_string()])?;
        self.get_optional(token, url, &format!("hook {hook_id} of project {project_id}"))
            .await
    }

    /// Removes hook `hook_id` from project `project_id`; one already gone is success.
    pub async fn delete_project_hook(
        &self,
        token: &Secret,
        project_id: u64,
        hook_id: u64,
    ) -> Result<(), ProviderError> {
        let url = self.api_url(&["projects", &project_id.to_string(), "hooks", &hook_id.to_string()])?;
        let resp = self
            .http
            .delete(url)
            .timeout(self.timeout)
            .bearer_auth(token.expose())
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(http::error_from(PROVIDER, &format!("hook {hook_id}"), resp).await),
        }
    }

    /// Revokes `token` (an access or a refresh token) at GitLab. GitLab answers 200 whether or
    /// not the token was still alive, as RFC 7009 asks.
    pub async fn revoke(&self, token: &Secret) -> Result<(), ProviderError> {
        let form = [
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
            ("token", token.expose()),
        ];
        let resp = self
            .http
            .post(format!("{}/oauth/revoke", self.config.base_url))
            .timeout(self.timeout)
            .header("accept", "application/json")
            .form(&form)
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(http::error_from(PROVIDER, "token revocation", resp).await)
    }
}
