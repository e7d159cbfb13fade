//! `decide`: the account's rules. Checks that apply to every command come first (the account
//! exists and is not unlinked), then each command's own rule. The link steps live in
//! `decide_link`, the details step in `decide_details`; here are naming and what happens
//! after activation.
//!
//! Where a repeated command finds its work already done, the answer is no events rather than an
//! error, so a saga or a webhook redelivery can run it again safely.

use super::command::AccountCommand;
use super::decide_details::{rename_scope, save_details, select_group, select_workspace};
use super::decide_link::{self as link, Callback};
use super::error::DomainError;
use super::names::validate_name;
use super::state::AccountState;
use super::status::AccountStatus;
use chrono::{DateTime, Utc};
use forgelink_events::{
    AccountNamed, AccountRenamed, AccountUnlinked, BlueprintsFound, CredentialsRefreshed, CredentialsRevoked,
    Event, Grant, InstallationRemoved, InstallationSuspended, InstallationUnsuspended, Provider, RepoRef,
    RepositoriesChanged,
};

type Decision = Result<Vec<Event>, DomainError>;

/// Decides what `command` means for the account in `state` at `now`: the events to record, or
/// why nothing may be recorded.
pub fn decide(state: &AccountState, command: &AccountCommand, now: DateTime<Utc>) -> Decision {
    use AccountCommand as C;
    if state.status() == AccountStatus::Unlinked {
        return Err(DomainError::Unlinked {
            name: state.unique_name.clone(),
        });
    }
    if let C::NameAccount {
        account_id,
        provider,
        unique_name,
    } = command
    {
        validate_name("unique_name", unique_name)?;
        if state.exists() {
            let same = state.account_id == Some(*account_id)
                && state.provider == Some(*provider)
                && state.unique_name == *unique_name;
            return if same {
                Ok(vec![])
            } else {
                Err(DomainError::AccountExists {
                    name: state.unique_name.clone(),
                    provider: state.provider_name(),
                })
            };
        }
        return Ok(vec![AccountNamed {
            account_id: *account_id,
            provider: *provider,
            unique_name: unique_name.clone(),
        }
        .into()]);
    }
    if !state.exists() {
        return Err(DomainError::NoSuchAccount);
    }
    match command {
        C::NameAccount { .. } => unreachable!("handled above"),
        C::StartLink {
            attempt_id,
            state_hash,
            authorize_url,
            expires_at,
        } => link::start_link(state, *attempt_id, state_hash, authorize_url, *expires_at, now),
        C::CompleteAuthorization {
            state_hash,
            installation_id,
            setup_action,
            code_ref,
            error,
        } => {
            let cb = Callback {
                state_hash,
                installation_id: *installation_id,
                setup_action: setup_action.as_deref(),
                code_ref: code_ref.as_deref(),
                error: error.as_deref(),
            };
            link::complete_authorization(state, cb, now)
        }
        C::IdentifyInstallRequest {
            attempt_id,
            requester,
            organization,
        } => link::identify_install_request(state, *attempt_id, requester, organization),
        C::CompleteRequestedInstall {
            attempt_id,
            installation_id,
        } => link::complete_requested_install(state, *attempt_id, *installation_id),
        C::ApproveInstall { attempt_id, grant } => link::approve_install(state, *attempt_id, grant),
        C::FailLink { attempt_id, reason } => link::fail_link(state, *attempt_id, reason),
        C::ExpireLink { attempt_id } => link::expire_link(state, *attempt_id, now),
        C::SelectGroup { group_id, full_path } => select_group(state, *group_id, full_path),
        C::SelectWorkspace {
            workspace,
            project_key,
        } => select_workspace(state, workspace, project_key),
        C::SaveDetails => save_details(state),
        C::ChangeRepositories {
            added,
            removed,
            repository_selection,
        } => change_repositories(state, added, removed, repository_selection.as_deref()),
        C::SuspendInstallation { by } => {
            github_only(state, "suspend the installation")?;
            match state.status() {
                AccountStatus::Suspended => Ok(vec![]),
                AccountStatus::Active => Ok(vec![InstallationSuspended { by: by.clone() }.into()]),
                _ => Err(not_allowed(state, "suspend the installation")),
            }
        }
        C::UnsuspendInstallation => {
            github_only(state, "unsuspend the installation")?;
            match state.status() {
                AccountStatus::Active => Ok(vec![]),
                AccountStatus::Suspended => Ok(vec![InstallationUnsuspended {}.into()]),
                _ => Err(not_allowed(state, "unsuspend the installation")),
            }
        }
        C::RemoveInstallation => {
            github_only(state, "remove the installation")?;
            let removed = InstallationRemoved {
                installation_id: state.held_installation,
            };
            match state.status() {
                // Disconnected for another reason (the authorization was revoked): the
                // uninstall still releases the installation.
                AccountStatus::Disconnected if state.held_installation.is_some() => Ok(vec![removed.into()]),
                AccountStatus::Disconnected => Ok(vec![]),
                AccountStatus::Active | AccountStatus::Suspended => Ok(vec![removed.into()]),
                _ => Err(not_allowed(state, "remove the installation")),
            }
        }
        C::RefreshCredentials {
            secret_ref,
            token_expires_at,
        } => refresh_credentials(state, secret_ref, *token_expires_at),
        C::RevokeCredentials { reason } => {
            if reason.trim().is_empty() {
                return Err(DomainError::MissingField {
                    field: "reason",
                    why: "a person must be able to read why the account was disconnected".into(),
                });
            }
            match state.status() {
                AccountStatus::Disconnected => Ok(vec![]),
                AccountStatus::Active | AccountStatus::AwaitingDetails | AccountStatus::Suspended => {
                    Ok(vec![CredentialsRevoked {
                        reason: reason.clone(),
                    }
                    .into()])
                }
                _ => Err(not_allowed(state, "revoke the credentials")),
            }
        }
        C::RenameScope { to } => rename_scope(state, to),
        C::RecordBlueprints { blueprints } => match state.status() {
            AccountStatus::Active | AccountStatus::Suspended if state.blueprints == *blueprints => Ok(vec![]),
            AccountStatus::Active | AccountStatus::Suspended => Ok(vec![BlueprintsFound {
                blueprints: blueprints.clone(),
            }
            .into()]),
            _ => Err(not_allowed(state, "record blueprints")),
        },
        C::RenameAccount { to } => {
            validate_name("to", to)?;
            if *to == state.unique_name {
                return Ok(vec![]);
            }
            Ok(vec![AccountRenamed {
                from: state.unique_name.clone(),
                to: to.clone(),
            }
            .into()])
        }
        C::UnlinkAccount { reason } => Ok(vec![AccountUnlinked {
            unique_name: state.unique_name.clone(),
            reason: reason.clone(),
            installation_id: state.held_installation,
        }
        .into()]),
    }
}

