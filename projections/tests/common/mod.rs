//! Test helpers: a real event log in a temp folder, and the seed's flow for each provider as
//! hand-written events.
#![allow(dead_code)]

use chrono::{Duration, Utc};
use forgelink_events::*;
use std::path::Path;
use uuid::Uuid;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn open_log(dir: &Path) -> EventLog {
    let opts = LogOptions {
        durability: Durability::Async,
        ..LogOptions::default()
    };
    EventLog::open(dir.join("log"), opts).expect("open log")
}

/// Appends one event to a stream, whatever its version, as `actor`.
pub async fn append(log: &EventLog, stream: &StreamId, event: impl Into<Event>, actor: &str) -> u64 {
    log.append(
        stream,
        ExpectedVersion::Any,
        vec![event.into()],
        Uuid::new_v4(),
        Metadata::new(actor),
    )
    .await
    .expect("append")
    .last_position
}

pub fn repo(n: u32) -> RepoRef {
    RepoRef {
        id: format!("r{n}"),
        full_name: format!("acme/repo-{n}"),
    }
}

pub fn named(id: Uuid, provider: Provider, name: &str) -> Event {
    AccountNamed {
        account_id: id,
        provider,
        unique_name: name.into(),
    }
    .into()
}

pub fn link_started() -> Event {
    LinkStarted {
        attempt_id: Uuid::new_v4(),
        state_hash: "0".repeat(64),
        authorize_url: "http://127.0.0.1:1/authorize".into(),
        expires_at: Utc::now() + Duration::minutes(30),
    }
    .into()
}

pub fn authorization_received(provider: Provider) -> Event {
    let github = provider == Provider::GitHub;
    AuthorizationReceived {
        attempt_id: Uuid::new_v4(),
        installation_id: github.then_some(42),
        setup_action: github.then(|| "install".into()),
        code_ref: Some("vault:code-1".into()),
    }
    .into()
}

/// A new GitHub installation id each call: the log lets one live account hold an installation.
fn next_installation_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(42);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub fn approved(provider: Provider) -> Event {
    let grant = match provider {
        Provider::GitHub => Grant::GithubInstallation {
            installation_id: next_installation_id(),
            account_login: "acme".into(),
            target_type: "Organization".into(),
            repository_selection: "selected".into(),
            repositories: vec![repo(1), repo(2)],
        },
        _ => Grant::Oauth {
            user: "bob".into(),
            user_id: Some("8".into()),
            scopes: vec!["api".into()],
            secret_ref: "vault:secret-1".into(),
            token_expires_at: Utc::now() + Duration::hours(2),
        },
    };
    InstallApproved {
        attempt_id: Uuid::new_v4(),
        grant,
    }
    .into()
}

pub fn group_selected() -> Event {
    GroupSelected {
        group_id: 7,
        full_path: "acme/infra".into(),
    }
    .into()
}

pub fn workspace_selected() -> Event {
    WorkspaceSelected {
        workspace: "acme".into(),
        project_key: "INFRA".into(),
    }
    .into()
}

/// The seed's steps for a provider, each with the actor who takes it, up to and including
/// `DetailsSaved`.
pub fn seed_flow(id: Uuid, provider: Provider, name: &str) -> Vec<(Event, &'static str)> {
    let mut steps = vec![
        (named(id, provider, name), "alice"),
        (link_started(), "alice"),
        (authorization_received(provider), "alice"),
        (approved(provider), "saga"),
    ];
    match provider {
        Provider::GitHub => {}
        Provider::GitLab => steps.push((group_selected(), "alice")),
        Provider::Bitbucket => steps.push((workspace_selected(), "alice")),
    }
    steps.push((DetailsSaved {}.into(), "alice"));
    steps
}

/// Appends `steps` to the account's stream one append at a time.
pub async fn append_steps(log: &EventLog, id: Uuid, steps: Vec<(Event, &str)>) -> Vec<u64> {
    let stream = StreamId::account(id);
    let mut positions = Vec::new();
    for (event, actor) in steps {
        positions.push(append(log, &stream, event, actor).await);
    }
    positions
}

/// Creates a project on `account`; returns the project's id.
pub async fn create_project(log: &EventLog, account: Uuid, name: &str) -> Uuid {
    let project = Uuid::new_v4();
    let ev = ProjectCreated {
        project_id: project,
        name: name.into(),
        account_id: account,
    };
    append(log, &StreamId::project(project), ev, "alice").await;
    project
}
