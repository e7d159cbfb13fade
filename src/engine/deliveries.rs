//! Webhook deliveries that change a linked account, turned into commands on that account:
//! an uninstalled, suspended or unsuspended GitHub installation, repositories added to or
//! removed from it, accepted new permissions (the repository list is read again), and a revoked
//! app authorization. Changes to repositories and projects are not handled here.
//!
//! Every command's id is derived from the delivery id, so a delivery handled twice (a crash
//! between handling it and remembering it) appends nothing the second time.

use super::message::CommandReply;
use super::{Engine, EngineError};
use crate::domain::{AccountCommand, ErrorKind};
use crate::webhooks::{Change, Delivery};
use forgelink_events::{Grant, Metadata};
use uuid::Uuid;

/// Namespace of the command ids derived from delivery ids.
const DELIVERY_NAMESPACE: Uuid = Uuid::from_u128(0x6f72_6765_6c69_6e6b_2d64_656c_6976_6572);

impl Engine {
    /// Applies the account-level changes of a verified delivery. Changes for an installation
    /// no account knows are ignored (empty answer). A change the account's state no longer
    /// allows (e.g. suspending an account that was unlinked) is logged and skipped: the
    /// provider cannot do anything about it.
    pub async fn handle_delivery(&self, delivery: Delivery) -> Result<Vec<CommandReply>, EngineError> {
        let mut replies = Vec::new();
        for (index, change) in delivery.changes.iter().enumerate() {
            for (account_id, command) in self.commands_for(change) {
                let key = format!(
                    "{}/{}/{index}/{account_id}",
                    delivery.provider.as_str(),
                    delivery.delivery_id
                );
                let command_id = Uuid::new_v5(&DELIVERY_NAMESPACE, key.as_bytes());
                let meta = Metadata {
                    correlation_id: command_id,
                    causation_id: None,
                    actor: format!("{} webhook", delivery.provider.display_name()),
                };
                let result = match command {
                    Some(command) => self.apply(account_id, command, command_id, meta.clone()).await,
                    None => {
                        // new_permissions_accepted: read the installation's repositories again.
                        let Some(id) = installation_of(change) else {
                            continue;
                        };
                        self.inner
                            .refresh_repositories(account_id, id, command_id, meta.clone())
                            .await
                    }
                };
                match result {
                    Ok(reply) => replies.push(reply),
                    Err(EngineError::Domain(e)) if e.kind() != ErrorKind::InvalidInput => {
                        tracing::info!(%account_id, delivery = %delivery.delivery_id, error = %e,
                            "webhook change skipped: the account does not allow it now");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(replies)
    }

    /// The accounts a change concerns and the command for each (`None`: list repositories).
    fn commands_for(&self, change: &Change) -> Vec<(Uuid, Option<AccountCommand>)> {
        let on = |id: u64, command: Option<AccountCommand>| {
            self.account_for_installation(id)
                .map(|account| (account, command))
                .into_iter()
                .collect::<Vec<_>>()
        };
        match change {
            Change::InstallationDeleted { installation_id } => {
                on(*installation_id, Some(AccountCommand::RemoveInstallation))
            }
            Change::InstallationSuspended { installation_id, by } => on(
                *installation_id,
                Some(AccountCommand::SuspendInstallation { by: by.clone() }),
            ),
            Change::InstallationUnsuspended { installation_id } => {
                on(*installation_id, Some(AccountCommand::UnsuspendInstallation))
            }
            Change::NewPermissionsAccepted { installation_id } => on(*installation_id, None),
            Change::RepositoriesAdded {
                installation_id,
                repositories,
                repository_selection,
            } => on(
                *installation_id,
                Some(AccountCommand::ChangeRepositories {
                    added: repositories.clone(),
                    removed: vec![],
                    repository_selection: repository_selection.clone(),
                }),
            ),
            Change::RepositoriesRemoved {
                installation_id,
                repositories,
                repository_selection,
            } => on(
                *installation_id,
                Some(AccountCommand::ChangeRepositories {
                    added: vec![],
                    removed: repositories.clone(),
                    repository_selection: repository_selection.clone(),
                }),
            ),
            Change::AuthorizationRevoked { user_login } => self.revoked_by(user_login),
            _ => vec![],
        }
    }

    /// GitHub names only the person who revoked the app's authorization; the accounts that
    /// authorization backs are the installations on that person's own account.
    fn revoked_by(&self, user_login: &str) -> Vec<(Uuid, Option<AccountCommand>)> {
        let accounts: Vec<Uuid> = match self.inner.installations.lock() {
            Ok(m) => m.values().copied().collect(),
            Err(_) => return vec![],
        };
        accounts
            .into_iter()
            .filter(|id| {
                self.account_state(*id).is_ok_and(|s| {
                    matches!(&s.grant, Some(Grant::GithubInstallation { account_login, .. })
                        if account_login.eq_ignore_ascii_case(user_login))
                })
            })
            .map(|id| {
                let reason =
                    format!("{user_login} revoked the GitHub App's authorization; link the account again");
                (id, Some(AccountCommand::RevokeCredentials { reason }))
            })
            .collect()
    }
}

fn installation_of(change: &Change) -> Option<u64> {
    match change {
        Change::NewPermissionsAccepted { installation_id } => Some(*installation_id),
        _ => None,
    }
}
