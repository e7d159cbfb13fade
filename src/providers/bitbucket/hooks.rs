//! Bitbucket Cloud repository webhooks: one per repository forgelink creates or imports
//! (`POST /2.0/repositories/{workspace}/{repo_slug}/hooks` with `repo:push` and a `secret`, so
//! deliveries carry `X-Hub-Signature`; read back with `GET .../hooks/{uid}`, removed with
//! `DELETE`). The OAuth consumer needs the `webhook` scope. Bitbucket Cloud documents no
//! endpoint to revoke an OAuth token, so unlinking only destroys it in the vault.
//! Page: developer.atlassian.com/cloud/bitbucket/rest/api-group-repositories/#api-repositories-workspace-repo-slug-hooks-post

use super::{BitbucketClient, PROVIDER};
use crate::providers::latency::SendTimed;
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use reqwest::StatusCode;

/// A webhook subscription as Bitbucket describes it (only what the engine checks).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct BitbucketHook {
    /// `{...}`: the subscription's id, braces included.
    pub uuid: String,
    pub url: String,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub events: Vec<String>,
}

impl BitbucketClient {
    /// Subscribes `url` to pushes of `workspace/slug`, signed with `secret`.
    pub async fn add_repository_hook(
        &self,
        token: &Secret,
        workspace: &str,
        slug: &str,
        url: &str,
        secret: &Secret,
    ) -> Result<BitbucketHook, ProviderError> {
        let endpoint = self.api(&["repositories", workspace, slug, "hooks"])?;
        let body = serde_json::json!({
            "description": "forgelink",
            "url": url,
            "active": true,
            "secret": secret.expose(),
            "events": ["repo:push", "repo:updated"],
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
        http::json(PROVIDER, &format!("webhook of {workspace}/{slug}"), resp).await
    }

    /// The hook `uid` of `workspace/slug`; `None` when it is gone.
    pub async fn repository_hook(
        &self,
        token: &Secret,
        workspace: &str,
        slug: &str,
        uid: &str,
    ) -> Result<Option<BitbucketHook>, ProviderError> {
        let url = self.api(&["repositories", workspace, slug, "hooks", uid])?;
        let resp = self.get(url.as_str(), token).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        http::json(PROVIDER, &format!("webhook {uid}"), resp)
            .await
            .map(Some)
    }

    /// Removes hook `uid` from `workspace/slug`; one already gone is success.
    pub async fn delete_repository_hook(
        &self,
        token: &Secret,
        workspace: &str,
        slug: &str,
        uid: &str,
    ) -> Result<(), ProviderError> {
        let url = self.api(&["repositories", workspace, slug, "hooks", uid])?;
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
            _ => Err(http::error_from(PROVIDER, &format!("webhook {uid}"), resp).await),
        }
    }
}
