//! The account's scope renamed on the provider's side: GitHub `installation_target` renamed (the
//! organization or user changed its login) and GitLab `group_rename` (the group changed its
//! path). The account records `ScopeRenamed`, and each of its projects whose repository lived
//! under the old name records `RepoRenamed` to the new full name (GitHub and GitLab send no
//! `repository` event for these). Reconciliation would find the repositories' new names too; the
//! webhook only makes it immediate.

use super::message::CommandReply;
use super::{EngineError, Inner};
use crate::domain::{AccountCommand, ProjectCommand};
use crate::saga::command_id;
use forgelink_events::{Metadata, Provider};
use uuid::Uuid;

impl Inner {
    /// Records that `account_id`'s scope is now called `to`; `key` is the delivery's own key
    /// (so a redelivery records nothing new).
    pub(crate) async fn scope_renamed(
        &self,
        account_id: Uuid,
        to: &str,
        key: &str,
        meta: &Metadata,
    ) -> Result<Vec<CommandReply>, EngineError> {
        let before = self.account_state_of(account_id)?;
        let Some(from) = crate::domain::scope_name(&before).map(str::to_string) else {
            return Ok(vec![]);
        };
        let command = AccountCommand::RenameScope { to: to.to_string() };
        let id = command_id(account_id, "webhook", &format!("{key}/scope"));
        let mut replies = vec![self.apply(account_id, command, id, meta.clone()).await?];
        if from == to {
            return Ok(replies);
        }
        let prefix = format!("{from}/");
        let projects = self
            .projects
            .index
            .lock()
            .map(|i| i.projects_of(account_id))
            .unwrap_or_default();
        for project_id in projects {
            let state = self.project_state_of(project_id)?;
            let Some(rest) = state
                .repository
                .as_ref()
                .and_then(|r| r.full_name.strip_prefix(&prefix))
            else {
                continue;
            };
            let command = ProjectCommand::RenameRepo {
                to: format!("{to}/{rest}"),
            };
            let id = command_id(project_id, "webhook", &format!("{key}/scope"));
            match self.apply_project(project_id, command, id, meta.clone()).await {
                Ok(r) => replies.push(r),
                // A project that no longer takes renames (detached, deleted) keeps its name.
                Err(EngineError::Project(e)) => tracing::info!(error = %e, "scope rename not recorded"),
                Err(e) => return Err(e),
            }
        }
        Ok(replies)
    }

    /// The GitLab accounts whose selected group is `group_id` now.
    pub(crate) fn accounts_with_group(&self, group_id: u64) -> Result<Vec<Uuid>, EngineError> {
        Ok(self
            .accounts_in_log()?
            .into_iter()
            .filter(|(_, provider)| *provider == Provider::GitLab)
            .map(|(id, _)| id)
            .filter(|id| {
                self.account_state_of(*id)
                    .is_ok_and(|s| s.group.as_ref().is_some_and(|g| g.group_id == group_id))
            })
            .collect())
    }
}
