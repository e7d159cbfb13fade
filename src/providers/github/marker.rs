//! The blueprint marker read the cheap way GitHub documents ("Use conditional requests if
//! appropriate"): the contents API answers with an `ETag`; the next read sends it back as
//! `If-None-Match` and an unchanged file answers a bodiless 304, which does not count against
//! the rate limit. A 404 is "no marker", not an error.

use super::{GitHubClient, PROVIDER};
use crate::providers::{http, ProviderError};
use reqwest::header::{AUTHORIZATION, ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// What a conditional read of the marker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerRead {
    /// The same as when `etag` was given out: what was found then still holds.
    Unchanged,
    /// The marker is a file; its `ETag`, to send next time.
    Present { etag: Option<String> },
    /// No such file (or the path is a directory, or the repository is empty).
    Absent,
}

impl GitHubClient {
    /// Reads `path` in `owner/repo` on its default branch, sending `etag` (from an earlier
    /// read) as `If-None-Match`.
    pub async fn marker(
        &self,
        installation_id: u64,
        owner: &str,
        repo: &str,
        path: &str,
        etag: Option<&str>,
    ) -> Result<MarkerRead, ProviderError> {
        let mut segments = vec!["repos", owner, repo, "contents"];
        segments.extend(path.split('/').filter(|s| !s.is_empty()));
        let url = self.api_path(&segments)?;
        let what = format!("{path} in {owner}/{repo}");
        // A 401 renews the installation token once (the client's one rule for them).
        let resp = self
            .with_installation_token(installation_id, |auth| {
                let (url, what) = (url.clone(), what.clone());
                async move {
                    let mut rb = self
                        .request(Method::GET, url.as_str())
                        .header(AUTHORIZATION, auth);
                    if let Some(etag) = etag {
                        rb = rb.header(IF_NONE_MATCH, etag);
                    }
                    let resp = self.send(rb).await?;
                    let s = resp.status();
                    if s.is_success() || s == StatusCode::NOT_MODIFIED || s == StatusCode::NOT_FOUND {
                        return Ok(resp);
                    }
                    Err(http::error_from(PROVIDER, &what, resp).await)
                }
            })
            .await?;
        match resp.status() {
            StatusCode::NOT_MODIFIED => return Ok(MarkerRead::Unchanged),
            StatusCode::NOT_FOUND => return Ok(MarkerRead::Absent),
            _ => {}
        }
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let v: Value = http::json(PROVIDER, &what, resp).await?;
        Ok(if v["type"] == "file" {
            MarkerRead::Present { etag }
        } else {
            MarkerRead::Absent
        })
    }
}
