//! Reconciliation: ask each active account's provider for the truth and record only the
//! differences. GitHub: the installation exists and whether it is suspended, the repositories
//! it sees. All providers: the tokens still work (GitLab and Bitbucket calls refresh on a 401
//! and record a revoked grant), each project's repository still exists under its recorded id
//! and under which name, and projects waiting for access get it. A webhook lost on the way is
//! healed here, and so is a lost push: each project's default branch head is read and, when it
//! is not the last commit the project recorded for that branch, `RepoPushed` is recorded. Runs
//! every `EngineConfig::reconcile_every` and on demand; never twice at once for one account; an
//! account whose provider says "rate limited", or says fewer calls are left than
//! `EngineConfig::reconcile_min_rate_remaining`, is left (partly) for the next run. On GitLab
//! and Bitbucket, each project's webhook (see `repo_hooks`) is checked and recreated if gone.

use super::project_saga::saga_meta;
use super::repo_calls::Scope;
use super::{Engine, EngineError, Inner};
use crate::domain::{AccountCommand, AccountStatus, ProjectCommand, ProjectStatus};
use crate::providers::ProviderError;
use crate::saga::command_id;
use forgelink_events::{Event, Grant, Metadata, Provider, StreamId};
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

/// How many accounts one reconciliation run works on at once.
const RECONCILE_AT_ONCE: usize = 8;

/// What one reconciliation of one account did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountReconciled {
    pub account_id: Uuid,
    /// The event types recorded, in order (empty when the provider agreed with the log).
    pub events: Vec<String>,
    /// Why the account was not (fully) reconciled this time, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Removes the account from the running set when the run ends, however it ends.
struct Running<'a> {
    inner: &'a Inner,
    account_id: Uuid,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.inner.projects.reconciling.lock() {
            set.remove(&self.account_id);
        }
    }
}

impl Engine {
    /// Reconciles one account, or every active (and suspended) account when `account` is
    /// `None`, and says what each run recorded.
    pub async fn reconcile(&self, account: Option<Uuid>) -> Result<Vec<AccountReconciled>, EngineError> {
        self.inner.reconcile(account).await
    }
}

impl Inner {
    pub(crate) async fn reconcile(
        &self,
        account: Option<Uuid>,
    ) -> Result<Vec<AccountReconciled>, EngineError> {
        if !self.config.run_sagas {
            // Without the saga loop (a one-off `forgelink reconcile`) nobody has filed the
            // projects yet: file them from the log first.
            self.index_projects_from_log()?;
        }
        let ids: Vec<Uuid> = match account {
            Some(id) => vec![id],
            None => self.accounts_to_reconcile()?,
        };
        // A few accounts at a time: each run mostly waits on its provider, and one after
        // another made a run over hundreds of accounts take tens of seconds. Kept small so
        // the calls stay spread out; `buffered` keeps the reports in account order.
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        stream::iter(ids)
            .map(|account_id| self.reconcile_account(account_id))
            .buffered(RECONCILE_AT_ONCE)
            .try_collect()
            .await
    }

    fn index_projects_from_log(&self) -> Result<(), EngineError> {
        let mut projects = std::collections::BTreeSet::new();
        for envelope in self.log.read_all(1) {
            let envelope = envelope?;
            let Some(id) = envelope.stream_id.entity_id() else {
                continue;
            };
            if envelope.stream_id.is_account() {
                if let (forgelink_events::Event::AccountNamed(e), Ok(mut index)) =
                    (&envelope.event, self.projects.index.lock())
                {
                    index.note_account(id, e.provider);
                }
            } else if envelope.stream_id.is_project() {
                projects.insert(id);
            }
        }
        for id in projects {
            let state = self.project_state_of(id)?;
            if let Ok(mut index) = self.projects.index.lock() {
                index.note_project(id, &state);
            }
        }
        Ok(())
    }

    fn accounts_to_reconcile(&self) -> Result<Vec<Uuid>, EngineError> {
        Ok(self
            .accounts_in_log()?
            .into_keys()
            .filter(|id| {
                self.account_state_of(*id)
                    .is_ok_and(|s| matches!(s.status(), AccountStatus::Active | AccountStatus::Suspended))
            })
            .collect())
    }

    /// Every account the log has named, with its provider, in id order. One pass over the log:
    /// for the rare paths (a one-off reconciliation, a revoked authorization, a group rename)
    /// that must not depend on the saga loop's indexes, which a CLI engine never builds.
    pub(crate) fn accounts_in_log(&self) -> Result<std::collections::BTreeMap<Uuid, Provider>, EngineError> {
        let mut accounts = std::collections::BTreeMap::new();
        for envelope in self.log.read_all(1) {
            let envelope = envelope?;
            if let (Event::AccountNamed(e), Some(id)) = (&envelope.event, envelope.stream_id.entity_id()) {
                accounts.insert(id, e.provider);
            }
        }
        Ok(accounts)
    }

