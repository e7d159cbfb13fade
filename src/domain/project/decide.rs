//! `decide_project`: the project's rules. A project has exactly one repository: once one is
//! recorded, another is refused; a repository bound to another project cannot be imported.
//! A repeated command whose work is already done records nothing, so a saga, a redelivered
//! webhook or a reconciliation can send it again safely.

use super::command::ProjectCommand;
use super::error::ProjectError;
use super::state::{ProjectState, ProjectStatus};
use forgelink_events::{
    Event, ProjectCreated, ProjectDetached, ProjectImported, RepoAccessPending, RepoAutoAdded, RepoCreated,
    RepoCreationFailed, RepoDeleted, RepoPushed, RepoRenamed,
};

type Decision = Result<Vec<Event>, ProjectError>;

fn required(field: &'static str, value: &str, why: &str) -> Result<(), ProjectError> {
    if value.trim().is_empty() {
        return Err(ProjectError::MissingField {
            field,
            why: why.to_string(),
        });
    }
    Ok(())
}

fn not_allowed(state: &ProjectState, action: &'static str) -> ProjectError {
    let situation = match state.status {
        ProjectStatus::None => "does not exist".to_string(),
        ProjectStatus::CreatingRepository => "is still waiting for its repository".to_string(),
        ProjectStatus::AwaitingAccess => "is waiting for the app to be granted access".to_string(),
        ProjectStatus::Ready => "already has its repository".to_string(),
        ProjectStatus::Failed => format!(
            "failed ({}); create a new project",
            state.failure.as_deref().unwrap_or("no reason recorded")
        ),
        ProjectStatus::RepositoryDeleted => "lost its repository (deleted on the provider)".to_string(),
        ProjectStatus::Detached => "is detached".to_string(),
    };
    ProjectError::NotAllowed {
        action,
        name: state.name.clone(),
        situation,
    }
}

