//! What the project saga does on the provider: create a project's repository (looking first,
//! so a re-run after a crash finds the one it made), check that a GitHub installation sees it,
//! complete a project waiting for access once it does, and find blueprint repositories.
//!
//! # Is an existing repository this project's?
//!
//! "Name already exists" is success only when the repository is the one this project created.
//! On GitHub the repository's description carries the project id, and is compared. GitLab and
//! Bitbucket repositories are created without a description here, so the saga records in the
//! vault, *before* the create call, that this project is creating that name: a later run that
//! finds the name taken and that record present knows an earlier run of its own made the call.
//! A first run that finds the name taken has no such record and reports the conflict.

use super::project_saga::saga_meta;
use super::repo_calls::{name_taken, FoundRepo, Scope};
use super::{EngineError, HaltPoint, Inner};
use crate::domain::{AccountStatus, ProjectCommand, ProjectStatus};
use crate::providers::naming::repository_name_for;
use crate::saga::command_id;
use crate::secret::Secret;
use forgelink_events::Provider;
use uuid::Uuid;

fn creating_ref(project_id: Uuid) -> String {
    format!("project/{project_id}/creating")
}

/// The description a GitHub repository gets: it names the project, so the saga can recognise it.
pub(crate) fn description_for(project_id: Uuid, name: &str) -> String {
    format!("{name} (forgelink project {project_id})")
}

fn recorded(r: &FoundRepo) -> ProjectCommand {
    ProjectCommand::RecordRepoCreated {
        provider_id: r.id.clone(),
        full_name: r.full_name.clone(),
        clone_url: r.clone_url.clone(),
        web_url: r.web_url.clone(),
    }
}

impl Inner {
    async fn project_outcome(&self, project_id: Uuid, kind: &str, key: &str, command: ProjectCommand) {
        let id = command_id(project_id, kind, key);
        if let Err(e) = self.apply_project(project_id, command, id, saga_meta()).await {
            tracing::warn!(%project_id, error = %e, "project outcome refused");
        }
    }

    async fn fail_creation(&self, project_id: Uuid, reason: String) -> Result<(), EngineError> {
        tracing::warn!(%project_id, %reason, "repository creation failed");
        let command = ProjectCommand::FailRepoCreation { reason };
        self.project_outcome(project_id, "create_repository", "outcome", command)
            .await;
        Ok(())
    }

    /// The project saga's create step. Retryable provider errors go back to the loop (which
    /// tries again later); anything else ends the flow with `RepoCreationFailed`.
    pub(crate) async fn create_repository(
        &self,
        project_id: Uuid,
        account_id: Uuid,
    ) -> Result<(), EngineError> {
        let project = self.project_state_of(project_id)?;
        if project.status != ProjectStatus::CreatingRepository || project.repository.is_some() {
            return Ok(());
        }
        match self.try_create(project_id, account_id, &project.name).await {
            Ok(command) => {
                self.project_outcome(project_id, "create_repository", "outcome", command)
                    .await;
                let _ = self.vault.delete(&creating_ref(project_id));
                Ok(())
            }
            Err(e) if super::project_saga::retryable(&e) => Err(e),
            Err(e) => self.fail_creation(project_id, e.to_string()).await,
        }
    }

