//! `AccountState`: the fold of one account stream, keeping exactly what later decisions and the
//! saga need (provider, name, the current link attempt, the grant, the selection, repositories).
//! `evolve` never fails: the decider already checked every event it emitted, and a stored event
//! is a fact even when it looks odd.

use super::status::AccountStatus;
use chrono::{DateTime, Utc};
use forgelink_events::{BlueprintRef, Event, Grant, GroupSelected, Provider, RepoRef, WorkspaceSelected};
use std::collections::BTreeSet;
use uuid::Uuid;

/// How a link attempt ended, if it did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AttemptOutcome {
    /// Still waiting for the person (or for the saga's verification).
    #[default]
    Open,
    Approved,
    Failed {
        reason: String,
    },
    Expired,
}

/// What the provider's callback claimed, recorded by `AuthorizationReceived` (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAuthorization {
    pub installation_id: Option<u64>,
    pub setup_action: Option<String>,
    pub code_ref: Option<String>,
}

/// GitHub: the installation request the person made instead of an install (they are not an
/// owner of the organization), recorded by `InstallRequested`; who asked and where, once the
/// saga found the request on GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub code_ref: Option<String>,
    /// `(requester, organization)`, from `InstallRequestIdentified`.
    pub identified: Option<(String, String)>,
}

/// The current link attempt. Only the hash of its OAuth `state` is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAttempt {
    pub attempt_id: Uuid,
    pub state_hash: String,
    pub authorize_url: String,
    pub expires_at: DateTime<Utc>,
    /// Set once the callback arrived: the state is spent from then on.
    pub authorization: Option<ReceivedAuthorization>,
    /// GitHub: set when the callback was an installation request (the state is spent too).
    pub request: Option<PendingRequest>,
    pub outcome: AttemptOutcome,
}

impl LinkAttempt {
    /// True while the attempt waits for the callback or the saga's verification.
    pub fn is_open(&self) -> bool {
        self.outcome == AttemptOutcome::Open
    }
}

/// One account, folded from its stream. `Default` is the empty stream (no account yet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountState {
    status: AccountStatus,
    pub account_id: Option<Uuid>,
    pub provider: Option<Provider>,
    pub unique_name: String,
    /// The current (latest) link attempt.
    pub attempt: Option<LinkAttempt>,
    /// Every earlier attempt, superseded or finished: their states no longer work.
    pub past_attempts: Vec<Uuid>,
    /// What the provider granted, once verified.
    pub grant: Option<Grant>,
    pub group: Option<GroupSelected>,
    pub workspace: Option<WorkspaceSelected>,
    pub repositories: BTreeSet<RepoRef>,
    /// GitHub: `all` or `selected`.
    pub repository_selection: Option<String>,
    pub suspended_by: Option<String>,
    pub blueprints: Vec<BlueprintRef>,
    /// The last failure a person should read (failed link, revoked credentials).
    pub last_error: Option<String>,
    /// GitHub: the installation this account holds (claimed by `InstallApproved`, released by
    /// `InstallationRemoved` and `AccountUnlinked`).
    pub held_installation: Option<u64>,
    /// Events folded so far (the stream version this state stands at).
    pub version: u64,
}

impl AccountState {
    pub fn status(&self) -> AccountStatus {
        self.status
    }

    /// True once an account was named on this stream.
    pub fn exists(&self) -> bool {
        self.status != AccountStatus::None
    }

    /// True when `attempt_id` is the current or an earlier attempt of this account.
    pub fn knows_attempt(&self, attempt_id: Uuid) -> bool {
        self.attempt.as_ref().is_some_and(|a| a.attempt_id == attempt_id)
            || self.past_attempts.contains(&attempt_id)
    }

    /// The current attempt if it has this id.
    pub fn current_attempt(&self, attempt_id: Uuid) -> Option<&LinkAttempt> {
        self.attempt.as_ref().filter(|a| a.attempt_id == attempt_id)
    }

    /// The provider's name for people, `the provider` before the account was named.
    pub fn provider_name(&self) -> &'static str {
        self.provider.map_or("the provider", Provider::display_name)
    }

    fn close_attempt(&mut self, attempt_id: Option<Uuid>, outcome: AttemptOutcome) {
        if let Some(a) = self.attempt.as_mut() {
            if attempt_id.unwrap_or(a.attempt_id) == a.attempt_id {
                a.outcome = outcome;
            }
        }
    }
}

