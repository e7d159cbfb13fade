//! The given/when/then harness for the decider, and fixtures for the seed's steps:
//! `given(history).when(command).then(events)` or `.then_error(|e| matches!(..))`.

use super::{decide, fold, AccountCommand, AccountState, DomainError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use forgelink_events::{
    AccountNamed, AuthorizationReceived, DetailsSaved, Event, Grant, GroupSelected, InstallApproved,
    LinkStarted, Provider, RepoRef, WorkspaceSelected,
};
use uuid::Uuid;

pub const NAME: &str = "acme-infra";
pub const ACCOUNT: Uuid = Uuid::from_u128(0xacc0);
pub const ATTEMPT: Uuid = Uuid::from_u128(0xa1);
pub const ATTEMPT_2: Uuid = Uuid::from_u128(0xa2);
pub const INSTALLATION: u64 = 42;

/// The fixed "now" of every test: 2024-05-01 12:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// When every attempt in the fixtures expires: 30 minutes after `t0`.
pub fn expiry() -> DateTime<Utc> {
    t0() + Duration::minutes(30)
}

pub struct Given {
    history: Vec<Event>,
    now: DateTime<Utc>,
}

pub struct When {
    state: AccountState,
    command: AccountCommand,
    result: Result<Vec<Event>, DomainError>,
}

/// The account's history so far.
pub fn given(history: impl IntoIterator<Item = Event>) -> Given {
    Given {
        history: history.into_iter().collect(),
        now: t0(),
    }
}

impl Given {
    /// Decides at another moment than `t0`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    pub fn when(self, command: AccountCommand) -> When {
        let state = fold(&self.history);
        let result = decide(&state, &command, self.now);
        When {
            state,
            command,
            result,
        }
    }
}

impl When {
    /// Asserts the recorded events and returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = Event>) -> AccountState {
        let expected: Vec<Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "events of {:?}", self.command);
                events.iter().fold(self.state, super::evolve)
            }
            Err(e) => panic!("{:?} was refused: {e}", self.command),
        }
    }

    /// Asserts that the command was accepted and recorded nothing (work already done).
    #[track_caller]
    pub fn then_nothing(self) {
        self.then([]);
    }

    /// Asserts a refusal matching `expected` and returns it for checks on its message.
    #[track_caller]
    pub fn then_error(self, expected: impl FnOnce(&DomainError) -> bool) -> DomainError {
        match self.result {
            Ok(events) => panic!("{:?} was accepted with {events:?}", self.command),
            Err(e) => {
                assert!(expected(&e), "unexpected refusal of {:?}: {e:?}", self.command);
                e
            }
        }
    }
}

pub fn named(provider: Provider) -> Event {
    AccountNamed {
        account_id: ACCOUNT,
        provider,
        unique_name: NAME.to_string(),
    }
    .into()
}

pub fn started(attempt_id: Uuid, state_hash: &str) -> Event {
    LinkStarted {
        attempt_id,
        state_hash: state_hash.to_string(),
        authorize_url: format!("http://127.0.0.1:1/authorize?state=for-{state_hash}"),
        expires_at: expiry(),
    }
    .into()
}

pub fn received(provider: Provider, attempt_id: Uuid) -> Event {
    let github = provider == Provider::GitHub;
    AuthorizationReceived {
        attempt_id,
        installation_id: github.then_some(INSTALLATION),
        setup_action: github.then(|| "install".to_string()),
        code_ref: Some(format!("code-{attempt_id}")),
    }
    .into()
}

pub fn repo(n: u32) -> RepoRef {
    RepoRef {
        id: n.to_string(),
        full_name: format!("acme/repo-{n}"),
    }
}

pub fn github_grant(installation_id: u64) -> Grant {
    Grant::GithubInstallation {
        installation_id,
        account_login: "acme".into(),
        target_type: "Organization".into(),
        repository_selection: "selected".into(),
        repositories: vec![repo(1), repo(2)],
    }
}

pub fn oauth_grant(secret_ref: &str) -> Grant {
    Grant::Oauth {
        user: "alice".into(),
        user_id: Some("7".into()),
        scopes: vec!["api".into()],
        secret_ref: secret_ref.into(),
        token_expires_at: t0() + Duration::hours(2),
    }
}

/// The grant a provider gives on approval.
pub fn grant_for(provider: Provider) -> Grant {
    match provider {
        Provider::GitHub => github_grant(INSTALLATION),
        _ => oauth_grant("vault:tokens-1"),
    }
}

pub fn approved(provider: Provider, attempt_id: Uuid) -> Event {
    InstallApproved {
        attempt_id,
        grant: grant_for(provider),
    }
    .into()
}

/// Named and sent to the provider: `awaiting_approval`.
pub fn awaiting_approval(provider: Provider) -> Vec<Event> {
    vec![named(provider), started(ATTEMPT, "hash-1")]
}

/// The callback arrived; the saga is verifying it.
pub fn verifying(provider: Provider) -> Vec<Event> {
    let mut h = awaiting_approval(provider);
    h.push(received(provider, ATTEMPT));
    h
}

/// Approved: GitHub is active, GitLab and Bitbucket await details.
pub fn approved_history(provider: Provider) -> Vec<Event> {
    let mut h = verifying(provider);
    h.push(approved(provider, ATTEMPT));
    h
}

pub fn group() -> GroupSelected {
    GroupSelected {
        group_id: 7,
        full_path: "acme/platform".into(),
    }
}

pub fn workspace() -> WorkspaceSelected {
    WorkspaceSelected {
        workspace: "acme".into(),
        project_key: "INFRA".into(),
    }
}

/// Every seed step done: the account is active on `provider`.
pub fn active(provider: Provider) -> Vec<Event> {
    let mut h = approved_history(provider);
    match provider {
        Provider::GitHub => {}
        Provider::GitLab => h.extend([group().into(), DetailsSaved {}.into()]),
        Provider::Bitbucket => h.extend([workspace().into(), DetailsSaved {}.into()]),
    }
    h
}

/// History with one more event appended.
pub fn and(mut history: Vec<Event>, event: impl Into<Event>) -> Vec<Event> {
    history.push(event.into());
    history
}

// Commands of the seed's link steps.

pub fn start(attempt_id: Uuid, hash: &str) -> AccountCommand {
    AccountCommand::StartLink {
        attempt_id,
        state_hash: hash.into(),
        authorize_url: format!("http://127.0.0.1:1/authorize?state=for-{hash}"),
        expires_at: expiry(),
    }
}

pub fn github_callback(hash: &str) -> AccountCommand {
    AccountCommand::CompleteAuthorization {
        state_hash: hash.into(),
        installation_id: Some(INSTALLATION),
        setup_action: Some("install".into()),
        code_ref: Some(format!("code-{ATTEMPT}")),
        error: None,
    }
}

pub fn oauth_callback(hash: &str) -> AccountCommand {
    AccountCommand::CompleteAuthorization {
        state_hash: hash.into(),
        installation_id: None,
        setup_action: None,
        code_ref: Some(format!("code-{ATTEMPT}")),
        error: None,
    }
}

pub fn callback(provider: Provider, hash: &str) -> AccountCommand {
    match provider {
        Provider::GitHub => github_callback(hash),
        _ => oauth_callback(hash),
    }
}

pub fn approve(provider: Provider) -> AccountCommand {
    AccountCommand::ApproveInstall {
        attempt_id: ATTEMPT,
        grant: grant_for(provider),
    }
}
