//! Branch reads of the GitHub client: `GET /repos/{owner}/{repo}/branches/{branch}` with the
//! installation token; its `commit.sha`, `commit.author.login` (or `commit.commit.author.name`)
//! and `commit.commit.author.date`.

use super::{GitHubClient, PROVIDER};
use crate::providers::branch::{time, BranchHead};
use crate::providers::{http, ProviderError};
use serde::Deserialize;

#[derive(Deserialize)]
struct BranchJson {
    name: String,
    commit: CommitJson,
}

#[derive(Deserialize)]
struct CommitJson {
    sha: String,
    #[serde(default)]
    author: Option<LoginJson>,
    #[serde(default)]
    commit: Option<GitCommitJson>,
}

#[derive(Deserialize)]
struct LoginJson {
    #[serde(default)]
    login: Option<String>,
}

#[derive(Deserialize)]
struct GitCommitJson {
    #[serde(default)]
    author: Option<GitAuthorJson>,
}

#[derive(Deserialize)]
struct GitAuthorJson {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

impl GitHubClient {
    /// Where `branch` of `owner/repo` points; `None` when the repository or the branch is not
    /// there (or out of the installation's sight).
    pub async fn branch_head(
        &self,
        installation_id: u64,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<BranchHead>, ProviderError> {
        let url = self.api_path(&["repos", owner, repo, "branches", branch])?;
        let what = format!("branch {branch} of {owner}/{repo}");
        let Some(resp) = self
            .installation_get(installation_id, url.as_str(), &what)
            .await?
        else {
            return Ok(None);
        };
        let b: BranchJson = http::json(PROVIDER, &what, resp).await?;
        let git_author = b.commit.commit.and_then(|c| c.author);
        let author = b
            .commit
            .author
            .and_then(|a| a.login)
            .or_else(|| git_author.as_ref().and_then(|a| a.name.clone()))
            .unwrap_or_default();
        Ok(Some(BranchHead {
            name: b.name,
            commit: b.commit.sha,
            author,
            at: time(git_author.as_ref().and_then(|a| a.date.as_deref())),
        }))
    }
}
