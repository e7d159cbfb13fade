//! One account as the dashboard shows it (`AccountRow`), and the fold of the account stream into
//! it. The dashboard, the `--as-of` history and the property tests all use this one fold, so a
//! live dashboard, a rebuilt one and a replayed stream cannot disagree by construction of code.

use crate::status::{AccountStatus, NextAction, Scope};
use chrono::{DateTime, Utc};
use forgelink_events::{Envelope, Event, Grant, Provider, RepoRef};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why an event does not fit the account it is filed under. Every variant means the log and
/// this fold disagree, so the projection stops instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("event at position {position} has stream version {got}, but the account is at version {have}; an event was skipped or applied twice")]
    OutOfOrder { position: u64, have: u64, got: u64 },
    #[error("event at position {position} ({event_type}) does not belong to an account stream")]
    NotAnAccountEvent { position: u64, event_type: &'static str },
    #[error("event at position {position} names the account again; an account is named once")]
    NamedTwice { position: u64 },
}

/// The dashboard's row for one account. Strings are boxed (`Box<str>`) to keep a row small:
/// the budget is under 1 KiB of memory per account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: Box<str>,
    pub provider: Provider,
    pub status: AccountStatus,
    /// Where new repositories go: the GitHub account, GitLab group or Bitbucket workspace.
    pub scope: Option<Scope>,
    /// GitHub only.
    pub installation_id: Option<u64>,
    /// GitHub only: `all` or `selected`.
    pub repository_selection: Option<Box<str>>,
    /// The repositories the account can see, as last reported.
    pub repositories: Vec<RepoRef>,
    /// Platform projects attached to this account (created or imported, not detached).
    pub projects: u32,
    /// Projects whose repository the GitHub installation cannot see yet.
    pub repos_awaiting_access: u32,
    /// Blueprint repositories found after activation.
    pub blueprints: u32,
    /// When the account last became active, and who saved the details then.
    pub linked_at: Option<DateTime<Utc>>,
    pub linked_by: Option<Box<str>>,
    /// `recorded_at` of the account's latest event.
    pub last_activity: DateTime<Utc>,
    /// The latest failure, in words; cleared by a new link attempt or by activation.
    pub last_error: Option<Box<str>>,
    /// The callback came back with our state and the saga is verifying it.
    pub verifying: bool,
    /// The account stream's version this row reflects.
    pub version: u64,
}

impl AccountRow {
    /// The row an `AccountNamed` event starts. `None` when `env` is anything else.
    pub fn named(env: &Envelope) -> Option<AccountRow> {
        let Event::AccountNamed(e) = &env.event else {
            return None;
        };
        Some(AccountRow {
            id: e.account_id,
            name: e.unique_name.as_str().into(),
            provider: e.provider,
            status: AccountStatus::Pending,
            scope: None,
            installation_id: None,
            repository_selection: None,
            repositories: Vec::new(),
            projects: 0,
            repos_awaiting_access: 0,
            blueprints: 0,
            linked_at: None,
            linked_by: None,
            last_activity: env.recorded_at,
            last_error: None,
            verifying: false,
            version: env.stream_version,
        })
    }

