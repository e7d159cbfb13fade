//! Helpers for the CLI tests: a data folder with a few accounts in it, and running the built
//! `forgelink` binary against it.
#![allow(dead_code)]

use chrono::{Duration, Utc};
use forgelink_events::*;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use uuid::Uuid;

/// One test at a time opens a data folder or runs the binary. Tests run as threads of one
/// process: a child spawned for one test can briefly share the sled lock file of a log another
/// test has open, and then that test's own next command finds its folder "in use".
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `forgelink --data-dir DIR args...`.
pub fn forgelink(dir: &Path, args: &[&str]) -> Output {
    let _one_at_a_time = serial();
    Command::new(env!("CARGO_BIN_EXE_forgelink"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run forgelink")
}

pub fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "forgelink failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

pub fn open_log(dir: &Path) -> EventLog {
    EventLog::open(dir.join("log"), LogOptions::default()).expect("open log")
}

async fn append(log: &EventLog, id: Uuid, event: impl Into<Event>, actor: &str) {
    log.append(
        &StreamId::account(id),
        ExpectedVersion::Any,
        vec![event.into()],
        Uuid::new_v4(),
        Metadata::new(actor),
    )
    .await
    .expect("append");
}

/// The seed's steps for `provider` up to `steps` of them (6 = all, for GitLab/Bitbucket).
pub async fn account(log: &EventLog, provider: Provider, name: &str, steps: usize) -> Uuid {
    let id = Uuid::new_v4();
    let github = provider == Provider::GitHub;
    let grant = if github {
        Grant::GithubInstallation {
            installation_id: 42,
            account_login: "acme".into(),
            target_type: "Organization".into(),
            repository_selection: "selected".into(),
            repositories: vec![RepoRef {
                id: "1".into(),
                full_name: "acme/infra".into(),
            }],
        }
    } else {
        Grant::Oauth {
            user: "bob".into(),
            user_id: Some("8".into()),
            scopes: vec!["api".into()],
            secret_ref: "vault:1".into(),
            token_expires_at: Utc::now() + Duration::hours(2),
        }
    };
    let mut all: Vec<(Event, &str)> = vec![
        (
            AccountNamed {
                account_id: id,
                provider,
                unique_name: name.into(),
            }
            .into(),
            "alice",
        ),
        (
            LinkStarted {
                attempt_id: Uuid::new_v4(),
                state_hash: "0".repeat(64),
                authorize_url: "http://127.0.0.1:1/authorize".into(),
                expires_at: Utc::now() + Duration::minutes(30),
            }
            .into(),
            "alice",
        ),
        (
            AuthorizationReceived {
                attempt_id: Uuid::new_v4(),
                installation_id: github.then_some(42),
                setup_action: None,
                code_ref: None,
            }
            .into(),
            "alice",
        ),
        (
            InstallApproved {
                attempt_id: Uuid::new_v4(),
                grant,
            }
            .into(),
            "saga",
        ),
    ];
    match provider {
        Provider::GitHub => {}
        Provider::GitLab => all.push((
            GroupSelected {
                group_id: 7,
                full_path: "acme/infra".into(),
            }
            .into(),
            "alice",
        )),
        Provider::Bitbucket => all.push((
            WorkspaceSelected {
                workspace: "acme".into(),
                project_key: "INFRA".into(),
            }
            .into(),
            "alice",
        )),
    }
    all.push((DetailsSaved {}.into(), "alice"));
    for (event, actor) in all.into_iter().take(steps) {
        append(log, id, event, actor).await;
    }
    id
}

/// A data folder with: acme-gh (GitHub, active), acme-gl (GitLab, approved, no group yet),
/// acme-bb (Bitbucket, active).
pub fn sample_data(dir: &Path) {
    let _one_at_a_time = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let log = open_log(dir);
    rt.block_on(async {
        account(&log, Provider::GitHub, "acme-gh", 99).await;
        account(&log, Provider::GitLab, "acme-gl", 4).await;
        account(&log, Provider::Bitbucket, "acme-bb", 99).await;
    });
    log.flush().unwrap();
}

/// Creates a platform project on the account named `name`; returns the log's head before and
/// after.
pub fn add_project(dir: &Path, name: &str) -> (u64, u64) {
    let _one_at_a_time = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let log = open_log(dir);
    let account = log
        .name_owner(name)
        .unwrap()
        .and_then(|s| s.entity_id())
        .expect("the account exists");
    let before = log.head();
    let project = Uuid::new_v4();
    let created = ProjectCreated {
        project_id: project,
        name: format!("{name}-web"),
        account_id: account,
    };
    rt.block_on(log.append(
        &StreamId::project(project),
        ExpectedVersion::Any,
        vec![created.into()],
        Uuid::new_v4(),
        Metadata::new("alice"),
    ))
    .expect("append");
    log.flush().unwrap();
    (before, log.head())
}
