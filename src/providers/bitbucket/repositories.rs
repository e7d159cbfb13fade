//! Bitbucket Cloud repositories of a linked workspace: create one in the selected project, look
//! one up by slug (the saga looks before it creates), list a workspace's repositories, and read
//! a file (the blueprint marker) from a branch.

use super::{BitbucketClient, PROVIDER};
use crate::providers::latency::SendTimed;
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use reqwest::StatusCode;

/// A repository. `uuid` (in braces, as Bitbucket writes it) is what identifies it for good; the
/// slug and `full_name` change with renames and transfers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(from = "WireRepo")]
pub struct BitbucketRepo {
    pub uuid: String,
    pub slug: String,
    pub name: String,
    /// `workspace/slug`.
    pub full_name: String,
    /// The `https` clone URL.
    pub clone_url: String,
    /// The repository's page.
    pub html_url: String,
    /// None while the repository is empty.
    pub main_branch: Option<String>,
    pub project_key: Option<String>,
    /// `updated_on`: moves with every push (and other changes); blueprint discovery skips a
    /// repository whose stamp has not moved.
    pub updated_on: Option<String>,
}

#[derive(serde::Deserialize)]
pub(super) struct WireRepo {
    uuid: String,
    #[serde(default)]
    slug: Option<String>,
    name: String,
    full_name: String,
    #[serde(default)]
    mainbranch: Option<WireBranch>,
    #[serde(default)]
    project: Option<WireProject>,
    links: WireLinks,
    #[serde(default)]
    updated_on: Option<String>,
}

#[derive(serde::Deserialize)]
struct WireBranch {
    name: String,
}

#[derive(serde::Deserialize)]
struct WireProject {
    key: String,
}

#[derive(serde::Deserialize)]
struct WireLinks {
    html: WireHref,
    #[serde(default)]
    clone: Vec<WireClone>,
}

#[derive(serde::Deserialize)]
struct WireHref {
    href: String,
}

#[derive(serde::Deserialize)]
struct WireClone {
    name: String,
    href: String,
}

impl From<WireRepo> for BitbucketRepo {
    fn from(w: WireRepo) -> Self {
        let slug = w
            .slug
            .unwrap_or_else(|| w.full_name.rsplit('/').next().unwrap_or_default().to_string());
        BitbucketRepo {
            uuid: w.uuid,
            slug,
            name: w.name,
            full_name: w.full_name,
            clone_url: w
                .links
                .clone
                .into_iter()
                .find(|c| c.name == "https")
                .map(|c| c.href)
                .unwrap_or_default(),
            html_url: w.links.html.href,
            main_branch: w.mainbranch.map(|b| b.name),
            project_key: w.project.map(|p| p.key),
            updated_on: w.updated_on,
        }
    }
}

impl BitbucketClient {
    /// Creates a private git repository `slug` in `workspace`, in the project `project_key`. A
    /// taken slug or an unknown project key is [`ProviderError::Rejected`] (400) with
    /// Bitbucket's reasons.
    pub async fn create_repository(
        &self,
        token: &Secret,
        workspace: &str,
        slug: &str,
        project_key: &str,
    ) -> Result<BitbucketRepo, ProviderError> {
        let url = self.api(&["repositories", workspace, slug])?;
        let body = serde_json::json!({"scm": "git", "is_private": true, "project": {"key": project_key}});
        let resp = self
            .http
            .post(url)
            .timeout(self.timeout)
            .bearer_auth(token.expose())
            .json(&body)
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        if resp.status() == StatusCode::BAD_REQUEST {
            let text = resp.text().await.unwrap_or_default();
            return Err(ProviderError::Rejected {
                provider: PROVIDER,
                status: 400,
                detail: error_with_fields(&text),
            });
        }
        let wire: WireRepo =
            http::json(PROVIDER, &format!("new repository {workspace}/{slug}"), resp).await?;
        Ok(wire.into())
    }

