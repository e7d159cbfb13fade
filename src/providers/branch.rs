//! `BranchHead`: where a branch points now, as any of the three providers describes it
//! (GitHub `GET /repos/{owner}/{repo}/branches/{branch}`, GitLab
//! `GET /api/v4/projects/{id}/repository/branches/{branch}`, Bitbucket
//! `GET /2.0/repositories/{ws}/{slug}/refs/branches/{name}`). Reconciliation compares it with
//! the last push a project recorded, to find pushes whose webhook was lost.

use chrono::{DateTime, Utc};

/// A branch and the commit at its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    /// The branch name (`main`), not the full ref.
    pub name: String,
    /// The head commit's id (sha).
    pub commit: String,
    /// Who wrote the head commit (a login or a name; empty when the provider says nothing).
    pub author: String,
    /// When the head commit was made, when the provider says.
    pub at: Option<DateTime<Utc>>,
}

impl BranchHead {
    /// The full ref, as push webhooks name it: `refs/heads/{name}`.
    pub fn git_ref(&self) -> String {
        format!("refs/heads/{}", self.name)
    }
}

/// An RFC 3339 time, as all three providers write them.
pub(crate) fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
