//! `forgelink reconcile [NAME]` against the GitLab sandbox: a project deleted on GitLab while no
//! webhook said so is found by the command line and printed per account; a second run finds no
//! difference; a folder a server holds is refused with a message naming `--server` and the
//! `Reconcile` command; with `--server` the command asks the running server, which records a
//! push whose webhook was lost.

mod common_oauth;
mod common_projects;
mod http_support;

use common_oauth::gitlab::{approved, save_details, select_group, world_with, NAME};
use common_projects::*;
use forgelink::domain::ProjectStatus;
use forgelink::sandbox_settings::ClientConfig;
use forgelink_events::{EventLog, LogOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Runs the built binary off the async workers (the sandbox answers it from this process).
async fn forgelink(dir: &Path, args: &[&str]) -> Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_forgelink"))
            .arg("--data-dir")
            .arg(dir)
            .arg("reconcile")
            .args(args)
            .env_remove("FORGELINK_SERVER")
            .output()
            .expect("run forgelink")
    })
    .await
    .unwrap()
}

/// The settings file `forgelink serve` would read, pointing at the sandbox.
fn config_file(dir: &Path, sandbox: &forgelink_sandbox::gitlab::GitLabSandbox) -> PathBuf {
    let app = sandbox.client_config("http://127.0.0.1:9/callback/gitlab");
    let text = format!(
        "public_url = \"http://127.0.0.1:9\"\nadmin_token = \"0123456789abcdef0123\"\n\
         [gitlab]\nbase_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nwebhook_token = \"hook-token\"\n",
        app.base_url,
        app.client_id,
        app.client_secret.expose()
    );
    let path = dir.join("forgelink.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_on_the_command_line_prints_what_it_found_per_account() {
    let w = world_with(|c| c.reconcile_every = Duration::ZERO).await;
    approved(&w).await;
    let group = w.sandbox.seed_group("acme/infra");
    select_group(&w.engine, group).await.unwrap();
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
    let id = create_project(&w.engine, NAME, "Payments")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let repo = wait_project(&w.engine, id, |s| s.status == ProjectStatus::Ready)
        .await
        .repository
        .expect("the repository is recorded");
    // Deleted on GitLab; no webhook tells us.
    assert!(w.sandbox.delete_project(repo.provider_id.parse().unwrap()));
    let data = w.config.data_dir.clone();
    w.engine.shutdown().await;
    drop(w.engine);
    let config = config_file(w._dir.path(), &w.sandbox);
    let config = config.to_str().unwrap();

    let out = forgelink(&data, &[NAME, "--config", config]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains(NAME) && text.contains("recorded RepoDeleted"),
        "{text}"
    );

    let out = forgelink(&data, &["--config", config, "--json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs[0]["account"], NAME, "{runs}");
    assert_eq!(runs[0]["events"], serde_json::json!([]), "{runs}");

    let log = EventLog::open(data.join("log"), LogOptions::default()).unwrap();
    let deleted = log
        .read_stream(&forgelink_events::StreamId::project(id), 1)
        .unwrap()
        .iter()
        .filter(|e| e.event_type() == "RepoDeleted")
        .count();
    assert_eq!(deleted, 1);

    // The folder is now held (as by a running server).
    let out = forgelink(&data, &[NAME, "--config", config]).await;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("--server") && err.contains("Reconcile"), "{err}");
    drop(log);
}

#[tokio::test]
async fn reconcile_of_a_missing_data_folder_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = forgelink(&dir.path().join("nothing"), &[]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no forgelink data"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_with_server_asks_the_running_server_which_records_a_lost_push() {
    let http = http_support::Http::start().await;
    http.link_github("acme-gh").await;
    let reply = http
        .ok(serde_json::json!({"type": "CreateProject", "name": "payments", "account": "acme-gh"}))
        .await;
    let id = uuid::Uuid::parse_str(reply["project_id"].as_str().unwrap()).unwrap();
    let engine = http.demo.server.engine();
    wait_project(engine, id, |s| s.status == ProjectStatus::Ready).await;
    http.demo.github.drop_webhooks(true);
    let commit = http
        .demo
        .github
        .push("acme/payments", "refs/heads/main", "add vpc", "octocat")
        .unwrap();
    let (server, token) = (http.demo.base_url.clone(), http.admin().to_string());
    let dir = http.dir.path().join("unused");
    let out = forgelink(&dir, &["acme-gh", "--server", &server, "--token", &token]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["status"], "reconciled", "{reply}");
    assert!(
        reply["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "RepoPushed"),
        "{reply}"
    );
    assert_eq!(
        engine.project_state(id).unwrap().last_push.unwrap().commit,
        commit
    );
}