    /// The repository `workspace/slug`, or None when it does not exist (or is out of sight).
    pub async fn repository(
        &self,
        token: &Secret,
        workspace: &str,
        slug: &str,
    ) -> Result<Option<BitbucketRepo>, ProviderError> {
        let url = self.api(&["repositories", workspace, slug])?;
        let resp = self.get(url.as_str(), token).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let wire: WireRepo = http::json(PROVIDER, &format!("repository {workspace}/{slug}"), resp).await?;
        Ok(Some(wire.into()))
    }

    /// The text of the file at `path` on `git_ref` (a branch, tag or commit), or None when the
    /// repository, the ref or the file does not exist.
    pub async fn src_file(
        &self,
        token: &Secret,
        workspace: &str,
        slug: &str,
        git_ref: &str,
        path: &str,
    ) -> Result<Option<String>, ProviderError> {
        let mut segments = vec!["repositories", workspace, slug, "src", git_ref];
        segments.extend(path.split('/').filter(|s| !s.is_empty()));
        let url = self.api(&segments)?;
        let resp = self
            .http
            .get(url)
            .timeout(self.timeout)
            .bearer_auth(token.expose())
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        let what = format!("file {path} of {workspace}/{slug}");
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(http::error_from(PROVIDER, &what, resp).await);
        }
        let bytes = resp.bytes().await.map_err(|e| http::network(PROVIDER, e))?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| ProviderError::BadResponse {
                provider: PROVIDER,
                detail: format!("{what}: content is not UTF-8 text"),
            })
    }

    /// Every repository (all pages) of `workspace` the user can see.
    pub async fn repositories(
        &self,
        token: &Secret,
        workspace: &str,
    ) -> Result<Vec<BitbucketRepo>, ProviderError> {
        let mut url = self.api(&["repositories", workspace])?;
        url.query_pairs_mut().append_pair("pagelen", "100");
        let what = format!("repositories of workspace {workspace}");
        let all: Vec<WireRepo> = self.all_pages(url.to_string(), token, &what).await?;
        Ok(all.into_iter().map(Into::into).collect())
    }

    /// `{api_url}/2.0/{segments...}`, each segment percent-encoded whole.
    pub(super) fn api(&self, segments: &[&str]) -> Result<url::Url, ProviderError> {
        let bad = |detail: &str| ProviderError::BadResponse {
            provider: PROVIDER,
            detail: detail.to_string(),
        };
        let mut u = url::Url::parse(&self.config.api_url).map_err(|_| bad("api_url is not a URL"))?;
        u.path_segments_mut()
            .map_err(|_| bad("api_url cannot take a path"))?
            .pop_if_empty()
            .push("2.0")
            .extend(segments);
        Ok(u)
    }
}

/// Bitbucket's 400 body `{"type": "error", "error": {"message": M, "fields": {F: [R]}}}` as
/// `M (F: R)`, so a person sees which field was refused and why.
pub fn error_with_fields(body: &str) -> String {
    let message = http::error_detail(body);
    let fields = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/fields").cloned())
        .and_then(|f| f.as_object().cloned())
        .map(|f| {
            f.iter()
                .map(|(k, v)| {
                    let reasons = match v {
                        serde_json::Value::Array(rs) => rs
                            .iter()
                            .filter_map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other.as_str().unwrap_or_default().to_string(),
                    };
                    format!("{k}: {reasons}")
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|s| !s.is_empty());
    let detail = match fields {
        Some(f) => format!("{message} ({f})"),
        None => message,
    };
    detail.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitbucket_errors_keep_the_field_reasons() {
        let body = r#"{"type":"error","error":{"message":"Bad request","fields":{"project":["Project with key 'NOPE' does not exist."]}}}"#;
        assert_eq!(
            error_with_fields(body),
            "Bad request (project: Project with key 'NOPE' does not exist.)"
        );
        let plain =
            r#"{"type":"error","error":{"message":"Repository with this Slug and Owner already exists."}}"#;
        assert_eq!(
            error_with_fields(plain),
            "Repository with this Slug and Owner already exists."
        );
    }
}
