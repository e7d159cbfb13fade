//! One live account per GitHub installation, held by construction: `InstallApproved` claims the
//! installation in the single writer's unique index in the same atomic append (like a unique
//! account name), and `InstallationRemoved` / `AccountUnlinked` of the holder release it. Here
//! the engine turns a lost claim into what a person reads: the approval that lost ends the
//! attempt as failed, naming the account that holds the installation and what to do next.

use super::message::CommandReply;
use super::{EngineError, Inner};
use crate::domain::AccountCommand;
use crate::saga::command_id;
use forgelink_events::{claimed_installation, installation_claim, Grant, LogError, Metadata};
use uuid::Uuid;

/// The account holding an installation: its id, unique name and the login it is installed on.
pub(crate) struct Holder {
    pub account_id: Uuid,
    pub name: String,
    pub login: Option<String>,
}

/// What a person reads when an installation is already linked to another account.
pub(crate) fn already_linked(installation_id: u64, login: Option<&str>, holder: &str) -> String {
    let on = login.map(|l| format!(" on {l}")).unwrap_or_default();
    format!(
        "installation {installation_id}{on} is already linked as `{holder}`; one GitHub installation \
         links one account: unlink `{holder}` first, or install the app on another organization"
    )
}

impl Inner {
    /// The account that holds `installation_id` now, if any: the writer's claim, or (for
    /// accounts linked before installations were claimed) the installation index.
    pub(crate) fn installation_holder(&self, installation_id: u64) -> Result<Option<Holder>, EngineError> {
        let claimed = self
            .log
            .name_owner(&installation_claim(installation_id))?
            .and_then(|s| s.entity_id());
        let indexed = || {
            self.installations
                .lock()
                .ok()
                .and_then(|m| m.get(&installation_id).copied())
        };
        let Some(account_id) = claimed.or_else(indexed) else {
            return Ok(None);
        };
        let state = self.account_state_of(account_id)?;
        let login = match &state.grant {
            Some(Grant::GithubInstallation {
                installation_id: i,
                account_login,
                ..
            }) if *i == installation_id => Some(account_login.clone()),
            _ if claimed.is_some() => None,
            // The index is stale (the account moved to another installation).
            _ => return Ok(None),
        };
        Ok(Some(Holder {
            account_id,
            name: state.unique_name.clone(),
            login,
        }))
    }

    /// Applies a saga's outcome. An approval whose installation another account claimed first
    /// ends the attempt as failed with the reason, instead of being dropped with a log line.
    pub(crate) async fn apply_outcome(
        &self,
        account_id: Uuid,
        command: AccountCommand,
        outcome_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        let approval = match &command {
            AccountCommand::ApproveInstall {
                attempt_id,
                grant:
                    Grant::GithubInstallation {
                        installation_id,
                        account_login,
                        ..
                    },
            } => Some((*attempt_id, *installation_id, account_login.clone())),
            _ => None,
        };
        let result = self.apply(account_id, command, outcome_id, meta.clone()).await;
        let (attempt_id, installation_id, login) = match (&result, approval) {
            (Err(EngineError::Log(LogError::NameTaken { name, .. })), Some(a))
                if claimed_installation(name) == Some(a.1) =>
            {
                a
            }
            _ => return result,
        };
        let holder = self
            .installation_holder(installation_id)?
            .map(|h| h.name)
            .unwrap_or_else(|| "another account".into());
        let reason = already_linked(installation_id, Some(&login), &holder);
        tracing::info!(%account_id, installation_id, "approval lost the installation to another account");
        let fail = AccountCommand::FailLink {
            attempt_id: Some(attempt_id),
            reason,
        };
        let id = command_id(account_id, "installation-claim-lost", &outcome_id.to_string());
        self.apply(account_id, fail, id, meta).await
    }
}