/// Folds one event into the state. Events of other streams (projects) are ignored.
pub fn evolve(mut state: AccountState, event: &Event) -> AccountState {
    let known = matches!(
        event,
        Event::AccountNamed(_)
            | Event::LinkStarted(_)
            | Event::AuthorizationReceived(_)
            | Event::InstallRequested(_)
            | Event::InstallRequestIdentified(_)
            | Event::InstallApproved(_)
            | Event::GroupSelected(_)
            | Event::WorkspaceSelected(_)
            | Event::DetailsSaved(_)
            | Event::RepositoriesChanged(_)
            | Event::InstallationSuspended(_)
            | Event::InstallationUnsuspended(_)
            | Event::InstallationRemoved(_)
            | Event::CredentialsRefreshed(_)
            | Event::CredentialsRevoked(_)
            | Event::BlueprintsFound(_)
            | Event::LinkExpired(_)
            | Event::LinkFailed(_)
            | Event::AccountRenamed(_)
            | Event::AccountUnlinked(_)
            | Event::ScopeRenamed(_)
    );
    if !known {
        return state;
    }
    state.version += 1;
    match event {
        Event::AccountNamed(e) => {
            state.account_id = Some(e.account_id);
            state.provider = Some(e.provider);
            state.unique_name = e.unique_name.clone();
            state.status = AccountStatus::Pending;
        }
        Event::LinkStarted(e) => {
            if let Some(old) = state.attempt.take() {
                state.past_attempts.push(old.attempt_id);
            }
            state.attempt = Some(LinkAttempt {
                attempt_id: e.attempt_id,
                state_hash: e.state_hash.clone(),
                authorize_url: e.authorize_url.clone(),
                expires_at: e.expires_at,
                authorization: None,
                request: None,
                outcome: AttemptOutcome::Open,
            });
            state.status = AccountStatus::AwaitingApproval;
        }
        Event::AuthorizationReceived(e) => {
            if let Some(a) = state.attempt.as_mut().filter(|a| a.attempt_id == e.attempt_id) {
                // An approved request brings no code: the request's own is the attempt's.
                let requested_code = a.request.as_ref().and_then(|r| r.code_ref.clone());
                a.authorization = Some(ReceivedAuthorization {
                    installation_id: e.installation_id,
                    setup_action: e.setup_action.clone(),
                    code_ref: e.code_ref.clone().or(requested_code),
                });
            }
        }
        Event::InstallRequested(e) => {
            if let Some(a) = state.attempt.as_mut().filter(|a| a.attempt_id == e.attempt_id) {
                a.request = Some(PendingRequest {
                    code_ref: e.code_ref.clone(),
                    identified: None,
                });
                a.expires_at = e.expires_at;
                state.status = AccountStatus::AwaitingOwnerApproval;
            }
        }
        Event::InstallRequestIdentified(e) => {
            if let Some(r) = state
                .attempt
                .as_mut()
                .filter(|a| a.attempt_id == e.attempt_id)
                .and_then(|a| a.request.as_mut())
            {
                r.identified = Some((e.requester.clone(), e.organization.clone()));
            }
        }
        Event::InstallApproved(e) => {
            state.close_attempt(Some(e.attempt_id), AttemptOutcome::Approved);
            // A new grant may come from another person: an earlier selection is not theirs.
            state.group = None;
            state.workspace = None;
            state.last_error = None;
            state.suspended_by = None;
            match &e.grant {
                Grant::GithubInstallation {
                    installation_id,
                    repository_selection,
                    repositories,
                    ..
                } => {
                    state.held_installation = Some(*installation_id);
                    state.repositories = repositories.iter().cloned().collect();
                    state.repository_selection = Some(repository_selection.clone());
                    state.status = AccountStatus::Active;
                }
                Grant::Oauth { .. } => state.status = AccountStatus::AwaitingDetails,
            }
            state.grant = Some(e.grant.clone());
        }
        Event::GroupSelected(e) => state.group = Some(e.clone()),
        Event::WorkspaceSelected(e) => state.workspace = Some(e.clone()),
        Event::DetailsSaved(_) => state.status = AccountStatus::Active,
        Event::RepositoriesChanged(e) => {
            for r in &e.removed {
                state.repositories.remove(r);
            }
            state.repositories.extend(e.added.iter().cloned());
            if let Some(sel) = &e.repository_selection {
                state.repository_selection = Some(sel.clone());
            }
        }
        Event::InstallationSuspended(e) => {
            state.suspended_by = e.by.clone();
            state.status = AccountStatus::Suspended;
        }
        Event::InstallationUnsuspended(_) => {
            state.suspended_by = None;
            state.status = AccountStatus::Active;
        }
        Event::InstallationRemoved(_) => {
            state.held_installation = None;
            state.last_error = Some("the app was uninstalled on GitHub".to_string());
            state.status = AccountStatus::Disconnected;
        }
        Event::CredentialsRefreshed(e) => {
            if let Some(Grant::Oauth {
                secret_ref,
                token_expires_at,
                ..
            }) = state.grant.as_mut()
            {
                *secret_ref = e.secret_ref.clone();
                *token_expires_at = e.token_expires_at;
            }
        }
        Event::CredentialsRevoked(e) => {
            state.last_error = Some(e.reason.clone());
            state.status = AccountStatus::Disconnected;
        }
        Event::BlueprintsFound(e) => state.blueprints = e.blueprints.clone(),
        Event::LinkExpired(e) => {
            state.close_attempt(Some(e.attempt_id), AttemptOutcome::Expired);
            state.status = AccountStatus::Expired;
        }
        Event::LinkFailed(e) => {
            state.close_attempt(
                e.attempt_id,
                AttemptOutcome::Failed {
                    reason: e.reason.clone(),
                },
            );
            state.last_error = Some(e.reason.clone());
            state.status = AccountStatus::Failed;
        }
        Event::AccountRenamed(e) => state.unique_name = e.to.clone(),
        Event::ScopeRenamed(e) => {
            if let Some(Grant::GithubInstallation { account_login, .. }) = state.grant.as_mut() {
                *account_login = e.to.clone();
            }
            if let Some(g) = state.group.as_mut() {
                g.full_path = e.to.clone();
            }
        }
        Event::AccountUnlinked(_) => {
            state.held_installation = None;
            state.status = AccountStatus::Unlinked;
        }
        _ => {}
    }
    state
}

/// Folds a whole stream from the empty state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> AccountState {
    events.into_iter().fold(AccountState::default(), evolve)
}
