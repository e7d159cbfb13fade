//! Webhook deliveries into commands: each [`Change`] goes to the account (by its GitHub
//! installation id) or the project (by the provider's stable repository id) it concerns. A
//! delivery about an installation or repository the engine does not know is acknowledged and
//! changes nothing. Command ids derive from the delivery id, so a redelivered webhook records
//! nothing new. The HTTP edge verifies the signature and deduplicates before calling this;
//! `confirm` asks the provider before a destructive or reversing change is recorded.

use super::message::CommandReply;
use super::project_saga::saga_meta;
use super::{Engine, EngineError, Inner};
use crate::domain::{AccountCommand, ProjectCommand, ProjectStatus};
use crate::saga::command_id;
use crate::webhooks::{Change, Delivery};
use forgelink_events::{Metadata, Provider};
use uuid::Uuid;

impl Engine {
    /// Records what a verified webhook delivery says changed; returns one reply per command
    /// that was applied (an empty list when the delivery concerns nothing the engine knows).
    pub async fn handle_delivery(&self, delivery: Delivery) -> Result<Vec<CommandReply>, EngineError> {
        let span = tracing::info_span!("webhook", provider = %delivery.provider, event = %delivery.event);
        tracing::Instrument::instrument(self.inner.handle_delivery(delivery), span).await
    }
}

/// Keeps going past a refusal (a push to a project that was detached meanwhile, ...): one
/// change a project no longer accepts must not stop the others.
fn keep(
    result: Result<CommandReply, EngineError>,
    replies: &mut Vec<CommandReply>,
) -> Result<(), EngineError> {
    match result {
        Ok(r) => replies.push(r),
        Err(EngineError::Domain(e)) => tracing::info!(error = %e, "webhook change not recorded"),
        Err(EngineError::Project(e)) => tracing::info!(error = %e, "webhook change not recorded"),
        Err(e) => return Err(e),
    }
    Ok(())
}

impl Inner {
    pub(super) fn account_of_installation(&self, installation_id: u64) -> Option<Uuid> {
        self.installations.lock().ok()?.get(&installation_id).copied()
    }

    /// The account (and its attempt) waiting for an owner to approve `requester`'s request
    /// on `organization`.
    pub(super) fn account_of_request(&self, requester: &str, organization: &str) -> Option<(Uuid, Uuid)> {
        let key = (requester.to_lowercase(), organization.to_lowercase());
        self.install_requests.lock().ok()?.get(&key).copied()
    }

    pub(super) fn project_of_repo(&self, provider: Provider, repo_id: &str) -> Option<Uuid> {
        self.projects
            .index
            .lock()
            .ok()?
            .project_for_repo(provider, repo_id)
    }

