//! Repository calls of the GitHub client: create a repository in the installation's scope,
//! look one up by name or id ("look before you create", reconciliation), find which
//! installation of the app can see it, read a file (the blueprint marker), and the page where a
//! person grants the app access to more repositories.
//!
//! A personal-account installation: GitHub does not let an installation token create a
//! repository in a user's account (`POST /orgs/{user}/repos` is 404, and there is no
//! installation-token route for users). The documented way is `POST /user/repos` with the
//! user-to-server token from the OAuth code exchange, so [`GitHubClient::create_repository`]
//! needs that token for a `User` installation and otherwise refuses with a message saying so.

use super::wire::{FullRepoJson, InstallationJson, ValidationFailedJson};
use super::{GitHubClient, Installation, PROVIDER};
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use base64::Engine;
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// A repository as GitHub describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubRepo {
    pub id: u64,
    pub name: String,
    /// `owner/name`.
    pub full_name: String,
    pub owner: String,
    pub clone_url: String,
    pub html_url: String,
    pub private: bool,
    pub default_branch: String,
    pub description: Option<String>,
}

impl From<FullRepoJson> for GitHubRepo {
    fn from(r: FullRepoJson) -> Self {
        GitHubRepo {
            id: r.id,
            name: r.name,
            full_name: r.full_name,
            owner: r.owner.login,
            clone_url: r.clone_url,
            html_url: r.html_url,
            private: r.private,
            default_branch: r.default_branch.unwrap_or_else(|| "main".into()),
            description: r.description,
        }
    }
}

/// True when creation failed because the owner already has a repository with that name: the
/// caller then looks it up and decides whether it is the one it created before.
pub fn repository_name_taken(err: &ProviderError) -> bool {
    matches!(err, ProviderError::Rejected { status: 422, detail, .. } if detail.contains("already exists"))
}

/// GitHub's 422 as one line: its `message` and each error's field and message (or code).
fn validation_detail(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<ValidationFailedJson>(body) else {
        return http::error_detail(body);
    };
    let parts: Vec<String> = v
        .errors
        .iter()
        .map(|e| {
            let what = e.message.clone().or_else(|| e.code.clone()).unwrap_or_default();
            match &e.field {
                Some(f) => format!("{f}: {what}"),
                None => what,
            }
        })
        .collect();
    let message = v.message.unwrap_or_else(|| "Validation Failed".into());
    let detail = if parts.is_empty() {
        message
    } else {
        format!("{message} ({})", parts.join("; "))
    };
    detail.chars().take(300).collect()
}