    async fn reconcile_account(&self, account_id: Uuid) -> Result<AccountReconciled, EngineError> {
        let mut report = AccountReconciled {
            account_id,
            events: vec![],
            skipped: None,
        };
        let first = self
            .projects
            .reconciling
            .lock()
            .map(|mut s| s.insert(account_id))
            .unwrap_or(false);
        if !first {
            report.skipped = Some("a reconciliation of this account is already running".into());
            return Ok(report);
        }
        let _running = Running {
            inner: self,
            account_id,
        };
        let steps = self.reconcile_steps(account_id, &mut report.events);
        match crate::providers::rate_budget::tracked(steps).await {
            Ok(None) => {}
            Ok(Some(why)) => {
                tracing::info!(%account_id, "reconciliation {why}");
                report.skipped = Some(why);
            }
            Err(EngineError::Provider(e @ ProviderError::RateLimited { .. })) => {
                tracing::info!(%account_id, "reconciliation stopped early: {e}");
                report.skipped = Some(format!("stopped early: {e}"));
            }
            Err(e @ (EngineError::Disconnected { .. } | EngineError::Provider(_))) => {
                report.skipped = Some(e.to_string());
            }
            Err(e) => return Err(e),
        }
        if !report.events.is_empty() {
            tracing::info!(%account_id, events = ?report.events, "reconciliation recorded differences");
        }
        Ok(report)
    }

    /// Why the run must stop now to spare the provider's budget, if it must: the last answer
    /// this run got said fewer than `reconcile_min_rate_remaining` calls are left. Only this
    /// run's own answers count (GitHub keeps a budget per installation; another account's
    /// answer says nothing about this one's), and before its first answer nothing is known.
    fn budget_spent(&self, provider: Option<Provider>) -> Option<String> {
        let provider = provider?;
        let left = crate::providers::rate_budget::own_remaining()?;
        let floor = self.config.reconcile_min_rate_remaining;
        (left < floor).then(|| {
            format!(
                "stopped early: {} has {left} calls left (below {floor}); the next run goes on",
                provider.display_name()
            )
        })
    }

    /// Records the differences; `Some(reason)` when it stopped before the end.
    async fn reconcile_steps(
        &self,
        account_id: Uuid,
        events: &mut Vec<String>,
    ) -> Result<Option<String>, EngineError> {
        let run = Uuid::new_v4();
        let meta = || Metadata {
            actor: "reconcile".into(),
            ..saga_meta()
        };
        let mut n = 0;
        let mut next_id = |target: Uuid| {
            n += 1;
            command_id(target, "reconcile", &format!("{run}/{n}"))
        };
        let account = self.account_state_of(account_id)?;
        if !matches!(account.status(), AccountStatus::Active | AccountStatus::Suspended) {
            return Ok(None);
        }
        let provider = account.provider;
        if let Some(Grant::GithubInstallation { installation_id, .. }) = &account.grant {
            let installation = match self.github()?.installation(*installation_id).await {
                Err(ProviderError::NotFound { .. }) => {
                    let r = self
                        .apply(
                            account_id,
                            AccountCommand::RemoveInstallation,
                            next_id(account_id),
                            meta(),
                        )
                        .await?;
                    events.extend(r.events);
                    return Ok(None);
                }
                other => other?,
            };
            let command = match (installation.suspended, account.status()) {
                (true, AccountStatus::Active) => Some(AccountCommand::SuspendInstallation { by: None }),
                (false, AccountStatus::Suspended) => Some(AccountCommand::UnsuspendInstallation),
                _ => None,
            };
            if let Some(c) = command {
                events.extend(
                    self.apply(account_id, c, next_id(account_id), meta())
                        .await?
                        .events,
                );
            }
            if installation.suspended {
                return Ok(None);
            }
            if let Some(why) = self.budget_spent(provider) {
                return Ok(Some(why));
            }
            let r = self
                .refresh_repositories(account_id, *installation_id, next_id(account_id), meta())
                .await?;
            events.extend(r.events);
        }
        let account = self.account_state_of(account_id)?;
        let scope = self.scope_of(&account).await?;
        let projects = self
            .projects
            .index
            .lock()
            .map(|i| i.projects_of(account_id))
            .unwrap_or_default();
        // GitHub has answered by now; GitLab and Bitbucket after the first project.
        let mut asked = provider == Some(Provider::GitHub);
        for project_id in projects {
            if asked {
                if let Some(why) = self.budget_spent(provider) {
                    return Ok(Some(why));
                }
            }
            let project = self.project_state_of(project_id)?;
            if project.status == ProjectStatus::AwaitingAccess {
                asked = true;
                events.extend(self.complete_pending_access(project_id, &scope).await?);
                continue;
            }
            let Some(repo) = project.repository.clone() else {
                continue;
            };
            if project.status != ProjectStatus::Ready {
                continue;
            }
            asked = true;
            let found = self.repo_by_id(account_id, &scope, &repo.provider_id).await?;
            let mut commands = Vec::new();
            match &found {
                Some(f) if f.full_name != repo.full_name => commands.push(ProjectCommand::RenameRepo {
                    to: f.full_name.clone(),
                }),
                Some(_) => {}
                None => commands.extend(self.missing_repository(&scope, &repo.full_name)),
            }
            if let Some(f) = &found {
                commands.extend(self.missed_push(account_id, &scope, project_id, f).await?);
                let hooked = super::repo_hooks::HookedRepo {
                    provider_id: &repo.provider_id,
                    full_name: &f.full_name,
                };
                self.ensure_hook(account_id, project_id, &scope, hooked, true)
                    .await?;
            }
            for c in commands {
                let r = self
                    .apply_project(project_id, c, next_id(project_id), meta())
                    .await?;
                events.extend(r.events);
            }
        }
        if asked {
            if let Some(why) = self.budget_spent(provider) {
                return Ok(Some(why));
            }
        }
        // Blueprints may have appeared or gone; only a changed list is recorded.
        let before = self.account_state_of(account_id)?.version;
        self.discover_blueprints(account_id).await?;
        if self.account_state_of(account_id)?.version != before {
            events.push("BlueprintsFound".into());
        }
        Ok(None)
    }

