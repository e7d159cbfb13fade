//! The path of one command: resolve the account, fold its stream, `decide`, append with the
//! expected version and the command id, and re-run `decide` (bounded) when another writer got
//! there first. A command id seen before returns its first outcome and appends nothing.

use super::message::{CommandMessage, CommandReply, Request};
use super::{Engine, EngineError, Inner};
use crate::domain::{decide, evolve, fold, next_action, AccountCommand, AccountState};
use forgelink_events::{ExpectedVersion, LogError, Metadata, StreamId};
use uuid::Uuid;

/// How often a command is decided again after losing a race for the stream's next version.
const MAX_CONFLICT_RETRIES: u32 = 5;

impl Engine {
    /// Carries out one command message and says what it did.
    pub async fn execute(&self, msg: CommandMessage) -> Result<CommandReply, EngineError> {
        let span = tracing::info_span!("command", kind = msg.request.message_type());
        tracing::Instrument::instrument(self.execute_inner(msg), span).await
    }

    async fn execute_inner(&self, msg: CommandMessage) -> Result<CommandReply, EngineError> {
        msg.check_text()?;
        let command_id = msg.command_id.unwrap_or_else(Uuid::new_v4);
        let meta = Metadata {
            correlation_id: msg.correlation_id.unwrap_or_else(Uuid::new_v4),
            causation_id: None,
            actor: msg.actor.clone(),
        };
        tracing::debug!(%command_id, correlation_id = %meta.correlation_id, "command received");
        let inner = &self.inner;
        match msg.request {
            Request::NameAccount {
                provider,
                unique_name,
                account_id,
            } => {
                let account_id = account_id.unwrap_or_else(Uuid::new_v4);
                let command = AccountCommand::NameAccount {
                    account_id,
                    provider,
                    unique_name,
                };
                inner.apply(account_id, command, command_id, meta).await
            }
            Request::StartLink { account } => {
                let account_id = self.resolve_account(&account)?;
                inner.start_link(account_id, command_id, meta).await
            }
            Request::CompleteAuthorization {
                state,
                installation_id,
                setup_action,
                code,
                error,
            } => {
                inner
                    .complete_authorization(
                        state,
                        installation_id,
                        setup_action,
                        code,
                        error,
                        command_id,
                        meta,
                    )
                    .await
            }
            Request::SelectGroup { account, group_id } => {
                let account_id = self.resolve_account(&account)?;
                let full_path = inner.gitlab_group_path(account_id, group_id).await?;
                inner
                    .apply(
                        account_id,
                        AccountCommand::SelectGroup { group_id, full_path },
                        command_id,
                        meta,
                    )
                    .await
            }
            Request::SelectWorkspace {
                account,
                workspace,
                project_key,
            } => {
                let account_id = self.resolve_account(&account)?;
                inner
                    .check_bitbucket_project(account_id, &workspace, &project_key)
                    .await?;
                let command = AccountCommand::SelectWorkspace {
                    workspace,
                    project_key,
                };
                inner.apply(account_id, command, command_id, meta).await
            }
            Request::SaveDetails { account } => {
                let account_id = self.resolve_account(&account)?;
                inner
                    .apply(account_id, AccountCommand::SaveDetails, command_id, meta)
                    .await
            }
            Request::RenameAccount { account, to } => {
                let account_id = self.resolve_account(&account)?;
                inner
                    .apply(account_id, AccountCommand::RenameAccount { to }, command_id, meta)
                    .await
            }
            Request::CreateProject {
                project_id,
                name,
                account,
            } => {
                let account_id = self.resolve_account(&account)?;
                let project_id = project_id.unwrap_or_else(Uuid::new_v4);
                inner
                    .create_project(project_id, name, account_id, command_id, meta)
                    .await
            }
            Request::ImportProject {
                project_id,
                name,
                account,
                repository,
            } => {
                let account_id = self.resolve_account(&account)?;
                let project_id = project_id.unwrap_or_else(Uuid::new_v4);
                inner
                    .import_project(project_id, name, account_id, repository, command_id, meta)
                    .await
            }
            Request::DetachProject { project_id, reason } => {
                if !inner.project_state_of(project_id)?.exists() {
                    return Err(EngineError::UnknownProject(project_id.to_string()));
                }
                let reason = reason.unwrap_or_else(|| format!("detached by {}", meta.actor));
                let command = crate::domain::ProjectCommand::DetachProject { reason };
                inner.apply_project(project_id, command, command_id, meta).await
            }
            Request::Reconcile { account } => {
                let account_id = match account {
                    Some(a) => Some(self.resolve_account(&a)?),
                    None => None,
                };
                let report = inner.reconcile_report(account_id).await?;
                let events = report.accounts.iter().flat_map(|r| r.events.clone()).collect();
                let stopped = report
                    .accounts
                    .iter()
                    .filter(|r| r.stopped_because.is_some())
                    .count();
                let next_action = (stopped > 0).then(|| {
                    format!(
                        "{stopped} of {} accounts were not fully reconciled (see `reconciled.accounts`); \
                         the next run continues",
                        report.accounts.len()
                    )
                });
                Ok(CommandReply {
                    account_id: account_id.unwrap_or_default(),
                    project_id: None,
                    command_id,
                    events,
                    positions: None,
                    duplicate: false,
                    status: "reconciled".into(),
                    next_action,
                    authorize_url: None,
                    warnings: vec![],
                    reconciled: Some(report),
                })
            }
            Request::UnlinkAccount { account, reason } => {
                let account_id = self.resolve_account(&account)?;
                inner
                    .apply(
                        account_id,
                        AccountCommand::UnlinkAccount { reason },
                        command_id,
                        meta,
                    )
                    .await
            }
        }
    }