    /// Folds a whole account stream (in version order). `Ok(None)` for an empty stream.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Envelope>) -> Result<Option<AccountRow>, FoldError> {
        let mut row: Option<AccountRow> = None;
        for env in events {
            match row.as_mut() {
                Some(r) => r.apply(env)?,
                None => row = AccountRow::named(env),
            }
        }
        Ok(row)
    }

    /// The next thing a person must do for this account, if anything.
    pub fn next_action(&self) -> Option<NextAction> {
        NextAction::for_row(self)
    }

    /// The row as JSON for machines, with the next action as a code and in words.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(map) = v.as_object_mut() {
            let next = self.next_action();
            map.insert(
                "next_action".into(),
                serde_json::to_value(next).unwrap_or_default(),
            );
            map.insert(
                "next_action_text".into(),
                next.map(|n| n.text(self.provider)).into(),
            );
        }
        v
    }

    /// Applies the next event of this account's stream. Checks everything before changing
    /// anything, so on error the row is as it was.
    pub fn apply(&mut self, env: &Envelope) -> Result<(), FoldError> {
        if env.stream_version != self.version + 1 {
            return Err(FoldError::OutOfOrder {
                position: env.position,
                have: self.version,
                got: env.stream_version,
            });
        }
        use AccountStatus as S;
        match &env.event {
            Event::AccountNamed(_) => {
                return Err(FoldError::NamedTwice {
                    position: env.position,
                })
            }
            Event::LinkStarted(_) => {
                self.status = S::AwaitingApproval;
                self.verifying = false;
                self.last_error = None;
                // The person linking: a GitHub link is approved by forgelink's check, not by
                // them, so the account page names who started it.
                self.linked_by = Some(env.actor.as_str().into());
            }
            Event::InstallRequested(_) => {
                self.status = S::AwaitingOwnerApproval;
                self.verifying = false;
            }
            Event::InstallRequestIdentified(e) => {
                self.scope = Some(Scope::GithubAccount {
                    login: e.organization.as_str().into(),
                    target_type: "Organization".into(),
                });
            }
            Event::AuthorizationReceived(e) => {
                self.verifying = true;
                if e.installation_id.is_some() {
                    self.installation_id = e.installation_id;
                }
            }
            Event::InstallApproved(e) => {
                self.verifying = false;
                self.status = S::AwaitingDetails;
                if let Grant::GithubInstallation {
                    installation_id,
                    account_login,
                    target_type,
                    repository_selection,
                    repositories,
                } = &e.grant
                {
                    self.installation_id = Some(*installation_id);
                    self.scope = Some(Scope::GithubAccount {
                        login: account_login.as_str().into(),
                        target_type: target_type.as_str().into(),
                    });
                    self.repository_selection = Some(repository_selection.as_str().into());
                    self.repositories = repositories.clone();
                    // GitHub has no details step: the verified installation is the scope, and
                    // the engine's decider makes the account active here (issue 3).
                    self.status = S::Active;
                    self.linked_at = Some(env.recorded_at);
                    if self.linked_by.is_none() {
                        self.linked_by = Some(env.actor.as_str().into());
                    }
                    self.last_error = None;
                }
            }
            Event::GroupSelected(e) => {
                self.scope = Some(Scope::GitlabGroup {
                    group_id: e.group_id,
                    full_path: e.full_path.as_str().into(),
                });
            }
            Event::WorkspaceSelected(e) => {
                self.scope = Some(Scope::BitbucketWorkspace {
                    workspace: e.workspace.as_str().into(),
                    project_key: e.project_key.as_str().into(),
                });
            }
            Event::ScopeRenamed(e) => match &mut self.scope {
                Some(Scope::GithubAccount { login, .. }) => *login = e.to.as_str().into(),
                Some(Scope::GitlabGroup { full_path, .. }) => *full_path = e.to.as_str().into(),
                _ => {}
            },
            Event::DetailsSaved(_) => {
                self.status = S::Active;
                self.linked_at = Some(env.recorded_at);
                self.linked_by = Some(env.actor.as_str().into());
                self.last_error = None;
            }
            Event::RepositoriesChanged(e) => {
                self.repositories
                    .retain(|r| !e.removed.iter().any(|x| x.id == r.id));
                for added in &e.added {
                    if !self.repositories.iter().any(|r| r.id == added.id) {
                        self.repositories.push(added.clone());
                    }
                }
                if let Some(sel) = &e.repository_selection {
                    self.repository_selection = Some(sel.as_str().into());
                }
            }
            Event::InstallationSuspended(e) => {
                self.status = S::Suspended;
                self.last_error = Some(match &e.by {
                    Some(by) => format!("the GitHub App installation was suspended by {by}").into(),
                    None => "the GitHub App installation was suspended".into(),
                });
            }
            Event::InstallationUnsuspended(_) => {
                self.status = if self.linked_at.is_some() {
                    S::Active
                } else {
                    S::AwaitingDetails
                };
                self.last_error = None;
            }
            Event::InstallationRemoved(_) => {
                self.status = S::Disconnected;
                self.last_error = Some("the GitHub App was uninstalled".into());
            }
            Event::CredentialsRefreshed(_) => {}
            Event::CredentialsRevoked(e) => {
                self.status = S::Disconnected;
                self.last_error = Some(format!("credentials revoked: {}", e.reason).into());
            }
            Event::BlueprintsFound(e) => {
                self.blueprints = self.blueprints.saturating_add(e.blueprints.len() as u32);
            }
            Event::LinkExpired(_) => {
                self.status = S::Expired;
                self.verifying = false;
                self.last_error = Some("the link attempt expired before it was approved".into());
            }
            Event::LinkFailed(e) => {
                self.status = S::Failed;
                self.verifying = false;
                self.last_error = Some(e.reason.as_str().into());
            }
            Event::AccountRenamed(e) => self.name = e.to.as_str().into(),
            Event::AccountUnlinked(_) => {
                self.status = S::Unlinked;
                self.verifying = false;
            }
            other => {
                return Err(FoldError::NotAnAccountEvent {
                    position: env.position,
                    event_type: other.event_type(),
                })
            }
        }
        self.version = env.stream_version;
        self.last_activity = env.recorded_at;
        Ok(())
    }
}