    pub(crate) async fn handle_delivery(&self, delivery: Delivery) -> Result<Vec<CommandReply>, EngineError> {
        let provider = delivery.provider;
        let meta = Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: format!("webhook:{provider}"),
        };
        let mut replies = Vec::new();
        for (i, change) in delivery.changes.iter().enumerate() {
            // The change itself is part of the key: a provider that reuses a delivery id for
            // another change must not have it dropped as a repeat.
            let key = format!("{provider}/{}/{i}/{change:?}", delivery.delivery_id);
            // A destructive or reversing change is recorded only when the provider confirms it.
            let Some(change) = self.confirmed_change(provider, change).await? else {
                continue;
            };
            let change = &change;
            let id = |target: Uuid| command_id(target, "webhook", &key);
            let account_cmd = |installation_id: u64, command: AccountCommand| {
                self.account_of_installation(installation_id)
                    .map(|account_id| (account_id, command))
            };
            let to_account = match change {
                // An owner approved a member's installation request: the account that waits
                // for it (same requester, same organization) takes the new installation.
                Change::InstallationCreated {
                    installation_id,
                    account_login,
                    requester: Some(requester),
                    ..
                } => self
                    .account_of_request(requester, account_login)
                    .map(|(account_id, attempt_id)| {
                        (
                            account_id,
                            AccountCommand::CompleteRequestedInstall {
                                attempt_id,
                                installation_id: *installation_id,
                            },
                        )
                    }),
                Change::InstallationDeleted { installation_id } => {
                    account_cmd(*installation_id, AccountCommand::RemoveInstallation)
                }
                Change::InstallationSuspended { installation_id, by } => account_cmd(
                    *installation_id,
                    AccountCommand::SuspendInstallation { by: by.clone() },
                ),
                Change::InstallationUnsuspended { installation_id } => {
                    account_cmd(*installation_id, AccountCommand::UnsuspendInstallation)
                }
                Change::RepositoriesAdded {
                    installation_id,
                    repositories,
                    repository_selection,
                } => account_cmd(
                    *installation_id,
                    AccountCommand::ChangeRepositories {
                        added: repositories.clone(),
                        removed: vec![],
                        repository_selection: repository_selection.clone(),
                    },
                ),
                Change::RepositoriesRemoved {
                    installation_id,
                    repositories,
                    repository_selection,
                } => account_cmd(
                    *installation_id,
                    AccountCommand::ChangeRepositories {
                        added: vec![],
                        removed: repositories.clone(),
                        repository_selection: repository_selection.clone(),
                    },
                ),
                _ => None,
            };
            // The provider first: what projects losing access need is asked before anything of
            // this change is recorded, so an unreachable provider leaves all of it to a retry.
            let lost_access_settings = match change {
                Change::RepositoriesRemoved {
                    installation_id,
                    repositories,
                    ..
                } if repositories
                    .iter()
                    .any(|r| self.project_of_repo(provider, &r.id).is_some()) =>
                {
                    let client = self.github()?;
                    let installation = client.installation(*installation_id).await?;
                    Some(client.installation_settings_url(&installation))
                }
                _ => None,
            };
            if let Some((account_id, command)) = to_account {
                keep(
                    self.apply(account_id, command, id(account_id), meta.clone())
                        .await,
                    &mut replies,
                )?;
            }
            match change {
                Change::RepositoriesAdded { installation_id, .. } => {
                    if let Some(account_id) = self.account_of_installation(*installation_id) {
                        self.access_granted(account_id, &mut replies).await?;
                    }
                }
                Change::RepositoriesRemoved { repositories, .. } => {
                    for repo in repositories {
                        let settings = lost_access_settings.as_deref();
                        if let (Some(project_id), Some(settings)) =
                            (self.project_of_repo(provider, &repo.id), settings)
                        {
                            let r = self
                                .access_lost(project_id, &repo.full_name, settings, id(project_id))
                                .await;
                            keep(r, &mut replies)?;
                        }
                    }
                }
                Change::InstallationTargetRenamed {
                    installation_id, to, ..
                } => {
                    if let Some(account_id) = self.account_of_installation(*installation_id) {
                        match self.scope_renamed(account_id, to, &key, &meta).await {
                            Ok(r) => replies.extend(r),
                            Err(e) => keep(Err(e), &mut replies)?,
                        }
                        // The account's repositories now carry the new owner name.
                        let r = self
                            .refresh_repositories(account_id, *installation_id, id(account_id), meta.clone())
                            .await;
                        keep(r, &mut replies)?;
                    }
                }
                Change::AuthorizationRevoked { user_login } => {
                    match self.github_authorization_revoked(user_login, &key, &meta).await {
                        Ok(r) => replies.extend(r),
                        Err(e) => keep(Err(e), &mut replies)?,
                    }
                }
                Change::GroupRenamed {
                    group_id,
                    to_full_path,
                    ..
                } => {
                    for account_id in self.accounts_with_group(*group_id)? {
                        match self.scope_renamed(account_id, to_full_path, &key, &meta).await {
                            Ok(r) => replies.extend(r),
                            Err(e) => keep(Err(e), &mut replies)?,
                        }
                    }
                }
                Change::RepoRenamed {
                    repo_id,
                    to_full_name,
                    ..
                }
                | Change::RepoTransferred {
                    repo_id,
                    to_full_name,
                    ..
                } => {
                    if let Some(project_id) = self.project_of_repo(provider, repo_id) {
                        let command = ProjectCommand::RenameRepo {
                            to: to_full_name.clone(),
                        };
                        let r = self
                            .apply_project(project_id, command, id(project_id), meta.clone())
                            .await;
                        keep(r, &mut replies)?;
                    }
                }
                Change::RepoDeleted { repo_id, .. } => {
                    if let Some(project_id) = self.project_of_repo(provider, repo_id) {
                        let r = self
                            .apply_project(
                                project_id,
                                ProjectCommand::DeleteRepo,
                                id(project_id),
                                meta.clone(),
                            )
                            .await;
                        keep(r, &mut replies)?;
                    }
                }
                Change::Pushed {
                    repo_id,
                    git_ref,
                    commit,
                    author,
                    at,
                    before,
                    ..
                } => {
                    if let Some(project_id) = self.project_of_repo(provider, repo_id) {
                        let command = ProjectCommand::RecordPush {
                            git_ref: git_ref.clone(),
                            commit: commit.clone(),
                            author: author.clone(),
                            pushed_at: at.unwrap_or_else(chrono::Utc::now),
                            before: before.clone(),
                            settles_head: false,
                        };
                        let r = self
                            .apply_project(project_id, command, id(project_id), meta.clone())
                            .await;
                        keep(r, &mut replies)?;
                    }
                }
                // Installation changes were routed above; the rest needs nothing (see the
                // module documentation of `webhooks` for why each is carried).
                _ => {}
            }
        }
        Ok(replies)
    }

    /// Access was granted on GitHub: every project of the account waiting for it checks with
    /// GitHub whether it now sees its repository.
    async fn access_granted(
        &self,
        account_id: Uuid,
        replies: &mut Vec<CommandReply>,
    ) -> Result<(), EngineError> {
        let waiting: Vec<Uuid> = self
            .projects
            .index
            .lock()
            .map(|i| i.projects_of(account_id))
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                self.project_state_of(*p)
                    .is_ok_and(|s| s.status == ProjectStatus::AwaitingAccess)
            })
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let account = self.account_state_of(account_id)?;
        let scope = self.scope_of(&account).await?;
        for project_id in waiting {
            let types = self.complete_pending_access(project_id, &scope).await?;
            if !types.is_empty() {
                let mut reply = self.project_state_reply(project_id)?;
                reply.events = types;
                replies.push(reply);
            }
        }
        Ok(())
    }

    /// The installation no longer sees a project's repository: the project waits for access
    /// again, with the page where it is granted.
    async fn access_lost(
        &self,
        project_id: Uuid,
        full_name: &str,
        settings_url: &str,
        command_id: Uuid,
    ) -> Result<CommandReply, EngineError> {
        let command = ProjectCommand::RecordAccessPending {
            full_name: full_name.to_string(),
            settings_url: settings_url.to_string(),
        };
        self.apply_project(project_id, command, command_id, saga_meta())
            .await
    }

    /// A reply describing the project as it stands, for changes recorded in several commands.
    pub(crate) fn project_state_reply(&self, project_id: Uuid) -> Result<CommandReply, EngineError> {
        let state = self.project_state_of(project_id)?;
        Ok(CommandReply {
            account_id: state.account_id.unwrap_or_default(),
            project_id: Some(project_id),
            command_id: Uuid::nil(),
            events: vec![],
            positions: None,
            duplicate: false,
            status: state.status.as_str().to_string(),
            next_action: state.next_action(),
            authorize_url: None,
            warnings: vec![],
            reconciled: None,
        })
    }
}