impl GitHubClient {
    /// `{api}/seg/seg/...` with each segment percent-encoded (names come from outside).
    pub(super) fn api_path(&self, segments: &[&str]) -> Result<url::Url, ProviderError> {
        let bad = || ProviderError::Rejected {
            provider: PROVIDER,
            status: 0,
            detail: "the configured GitHub API URL is not a base URL".into(),
        };
        let mut url = url::Url::parse(self.api()).map_err(|_| bad())?;
        url.path_segments_mut()
            .map_err(|_| bad())?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// GET with the installation's token; 404 is `None`. A 401 renews the token once.
    pub(super) async fn installation_get(
        &self,
        installation_id: u64,
        url: &str,
        what: &str,
    ) -> Result<Option<Response>, ProviderError> {
        self.with_installation_token(installation_id, |auth| async move {
            let rb = self.request(Method::GET, url).header(AUTHORIZATION, auth);
            let resp = self.send(rb).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !resp.status().is_success() {
                return Err(http::error_from(PROVIDER, what, resp).await);
            }
            Ok(Some(resp))
        })
        .await
    }

    /// POSTs a new private repository with `auth`; 201 is the repository, 422 a `Rejected`
    /// carrying GitHub's validation message (see [`repository_name_taken`]).
    async fn post_repository(
        &self,
        url: &str,
        auth: &str,
        name: &str,
        description: &str,
    ) -> Result<GitHubRepo, ProviderError> {
        let body = json!({"name": name, "description": description, "private": true, "auto_init": true});
        let rb = self
            .request(Method::POST, url)
            .header(AUTHORIZATION, auth)
            .json(&body);
        let resp = self.send(rb).await?;
        let what = format!("repository {name}");
        if resp.status() == StatusCode::UNPROCESSABLE_ENTITY {
            let text = resp.text().await.unwrap_or_default();
            return Err(ProviderError::Rejected {
                provider: PROVIDER,
                status: 422,
                detail: validation_detail(&text),
            });
        }
        let repo: FullRepoJson = http::json(PROVIDER, &what, resp).await?;
        Ok(repo.into())
    }

    /// Creates a private repository `name` in organization `org` with the installation token
    /// (`POST /orgs/{org}/repos`; the app needs Administration: write). GitHub may adjust the
    /// name (characters it does not allow become `-`): use the returned `full_name`.
    pub async fn create_org_repository(
        &self,
        installation_id: u64,
        org: &str,
        name: &str,
        description: &str,
    ) -> Result<GitHubRepo, ProviderError> {
        let url = self.api_path(&["orgs", org, "repos"])?;
        self.with_installation_token(installation_id, |auth| {
            let url = url.clone();
            async move { self.post_repository(url.as_str(), &auth, name, description).await }
        })
        .await
    }

    /// Creates a private repository in the person's own account with their user-to-server
    /// token (`POST /user/repos`): the only way for a personal-account installation.
    pub async fn create_user_repository(
        &self,
        user_token: &Secret,
        name: &str,
        description: &str,
    ) -> Result<GitHubRepo, ProviderError> {
        let url = self.api_path(&["user", "repos"])?;
        self.post_repository(
            url.as_str(),
            &format!("Bearer {}", user_token.expose()),
            name,
            description,
        )
        .await
    }

    /// Creates the repository in the installation's account: the organization's repositories
    /// with the installation token, or the person's with `user_token` for a `User` installation
    /// (refused without one, naming the limitation).
    pub async fn create_repository(
        &self,
        installation: &Installation,
        user_token: Option<&Secret>,
        name: &str,
        description: &str,
    ) -> Result<GitHubRepo, ProviderError> {
        if installation.target_type != "User" {
            return self
                .create_org_repository(installation.id, &installation.account_login, name, description)
                .await;
        }
        match user_token {
            Some(t) => self.create_user_repository(t, name, description).await,
            None => Err(ProviderError::Rejected {
                provider: PROVIDER,
                status: 0,
                detail: format!(
                    "the app is installed on the personal account {}, and GitHub Apps cannot create \
                     repositories there with an installation token; the person's user authorization \
                     is needed (link the account again to renew it)",
                    installation.account_login
                ),
            }),
        }
    }

    /// `owner/repo` as the installation sees it; `None` when it does not exist or the
    /// installation cannot see it (GitHub answers both with 404).
    pub async fn repository(
        &self,
        installation_id: u64,
        owner: &str,
        repo: &str,
    ) -> Result<Option<GitHubRepo>, ProviderError> {
        let url = self.api_path(&["repos", owner, repo])?;
        let what = format!("repository {owner}/{repo}");
        match self
            .installation_get(installation_id, url.as_str(), &what)
            .await?
        {
            Some(resp) => Ok(Some(
                http::json::<FullRepoJson>(PROVIDER, &what, resp).await?.into(),
            )),
            None => Ok(None),
        }
    }

    /// The repository with id `id` (it keeps its id across renames and transfers); `None` when
    /// gone or not visible to the installation.
    pub async fn repository_by_id(
        &self,
        installation_id: u64,
        id: u64,
    ) -> Result<Option<GitHubRepo>, ProviderError> {
        let url = self.api_path(&["repositories", &id.to_string()])?;
        let what = format!("repository {id}");
        match self
            .installation_get(installation_id, url.as_str(), &what)
            .await?
        {
            Some(resp) => Ok(Some(
                http::json::<FullRepoJson>(PROVIDER, &what, resp).await?.into(),
            )),
            None => Ok(None),
        }
    }

    /// The id of the app's installation that can access `owner/repo` (App JWT,
    /// `GET /repos/{owner}/{repo}/installation`); `None` when no installation can.
    pub async fn repository_installation(
        &self,
        owner: &str,
        repo: &str,
    ) -> Result<Option<u64>, ProviderError> {
        let url = self.api_path(&["repos", owner, repo, "installation"])?;
        let rb = self
            .request(Method::GET, url.as_str())
            .bearer_auth(self.app_jwt()?);
        let resp = self.send(rb).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let what = format!("installation of {owner}/{repo}");
        let i: InstallationJson = http::json(PROVIDER, &what, resp).await?;
        Ok(Some(i.id))
    }

    /// True when repository `repo_id` is in the installation's repository list now.
    pub async fn installation_can_see(
        &self,
        installation_id: u64,
        repo_id: u64,
    ) -> Result<bool, ProviderError> {
        let (_, repos) = self.installation_repositories(installation_id).await?;
        let id = repo_id.to_string();
        Ok(repos.iter().any(|r| r.id == id))
    }

    /// The text of file `path` in `owner/repo` at `git_ref` (default branch when `None`),
    /// decoded from GitHub's base64. `None` when the repository, the ref or the file is not
    /// there, or `path` is a directory (a marker must be a file).
    pub async fn file_contents(
        &self,
        installation_id: u64,
        owner: &str,
        repo: &str,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let mut segments = vec!["repos", owner, repo, "contents"];
        segments.extend(path.split('/').filter(|s| !s.is_empty()));
        let mut url = self.api_path(&segments)?;
        if let Some(r) = git_ref {
            url.query_pairs_mut().append_pair("ref", r);
        }
        let what = format!("{path} in {owner}/{repo}");
        let Some(resp) = self
            .installation_get(installation_id, url.as_str(), &what)
            .await?
        else {
            return Ok(None);
        };
        let v: Value = http::json(PROVIDER, &what, resp).await?;
        if v["type"] != "file" {
            return Ok(None);
        }
        let bad = |detail: &str| ProviderError::BadResponse {
            provider: PROVIDER,
            detail: format!("{what}: {detail}"),
        };
        if v["encoding"] != "base64" {
            return Err(bad(
                "content is not base64 (file too large for the contents API?)",
            ));
        }
        let packed: String = v["content"]
            .as_str()
            .ok_or_else(|| bad("no content"))?
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(packed)
            .map_err(|_| bad("content is not valid base64"))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| bad("content is not UTF-8 text"))
    }

    /// The page where a person changes which repositories the installation can access:
    /// `{web}/organizations/{org}/settings/installations/{id}`, or
    /// `{web}/settings/installations/{id}` for a personal account.
    pub fn installation_settings_url(&self, installation: &Installation) -> String {
        if installation.target_type == "User" {
            format!("{}/settings/installations/{}", self.web(), installation.id)
        } else {
            format!(
                "{}/organizations/{}/settings/installations/{}",
                self.web(),
                installation.account_login,
                installation.id
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_validation_errors_become_one_readable_line() {
        let body = r#"{"message":"Repository creation failed.","errors":[{"resource":"Repository","code":"custom","field":"name","message":"name already exists on this account"}],"documentation_url":"x"}"#;
        let detail = validation_detail(body);
        assert_eq!(
            detail,
            "Repository creation failed. (name: name already exists on this account)"
        );
        let taken = ProviderError::Rejected {
            provider: PROVIDER,
            status: 422,
            detail,
        };
        assert!(repository_name_taken(&taken));
        let missing = validation_detail(
            r#"{"message":"Repository creation failed.","errors":[{"code":"missing_field","field":"name"}]}"#,
        );
        assert_eq!(missing, "Repository creation failed. (name: missing_field)");
    }
}