    async fn try_create(
        &self,
        project_id: Uuid,
        account_id: Uuid,
        project_name: &str,
    ) -> Result<ProjectCommand, EngineError> {
        let invalid = |message: String| EngineError::Invalid {
            field: "name",
            message,
        };
        let account = self.account_state_of(account_id)?;
        if account.status() != AccountStatus::Active {
            return Err(EngineError::Invalid {
                field: "account",
                message: format!(
                    "account {} is {}; {}",
                    account.unique_name,
                    account.status(),
                    crate::domain::next_action(&account).unwrap_or_default()
                ),
            });
        }
        let provider = account.provider.unwrap_or(Provider::GitHub);
        let name = repository_name_for(provider, project_name).map_err(invalid)?;
        let scope = self.scope_of(&account).await?;
        if let Scope::GitHub { installation, .. } = &scope {
            if installation.suspended {
                return Err(EngineError::Invalid {
                    field: "account",
                    message: format!(
                        "the GitHub installation on {} is suspended",
                        installation.account_login
                    ),
                });
            }
        }
        let full_name = scope.full_name(&name);
        let marker = creating_ref(project_id);
        let ours_before = self.vault.get(&marker)?.is_some_and(|m| m.expose() == full_name);
        let conflict = || {
            invalid(format!(
                "a repository named {full_name} already exists on {} and is not this project's; \
                 rename or delete it, import it instead, or choose another project name",
                provider.display_name()
            ))
        };
        if let Some(found) = self.repo_by_full_name(account_id, &scope, &full_name).await? {
            let ours = match provider {
                Provider::GitHub => found
                    .description
                    .as_deref()
                    .is_some_and(|d| d.contains(&project_id.to_string())),
                _ => ours_before,
            };
            return if ours {
                Ok(recorded(&found))
            } else {
                Err(conflict())
            };
        }
        self.vault.put(&marker, &Secret::new(full_name.clone()))?;
        let description = description_for(project_id, project_name);
        match self
            .create_in_scope(account_id, &scope, &name, &description)
            .await
        {
            Ok(found) => {
                self.config.hooks.pass(HaltPoint::AfterRepositoryCreated).await;
                tracing::info!(%project_id, repository = %found.full_name, "repository created");
                Ok(recorded(&found))
            }
            // Our own earlier call created it, and the installation cannot see it (GitHub
            // answers 404 for repositories outside a "selected" installation).
            Err(e) if name_taken(&e) && ours_before => match &scope {
                Scope::GitHub { installation, .. } => Ok(ProjectCommand::RecordAccessPending {
                    full_name,
                    settings_url: self.github()?.installation_settings_url(installation),
                }),
                _ => Err(e),
            },
            Err(e) if name_taken(&e) => Err(conflict()),
            Err(e) => Err(e),
        }
    }

    /// GitHub: records whether the installation sees the project's new repository.
    pub(crate) async fn check_access(
        &self,
        project_id: Uuid,
        account_id: Uuid,
        version: u64,
    ) -> Result<(), EngineError> {
        let project = self.project_state_of(project_id)?;
        let Some(repo) = project.repository.clone() else {
            return Ok(());
        };
        if project.installation_id.is_some() || project.status != ProjectStatus::Ready {
            return Ok(());
        }
        let account = self.account_state_of(account_id)?;
        let Scope::GitHub { installation, .. } = self.scope_of(&account).await? else {
            return Ok(());
        };
        let repo_id: u64 = repo.provider_id.parse().unwrap_or_default();
        let client = self.github()?;
        let command = if client.installation_can_see(installation.id, repo_id).await? {
            ProjectCommand::RecordRepoAutoAdded {
                installation_id: installation.id,
            }
        } else {
            ProjectCommand::RecordAccessPending {
                full_name: repo.full_name.clone(),
                settings_url: client.installation_settings_url(&installation),
            }
        };
        self.project_outcome(project_id, "check_access", &format!("v{version}"), command)
            .await;
        Ok(())
    }

    /// Completes a GitHub project waiting for access when the installation now sees its
    /// repository (asked of GitHub, never assumed from a webhook alone). Returns the event
    /// types recorded.
    pub(crate) async fn complete_pending_access(
        &self,
        project_id: Uuid,
        scope: &Scope,
    ) -> Result<Vec<String>, EngineError> {
        let project = self.project_state_of(project_id)?;
        let (Some(account_id), ProjectStatus::AwaitingAccess, Scope::GitHub { installation, .. }) =
            (project.account_id, project.status, scope)
        else {
            return Ok(vec![]);
        };
        let key = format!("v{}", project.version);
        let client = self.github()?;
        let mut commands = Vec::new();
        match &project.repository {
            Some(repo) => {
                if client
                    .installation_can_see(installation.id, repo.provider_id.parse().unwrap_or_default())
                    .await?
                {
                    commands.push(ProjectCommand::RecordRepoAutoAdded {
                        installation_id: installation.id,
                    });
                }
            }
            None => {
                let wanted = project.access_pending.clone().map(|p| p.0).unwrap_or_default();
                if let Some(found) = self.repo_by_full_name(account_id, scope, &wanted).await? {
                    let ours = found
                        .description
                        .as_deref()
                        .is_some_and(|d| d.contains(&project_id.to_string()));
                    if !ours {
                        commands.push(ProjectCommand::FailRepoCreation {
                            reason: format!("{wanted} is not the repository this project created"),
                        });
                    } else {
                        commands.push(recorded(&found));
                        commands.push(ProjectCommand::RecordRepoAutoAdded {
                            installation_id: installation.id,
                        });
                    }
                }
            }
        }
        let mut types = Vec::new();
        for (i, command) in commands.into_iter().enumerate() {
            let id = command_id(project_id, "access_granted", &format!("{key}/{i}"));
            let reply = self.apply_project(project_id, command, id, saga_meta()).await?;
            types.extend(reply.events);
        }
        Ok(types)
    }
}
