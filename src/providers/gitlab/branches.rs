//! Branch reads of the GitLab client: `GET /api/v4/projects/{id}/repository/branches/{branch}`;
//! its `commit.id`, `commit.author_name` and `commit.committed_date`.

use super::GitLabClient;
use crate::providers::branch::{time, BranchHead};
use crate::providers::ProviderError;
use crate::secret::Secret;
use serde::Deserialize;

#[derive(Deserialize)]
struct BranchJson {
    name: String,
    commit: CommitJson,
}

#[derive(Deserialize)]
struct CommitJson {
    id: String,
    #[serde(default)]
    author_name: Option<String>,
    #[serde(default)]
    committed_date: Option<String>,
}

impl GitLabClient {
    /// Where `branch` of project `project_id` points; `None` when the project or the branch is
    /// not there.
    pub async fn branch_head(
        &self,
        token: &Secret,
        project_id: u64,
        branch: &str,
    ) -> Result<Option<BranchHead>, ProviderError> {
        let url = self.api_url(&[
            "projects",
            &project_id.to_string(),
            "repository",
            "branches",
            branch,
        ])?;
        let what = format!("branch {branch} of project {project_id}");
        let Some(b) = self.get_optional::<BranchJson>(token, url, &what).await? else {
            return Ok(None);
        };
        Ok(Some(BranchHead {
            name: b.name,
            commit: b.commit.id,
            author: b.commit.author_name.unwrap_or_default(),
            at: time(b.commit.committed_date.as_deref()),
        }))
    }
}
