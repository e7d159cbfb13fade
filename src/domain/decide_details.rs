//! The details step of the decider: GitLab's group, Bitbucket's workspace and project key, and
//! saving them, which makes the account active. GitHub has no details step: the installation
//! is the scope. Whether the person may use the group or project is checked by the engine
//! against the provider before the command is sent.

use super::decide::{not_allowed, wrong};
use super::error::DomainError;
use super::state::AccountState;
use super::status::AccountStatus;
use forgelink_events::{DetailsSaved, Event, GroupSelected, Provider, ScopeRenamed, WorkspaceSelected};

type Decision = Result<Vec<Event>, DomainError>;

/// The scope's name now: the GitHub login the app is installed on, or the GitLab group path.
pub fn scope_name(state: &AccountState) -> Option<&str> {
    match (&state.grant, &state.group) {
        (Some(forgelink_events::Grant::GithubInstallation { account_login, .. }), _) => Some(account_login),
        (_, Some(g)) => Some(&g.full_path),
        _ => None,
    }
}

/// The provider renamed the scope (GitHub `installation_target` renamed, GitLab
/// `group_rename`): recorded once; the same name again records nothing.
pub(super) fn rename_scope(state: &AccountState, to: &str) -> Decision {
    const ACTION: &str = "rename the scope";
    if to.trim().is_empty() {
        return Err(DomainError::MissingField {
            field: "to",
            why: "the scope's new name, as the provider says it".into(),
        });
    }
    let Some(from) = scope_name(state) else {
        return Err(not_allowed(state, ACTION));
    };
    if from == to {
        return Ok(vec![]);
    }
    Ok(vec![ScopeRenamed {
        from: from.to_string(),
        to: to.to_string(),
    }
    .into()])
}

pub(super) fn select_group(state: &AccountState, group_id: u64, full_path: &str) -> Decision {
    const ACTION: &str = "select a group";
    match state.provider {
        Some(Provider::GitHub) => {
            return Err(wrong(
                ACTION,
                "GitHub accounts have no group: the installation is the scope",
            ))
        }
        Some(Provider::Bitbucket) => {
            return Err(wrong(
                ACTION,
                "Bitbucket accounts choose a workspace and project key instead",
            ))
        }
        _ => {}
    }
    if state.status() != AccountStatus::AwaitingDetails {
        return Err(not_allowed(state, ACTION));
    }
    if full_path.trim().is_empty() {
        return Err(DomainError::MissingField {
            field: "full_path",
            why: "the group's full path, as GitLab lists it".into(),
        });
    }
    let selected = GroupSelected {
        group_id,
        full_path: full_path.to_string(),
    };
    if state.group.as_ref() == Some(&selected) {
        return Ok(vec![]);
    }
    Ok(vec![selected.into()])
}

pub(super) fn select_workspace(state: &AccountState, workspace: &str, project_key: &str) -> Decision {
    const ACTION: &str = "select a workspace";
    match state.provider {
        Some(Provider::GitHub) => {
            return Err(wrong(
                ACTION,
                "GitHub accounts have no workspace: the installation is the scope",
            ))
        }
        Some(Provider::GitLab) => return Err(wrong(ACTION, "GitLab accounts choose a group instead")),
        _ => {}
    }
    if state.status() != AccountStatus::AwaitingDetails {
        return Err(not_allowed(state, ACTION));
    }
    check_token("workspace", workspace, |c| {
        c.is_ascii_alphanumeric() || "-_.".contains(c)
    })?;
    check_token("project_key", project_key, |c| {
        c.is_ascii_alphanumeric() || c == '_'
    })?;
    if !project_key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(DomainError::InvalidField {
            field: "project_key",
            reason: "a Bitbucket project key starts with a letter".into(),
        });
    }
    let selected = WorkspaceSelected {
        workspace: workspace.to_string(),
        project_key: project_key.to_string(),
    };
    if state.workspace.as_ref() == Some(&selected) {
        return Ok(vec![]);
    }
    Ok(vec![selected.into()])
}

/// A workspace slug or project key: 1-100 characters of an allowed set.
fn check_token(field: &'static str, value: &str, allowed: impl Fn(char) -> bool) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::MissingField {
            field,
            why: "choose one of those Bitbucket lists for you".into(),
        });
    }
    if value.len() > 100 || !value.chars().all(allowed) {
        return Err(DomainError::InvalidField {
            field,
            reason:
                "use the value exactly as Bitbucket lists it (letters, digits, `_`; slugs also `-` and `.`)"
                    .into(),
        });
    }
    Ok(())
}

pub(super) fn save_details(state: &AccountState) -> Decision {
    const ACTION: &str = "save details";
    let provider = state.provider.unwrap_or(Provider::GitHub);
    if provider == Provider::GitHub {
        return Err(wrong(
            ACTION,
            "GitHub accounts have no details step: the installation is the scope",
        ));
    }
    match state.status() {
        AccountStatus::Active => return Ok(vec![]),
        AccountStatus::AwaitingDetails => {}
        _ => return Err(not_allowed(state, ACTION)),
    }
    match provider {
        Provider::GitLab if state.group.is_none() => {
            Err(DomainError::SelectionMissing("select a group first"))
        }
        Provider::Bitbucket if state.workspace.is_none() => Err(DomainError::SelectionMissing(
            "select a workspace and project key first",
        )),
        _ => Ok(vec![DetailsSaved {}.into()]),
    }
}
