//! GitLab projects (the repositories of linked accounts): create one in the selected group, look
//! one up by path or id (the saga looks before it creates), list the projects the user is a
//! member of, and read a file (the blueprint marker) from a branch.

use super::{GitLabClient, PROVIDER};
use crate::providers::latency::SendTimed;
use crate::providers::oauth::MAX_PAGES;
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::StatusCode;

/// A project as `GET /api/v4/projects/:id` describes it. `id` is what identifies it for good;
/// `path_with_namespace` changes with renames and transfers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GitLabProject {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub path_with_namespace: String,
    pub http_url_to_repo: String,
    pub web_url: String,
    /// None while the repository is empty.
    #[serde(default)]
    pub default_branch: Option<String>,
    pub namespace: GitLabNamespace,
    /// `last_activity_at`: moves with every push (and other activity); blueprint discovery
    /// skips a project whose stamp has not moved.
    #[serde(default)]
    pub last_activity_at: Option<String>,
}

/// The group (or user) a project lives in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GitLabNamespace {
    pub id: u64,
    pub full_path: String,
}

/// A file read from a project's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabFile {
    pub file_path: String,
    pub content: String,
    /// The last commit that changed the file.
    pub last_commit_id: String,
}

#[derive(serde::Deserialize)]
struct FileAnswer {
    file_path: String,
    encoding: String,
    content: String,
    #[serde(default)]
    last_commit_id: String,
}

#[derive(serde::Serialize)]
struct NewProject<'a> {
    name: &'a str,
    path: &'a str,
    namespace_id: u64,
    visibility: &'static str,
}

impl GitLabClient {
    /// Creates a private, empty project `path` named `name` in group `namespace_id`. A taken name
    /// or path, or an invalid path, is [`ProviderError::Rejected`] (400) with GitLab's reasons,
    /// e.g. `path has already been taken`.
    pub async fn create_project(
        &self,
        token: &Secret,
        namespace_id: u64,
        name: &str,
        path: &str,
    ) -> Result<GitLabProject, ProviderError> {
        let resp = self
            .http
            .post(format!("{}/api/v4/projects", self.config.base_url))
            .timeout(self.timeout)
            .bearer_auth(token.expose())
            .json(&NewProject {
                name,
                path,
                namespace_id,
                visibility: "private",
            })
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        if resp.status() == StatusCode::BAD_REQUEST {
            let body = resp.text().await.unwrap_or_default();
            return Err(ProviderError::Rejected {
                provider: PROVIDER,
                status: 400,
                detail: validation_detail(&body),
            });
        }
        http::json(PROVIDER, "new project", resp).await
    }

    /// The project at `full_path` (`group/sub/project`), or None when it does not exist or the
    /// token cannot see it.
    pub async fn find_project(
        &self,
        token: &Secret,
        full_path: &str,
    ) -> Result<Option<GitLabProject>, ProviderError> {
        let url = self.api_url(&["projects", full_path])?;
        self.get_optional(token, url, &format!("project {full_path}"))
            .await
    }

    /// The project with `id`, or None when it does not exist (any more) or is out of sight.
    pub async fn project_by_id(
        &self,
        token: &Secret,
        id: u64,
    ) -> Result<Option<GitLabProject>, ProviderError> {
        let url = self.api_url(&["projects", &id.to_string()])?;
        self.get_optional(token, url, &format!("project {id}")).await
    }

    /// The file at `path` on `git_ref` of project `project_id`, or None when the project, the
    /// ref or the file does not exist.
    pub async fn blueprint_file(
        &self,
        token: &Secret,
        project_id: u64,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<GitLabFile>, ProviderError> {
        let mut url = self.api_url(&["projects", &project_id.to_string(), "repository", "files", path])?;
        url.query_pairs_mut().append_pair("ref", git_ref);
        let what = format!("file {path} of project {project_id}");
        let Some(answer) = self.get_optional::<FileAnswer>(token, url, &what).await? else {
            return Ok(None);
        };
        let bad = |detail: String| ProviderError::BadResponse {
            provider: PROVIDER,
            detail,
        };
        let bytes = match answer.encoding.as_str() {
            "base64" => STANDARD
                .decode(answer.content.as_bytes())
                .map_err(|_| bad(format!("{what}: content is not base64")))?,
            "text" => answer.content.into_bytes(),
            other => return Err(bad(format!("{what}: unknown encoding {other}"))),
        };
        let content =
            String::from_utf8(bytes).map_err(|_| bad(format!("{what}: content is not UTF-8 text")))?;
        Ok(Some(GitLabFile {
            file_path: answer.file_path,
            content,
            last_commit_id: answer.last_commit_id,
        }))
    }

    /// Every project (all pages) the user is a member of, directly or through a group.
    pub async fn member_projects(&self, token: &Secret) -> Result<Vec<GitLabProject>, ProviderError> {
        let mut url = format!(
            "{}/api/v4/projects?membership=true&order_by=id&sort=asc&per_page=100",
            self.config.base_url
        );
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let resp = self.get(&url, token).await?;
            let next = self.next_page(&url, resp.headers())?;
            let page: Vec<GitLabProject> = http::json(PROVIDER, "projects", resp).await?;
            all.extend(page);
            match next {
                Some(n) => url = n,
                None => return Ok(all),
            }
        }
        Err(ProviderError::BadResponse {
            provider: PROVIDER,
            detail: format!("projects: more than {MAX_PAGES} pages"),
        })
    }

    /// `{base}/api/v4/{segments...}`, each segment percent-encoded whole (so `a/b` is `a%2Fb`,
    /// as GitLab wants for project paths and file paths).
    pub(super) fn api_url(&self, segments: &[&str]) -> Result<url::Url, ProviderError> {
        let bad = |detail: &str| ProviderError::BadResponse {
            provider: PROVIDER,
            detail: detail.to_string(),
        };
        let mut u = url::Url::parse(&self.config.base_url).map_err(|_| bad("base_url is not a URL"))?;
        u.path_segments_mut()
            .map_err(|_| bad("base_url cannot take a path"))?
            .pop_if_empty()
            .extend(["api", "v4"])
            .extend(segments);
        Ok(u)
    }

    pub(super) async fn get_optional<T: serde::de::DeserializeOwned>(
        &self,
        token: &Secret,
        url: url::Url,
        what: &str,
    ) -> Result<Option<T>, ProviderError> {
        let resp = self.get(url.as_str(), token).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        http::json(PROVIDER, what, resp).await.map(Some)
    }
}

/// GitLab's 400 body: `{"message": {"path": ["has already been taken"], ...}}` becomes
/// `path has already been taken`; a string `message` or `error` is taken as it is.
pub fn validation_detail(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return "no details".to_string();
    };
    let detail = match v.get("message") {
        Some(serde_json::Value::Object(fields)) => {
            let mut parts = Vec::new();
            for (field, reasons) in fields {
                let reasons = match reasons {
                    serde_json::Value::Array(rs) => rs
                        .iter()
                        .filter_map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                parts.push(format!("{field} {reasons}"));
            }
            parts.join("; ")
        }
        _ => http::error_detail(body),
    };
    detail.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_validation_errors_name_each_field() {
        let body = r#"{"message":{"name":["has already been taken"],"path":["has already been taken","is reserved"]}}"#;
        assert_eq!(
            validation_detail(body),
            "name has already been taken; path has already been taken, is reserved"
        );
        assert_eq!(
            validation_detail(r#"{"error":"name, path are missing"}"#),
            "name, path are missing"
        );
    }
}