fn change_repositories(
    state: &AccountState,
    added: &[RepoRef],
    removed: &[RepoRef],
    selection: Option<&str>,
) -> Decision {
    if !matches!(state.status(), AccountStatus::Active | AccountStatus::Suspended) {
        return Err(not_allowed(state, "change repositories"));
    }
    // Apply like `evolve` does (removals, then additions) and record only the real difference.
    let mut after = state.repositories.clone();
    for r in removed {
        after.remove(r);
    }
    after.extend(added.iter().cloned());
    let added: Vec<RepoRef> = after.difference(&state.repositories).cloned().collect();
    let removed: Vec<RepoRef> = state.repositories.difference(&after).cloned().collect();
    let selection = selection
        .filter(|s| state.repository_selection.as_deref() != Some(*s))
        .map(str::to_string);
    if added.is_empty() && removed.is_empty() && selection.is_none() {
        return Ok(vec![]);
    }
    Ok(vec![RepositoriesChanged {
        added,
        removed,
        repository_selection: selection,
    }
    .into()])
}

fn refresh_credentials(state: &AccountState, secret_ref: &str, expires: DateTime<Utc>) -> Decision {
    const ACTION: &str = "refresh credentials";
    match &state.grant {
        Some(Grant::Oauth {
            secret_ref: current,
            token_expires_at,
            ..
        }) => {
            if !matches!(
                state.status(),
                AccountStatus::Active | AccountStatus::AwaitingDetails
            ) {
                return Err(not_allowed(state, ACTION));
            }
            if secret_ref.is_empty() {
                return Err(DomainError::MissingField {
                    field: "secret_ref",
                    why: "where the refreshed tokens are stored".into(),
                });
            }
            if current == secret_ref && *token_expires_at == expires {
                return Ok(vec![]);
            }
            Ok(vec![CredentialsRefreshed {
                secret_ref: secret_ref.to_string(),
                token_expires_at: expires,
            }
            .into()])
        }
        Some(Grant::GithubInstallation { .. }) => Err(wrong(
            ACTION,
            "GitHub installation tokens are minted when needed; there are no OAuth credentials to refresh",
        )),
        None if state.provider == Some(Provider::GitHub) => Err(wrong(
            ACTION,
            "GitHub installation tokens are minted when needed; there are no OAuth credentials to refresh",
        )),
        None => Err(not_allowed(state, ACTION)),
    }
}

fn github_only(state: &AccountState, action: &'static str) -> Result<(), DomainError> {
    match state.provider {
        Some(Provider::GitHub) => Ok(()),
        _ => Err(wrong(
            action,
            &format!(
                "{} accounts have no app installation; that is GitHub only",
                state.provider_name()
            ),
        )),
    }
}

pub(super) fn wrong(action: &'static str, reason: &str) -> DomainError {
    DomainError::WrongProvider {
        action,
        reason: reason.to_string(),
    }
}

/// The refusal for a command the account's status does not allow, saying where the account
/// stands and what the person can do instead.
pub(super) fn not_allowed(state: &AccountState, action: &'static str) -> DomainError {
    let on = state.provider_name();
    let reason = state.last_error.as_deref().unwrap_or("no reason recorded");
    let situation = match state.status() {
        AccountStatus::None => "does not exist; name it first".to_string(),
        AccountStatus::Pending => "has no link yet; start a link first".to_string(),
        AccountStatus::AwaitingApproval => {
            let what = if state.provider == Some(Provider::GitHub) {
                "installation"
            } else {
                "approval"
            };
            format!("is awaiting approval on {on}; finish the {what} there or start a new link")
        }
        AccountStatus::AwaitingOwnerApproval => "waits for an organization owner to approve its \
                                                  installation request on GitHub; or start a new link"
            .to_string(),
        AccountStatus::AwaitingDetails => match state.provider {
            Some(Provider::Bitbucket) => {
                "is awaiting details; select a workspace and project key, then save details".to_string()
            }
            _ => "is awaiting details; select a group, then save details".to_string(),
        },
        AccountStatus::Active => format!("is already linked on {on} and active"),
        AccountStatus::Suspended => format!("is suspended on {on}; unsuspend the installation there first"),
        AccountStatus::Disconnected => {
            format!("is disconnected ({reason}); re-link required: start a new link")
        }
        AccountStatus::Failed => format!("failed to link ({reason}); start a new link"),
        AccountStatus::Expired => "has an expired link attempt; start a new link".to_string(),
        AccountStatus::Unlinked => "was unlinked; name a new account to link again".to_string(),
    };
    DomainError::NotAllowed {
        action,
        name: state.unique_name.clone(),
        status: state.status(),
        situation,
    }
}
