//! Reading where a project's repository's default branch points, the same for the three
//! providers (GitHub with the installation token; GitLab and Bitbucket through
//! [`Inner::with_oauth_token`]), and the calls left at the account's provider. Reconciliation
//! uses both: a head that differs from the project's last recorded push is a push whose webhook
//! was lost; a nearly spent budget stops the run early.

use super::repo_calls::{FoundRepo, Scope};
use super::{EngineError, Inner};
use crate::providers::BranchHead;
use uuid::Uuid;

impl Inner {
    /// The head of `repo`'s default branch; `None` for an empty repository (no default branch
    /// yet) or when the provider no longer shows it.
    pub(crate) async fn default_branch_head(
        &self,
        account_id: Uuid,
        scope: &Scope,
        repo: &FoundRepo,
    ) -> Result<Option<BranchHead>, EngineError> {
        let Some(branch) = repo.default_branch.clone().filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let (owner, name) = repo.full_name.split_once('/').unwrap_or(("", &repo.full_name));
        match scope {
            Scope::GitHub { installation, .. } => Ok(self
                .github()?
                .branch_head(installation.id, owner, name, &branch)
                .await?),
            Scope::GitLab { .. } => {
                let (Some(c), Ok(id)) = (self.clients.gitlab.clone(), repo.id.parse::<u64>()) else {
                    return Ok(None);
                };
                self.with_oauth_token(account_id, |t| {
                    let (c, branch) = (c.clone(), branch.clone());
                    async move { c.branch_head(&t, id, &branch).await }
                })
                .await
            }
            Scope::Bitbucket { .. } => {
                let Some(c) = self.clients.bitbucket.clone() else {
                    return Ok(None);
                };
                let (ws, slug) = (owner.to_string(), name.to_string());
                self.with_oauth_token(account_id, |t| {
                    let (c, ws, slug, branch) = (c.clone(), ws.clone(), slug.clone(), branch.clone());
                    async move { c.branch_head(&t, &ws, &slug, &branch).await }
                })
                .await
            }
        }
    }
}