/// Decides what `command` means for the project in `state`.
pub fn decide_project(state: &ProjectState, command: &ProjectCommand) -> Decision {
    use ProjectCommand as C;
    match command {
        C::CreateProject {
            project_id,
            name,
            account_id,
        } => {
            required(
                "name",
                name,
                "a project needs a name to derive its repository name from",
            )?;
            if state.exists() {
                let same = state.project_id == Some(*project_id)
                    && state.name == *name
                    && state.account_id == Some(*account_id)
                    && !state.imported;
                return if same { Ok(vec![]) } else { Err(exists(state)) };
            }
            Ok(vec![ProjectCreated {
                project_id: *project_id,
                name: name.clone(),
                account_id: *account_id,
            }
            .into()])
        }
        C::ImportProject {
            project_id,
            name,
            account_id,
            repository,
            bound_to,
            web_url,
            clone_url,
        } => {
            required("name", name, "a project needs a name")?;
            if let Some(other) = bound_to.filter(|o| o != project_id) {
                return Err(ProjectError::RepositoryBound {
                    repository: repository.full_name.clone(),
                    project_id: other,
                });
            }
            if state.exists() {
                let same = state.imported
                    && state.project_id == Some(*project_id)
                    && state.account_id == Some(*account_id)
                    && state.repository.as_ref().map(|r| &r.provider_id) == Some(&repository.id);
                return if same { Ok(vec![]) } else { Err(exists(state)) };
            }
            Ok(vec![ProjectImported {
                project_id: *project_id,
                name: name.clone(),
                account_id: *account_id,
                repository: repository.clone(),
                web_url: web_url.clone().filter(|u| !u.is_empty()),
                clone_url: clone_url.clone().filter(|u| !u.is_empty()),
            }
            .into()])
        }
        _ if !state.exists() => Err(ProjectError::NoSuchProject),
        C::DetachProject { reason } => {
            required("reason", reason, "a person must be able to read why")?;
            if state.status == ProjectStatus::Detached {
                return Ok(vec![]);
            }
            Ok(vec![ProjectDetached {
                reason: reason.clone(),
            }
            .into()])
        }
        _ if state.status == ProjectStatus::Detached => Err(not_allowed(state, command_action(command))),
        C::RecordRepoCreated {
            provider_id,
            full_name,
            clone_url,
            web_url,
        } => {
            required("provider_id", provider_id, "the repository's id on the provider")?;
            if let Some(existing) = &state.repository {
                return if existing.provider_id == *provider_id {
                    Ok(vec![])
                } else {
                    Err(ProjectError::AlreadyHasRepository {
                        name: state.name.clone(),
                        existing: existing.full_name.clone(),
                    })
                };
            }
            if !matches!(
                state.status,
                ProjectStatus::CreatingRepository | ProjectStatus::AwaitingAccess
            ) {
                return Err(not_allowed(state, "record a created repository"));
            }
            Ok(vec![RepoCreated {
                provider_id: provider_id.clone(),
                full_name: full_name.clone(),
                clone_url: clone_url.clone(),
                web_url: web_url.clone(),
            }
            .into()])
        }
        C::RecordRepoAutoAdded { installation_id } => {
            if state.repository.is_none() {
                return Err(not_allowed(state, "record the installation's access"));
            }
            match state.status {
                ProjectStatus::Ready if state.installation_id == Some(*installation_id) => Ok(vec![]),
                ProjectStatus::Ready | ProjectStatus::AwaitingAccess => Ok(vec![RepoAutoAdded {
                    installation_id: *installation_id,
                }
                .into()]),
                _ => Err(not_allowed(state, "record the installation's access")),
            }
        }
        C::RecordAccessPending {
            full_name,
            settings_url,
        } => {
            required(
                "full_name",
                full_name,
                "the repository a person must grant access to",
            )?;
            let same = state.access_pending.as_ref() == Some(&(full_name.clone(), settings_url.clone()));
            match state.status {
                ProjectStatus::AwaitingAccess if same => Ok(vec![]),
                ProjectStatus::CreatingRepository | ProjectStatus::Ready | ProjectStatus::AwaitingAccess => {
                    Ok(vec![RepoAccessPending {
                        full_name: full_name.clone(),
                        settings_url: settings_url.clone(),
                    }
                    .into()])
                }
                _ => Err(not_allowed(state, "wait for access")),
            }
        }
        C::FailRepoCreation { reason } => {
            required("reason", reason, "a person must be able to read why")?;
            match state.status {
                ProjectStatus::Failed => Ok(vec![]),
                ProjectStatus::CreatingRepository | ProjectStatus::AwaitingAccess
                    if state.repository.is_none() =>
                {
                    Ok(vec![RepoCreationFailed {
                        reason: reason.clone(),
                    }
                    .into()])
                }
                _ => Err(not_allowed(state, "fail the repository creation")),
            }
        }
        C::RenameRepo { to } => {
            required("to", to, "the repository's new full name")?;
            let Some(repo) = state.repository.as_ref() else {
                return Err(not_allowed(state, "rename the repository"));
            };
            if state.status == ProjectStatus::RepositoryDeleted {
                return Err(not_allowed(state, "rename the repository"));
            }
            if repo.full_name == *to {
                return Ok(vec![]);
            }
            Ok(vec![RepoRenamed {
                from: repo.full_name.clone(),
                to: to.clone(),
            }
            .into()])
        }
        C::DeleteRepo => match (&state.repository, state.status) {
            (None, _) => Err(not_allowed(state, "delete the repository")),
            (Some(_), ProjectStatus::RepositoryDeleted) => Ok(vec![]),
            (Some(_), _) => Ok(vec![RepoDeleted {}.into()]),
        },
        C::RecordPush {
            git_ref,
            commit,
            author,
            pushed_at,
            before,
            settles_head,
        } => {
            required("commit", commit, "the pushed commit")?;
            required("git_ref", git_ref, "the pushed ref")?;
            if state.repository.is_none() || state.status == ProjectStatus::RepositoryDeleted {
                return Err(not_allowed(state, "record a push"));
            }
            let head = state.heads.get(git_ref);
            if head == Some(commit) {
                return Ok(vec![]);
            }
            // An old push sent again (under a new delivery id) must not move the head back:
            // a commit recorded before, or a push that does not start from the recorded head,
            // is history. Reconciliation, which asked the provider, settles the head.
            let known = state.pushed.contains(&(git_ref.clone(), commit.clone()));
            let elsewhere = matches!((before, head), (Some(b), Some(h)) if b != h);
            let history = !settles_head && (known || elsewhere);
            if history && known {
                return Ok(vec![]);
            }
            Ok(vec![RepoPushed {
                git_ref: git_ref.clone(),
                commit: commit.clone(),
                author: author.clone(),
                pushed_at: *pushed_at,
                before: before.clone(),
                history,
            }
            .into()])
        }
    }
}

fn exists(state: &ProjectState) -> ProjectError {
    ProjectError::ProjectExists {
        project_id: state.project_id.unwrap_or_default(),
        name: state.name.clone(),
    }
}

fn command_action(command: &ProjectCommand) -> &'static str {
    match command {
        ProjectCommand::RecordRepoCreated { .. } => "record a created repository",
        ProjectCommand::RecordRepoAutoAdded { .. } => "record the installation's access",
        ProjectCommand::RecordAccessPending { .. } => "wait for access",
        ProjectCommand::FailRepoCreation { .. } => "fail the repository creation",
        ProjectCommand::RenameRepo { .. } => "rename the repository",
        ProjectCommand::DeleteRepo => "delete the repository",
        ProjectCommand::RecordPush { .. } => "record a push",
        _ => "change the project",
    }
}