    /// Applies a decider command directly (the saga's and the library's way in).
    pub async fn apply(
        &self,
        account_id: Uuid,
        command: AccountCommand,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        self.inner.apply(account_id, command, command_id, meta).await
    }
}

impl Inner {
    /// Folds, decides and appends, retrying on a lost race.
    pub(crate) async fn apply(
        &self,
        account_id: Uuid,
        command: AccountCommand,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        let stream = StreamId::account(account_id);
        if let Some(first) = self.log.command_outcome(&command_id)? {
            return self.reply(
                account_id,
                command_id,
                vec![],
                Some(first.positions().into_inner()),
                true,
                None,
            );
        }
        for _ in 0..=MAX_CONFLICT_RETRIES {
            let history = self.log.read_stream(&stream, 1)?;
            let version = history.last().map_or(0, |e| e.stream_version);
            let state = fold(history.iter().map(|e| &e.event));
            let events = decide(&state, &command, chrono::Utc::now())?;
            if events.is_empty() {
                return self.reply(account_id, command_id, vec![], None, false, None);
            }
            let types: Vec<String> = events.iter().map(|e| e.event_type().to_string()).collect();
            let expected = if version == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(version)
            };
            // The state the reply describes: what was folded plus what this append adds (the
            // expected version guarantees nothing came in between), so the stream is not read
            // and folded a second time.
            let after = events.iter().fold(state, evolve);
            match self
                .log
                .append(&stream, expected, events, command_id, meta.clone())
                .await
            {
                Ok(outcome) if !outcome.duplicate => {
                    let positions = Some(outcome.positions().into_inner());
                    tracing::info!(%account_id, events = ?types, "command applied");
                    return Ok(reply_from(
                        &after, account_id, command_id, types, positions, false, None,
                    ));
                }
                Ok(outcome) => {
                    let positions = Some(outcome.positions().into_inner());
                    return self.reply(account_id, command_id, vec![], positions, true, None);
                }
                Err(LogError::WrongExpectedVersion { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict {
            attempts: MAX_CONFLICT_RETRIES + 1,
        })
    }

    pub(crate) fn reply(
        &self,
        account_id: Uuid,
        command_id: Uuid,
        events: Vec<String>,
        positions: Option<(u64, u64)>,
        duplicate: bool,
        authorize_url: Option<String>,
    ) -> Result<CommandReply, EngineError> {
        let history = self.log.read_stream(&StreamId::account(account_id), 1)?;
        let state = fold(history.iter().map(|e| &e.event));
        Ok(reply_from(
            &state,
            account_id,
            command_id,
            events,
            positions,
            duplicate,
            authorize_url,
        ))
    }
}

/// The reply for an account in `state`.
fn reply_from(
    state: &AccountState,
    account_id: Uuid,
    command_id: Uuid,
    events: Vec<String>,
    positions: Option<(u64, u64)>,
    duplicate: bool,
    authorize_url: Option<String>,
) -> CommandReply {
    CommandReply {
        account_id,
        project_id: None,
        command_id,
        events,
        positions,
        duplicate,
        status: state.status().as_str().to_string(),
        next_action: next_action(state),
        authorize_url,
        warnings: vec![],
        reconciled: None,
    }
}
