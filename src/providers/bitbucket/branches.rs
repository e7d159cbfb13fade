//! Branch reads of the Bitbucket client: `GET /2.0/repositories/{ws}/{slug}/refs/branches/{name}`;
//! its `target.hash`, `target.author.user.nickname` (or `target.author.raw`) and `target.date`.

use super::{BitbucketClient, PROVIDER};
use crate::providers::branch::{time, BranchHead};
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use reqwest::StatusCode;
use serde::Deserialize;

#[derive(Deserialize)]
struct BranchJson {
    name: String,
    target: TargetJson,
}

#[derive(Deserialize)]
struct TargetJson {
    hash: String,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    author: Option<AuthorJson>,
}

#[derive(Deserialize)]
struct AuthorJson {
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    user: Option<UserJson>,
}

#[derive(Deserialize)]
struct UserJson {
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

impl BitbucketClient {
    /// Where branch `name` of `workspace/slug` points; `None` when the repository or the branch
    /// is not there.
    pub async fn branch_head(
        &self,
        token: &Secret,
        workspace: &str,
        slug: &str,
        name: &str,
    ) -> Result<Option<BranchHead>, ProviderError> {
        let url = self.api(&["repositories", workspace, slug, "refs", "branches", name])?;
        let what = format!("branch {name} of {workspace}/{slug}");
        let resp = self.get(url.as_str(), token).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let b: BranchJson = http::json(PROVIDER, &what, resp).await?;
        let author = b
            .target
            .author
            .and_then(|a| a.user.and_then(|u| u.nickname.or(u.display_name)).or(a.raw));
        Ok(Some(BranchHead {
            name: b.name,
            commit: b.target.hash,
            author: author.unwrap_or_default(),
            at: time(b.target.date.as_deref()),
        }))
    }
}