    /// A push the project has not recorded: the default branch's head is not the last commit
    /// the project recorded for that branch (a lost push webhook). An empty repository has no
    /// head and nothing to record.
    async fn missed_push(
        &self,
        account_id: Uuid,
        scope: &Scope,
        project_id: Uuid,
        repo: &super::repo_calls::FoundRepo,
    ) -> Result<Option<ProjectCommand>, EngineError> {
        let Some(head) = self.default_branch_head(account_id, scope, repo).await? else {
            return Ok(None);
        };
        let git_ref = head.git_ref();
        let stream = self.log.read_stream(&StreamId::project(project_id), 1)?;
        // Pushes to other branches are recorded too, so look for the last one on this branch.
        let recorded = stream.iter().rev().find_map(|e| match &e.event {
            Event::RepoPushed(p) if p.git_ref == git_ref && !p.history => Some(p.commit.as_str()),
            _ => None,
        });
        if recorded == Some(head.commit.as_str()) {
            return Ok(None);
        }
        // Nothing recorded on this branch yet: a head commit made before the project took the
        // repository (GitHub's initial commit, a blueprint's history) is no missed push.
        let bound_at = stream.iter().find_map(|e| match &e.event {
            Event::RepoCreated(_) | Event::ProjectImported(_) => Some(e.recorded_at),
            _ => None,
        });
        if let (None, Some(at), Some(bound)) = (recorded, head.at, bound_at) {
            if at <= bound {
                return Ok(None);
            }
        }
        Ok(Some(ProjectCommand::RecordPush {
            git_ref,
            commit: head.commit,
            author: head.author,
            pushed_at: head.at.unwrap_or_else(chrono::Utc::now),
            before: recorded.map(str::to_string),
            settles_head: true,
        }))
    }

    /// A project's repository the account cannot find by its id. GitLab and Bitbucket: it was
    /// deleted. GitHub answers 404 both for a deleted repository and for one outside a
    /// "selected" installation: with `all` it was deleted; otherwise the project waits for
    /// access again, and the page to grant it says which it is.
    fn missing_repository(&self, scope: &Scope, full_name: &str) -> Option<ProjectCommand> {
        match scope {
            Scope::GitHub { installation, .. } if installation.repository_selection != "all" => {
                let settings_url = self.github().ok()?.installation_settings_url(installation);
                Some(ProjectCommand::RecordAccessPending {
                    full_name: full_name.to_string(),
                    settings_url,
                })
            }
            _ => Some(ProjectCommand::DeleteRepo),
        }
    }
}

/// Runs a reconciliation of every account each `reconcile_every` (zero switches it off).
pub(crate) fn start_timer(inner: &Arc<Inner>) {
    let every = inner.config.reconcile_every;
    if every.is_zero() {
        return;
    }
    let weak = Arc::downgrade(inner);
    inner.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(inner) = weak.upgrade() else { return };
            match inner.reconcile_report(None).await {
                Ok(r) if r.deliveries_healed > 0 => {
                    tracing::info!(
                        healed = r.deliveries_healed,
                        "lost GitHub deliveries taken into the inbox"
                    )
                }
                Ok(r) => {
                    if let Some(e) = r.deliveries_error {
                        tracing::warn!(error = %e, "lost GitHub deliveries could not be looked for");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "scheduled reconciliation failed"),
            }
        }
    });
}
