//! Projects on a Bitbucket Cloud account against the Bitbucket sandbox: the repository is
//! created in the selected workspace and project key, blueprint repositories are found and
//! imported, and pushes, renames and deletions come back through Bitbucket's webhook payloads
//! or through reconciliation.

mod common_oauth;
mod common_projects;
mod webhook_fixtures;

use common_oauth::*;
use common_projects::*;
use forgelink::domain::ProjectStatus;
use forgelink::engine::{Engine, EngineConfig, Request};
use forgelink::sandbox_settings::ClientConfig;
use forgelink_events::Provider;
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;
use webhook_fixtures::{deliver, json_fixture};

const NAME: &str = "acme-bb";

struct World {
    sandbox: BitbucketSandbox,
    engine: Engine,
    account_id: Uuid,
    _dir: tempfile::TempDir,
}

/// An active account on workspace `acme`, project key `INF`, which holds a blueprint repository.
async fn world() -> World {
    let sandbox = BitbucketSandbox::start(0).await.unwrap();
    sandbox.seed_user("alice");
    sandbox.seed_workspace("acme", &[("INF", "Infrastructure"), ("APP", "Apps")]);
    sandbox
        .seed_repository_with_file("acme", "blueprints", "INF", "blueprint.yaml", "kind: blueprint\n")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config: EngineConfig = fast_config(dir.path());
    config.bitbucket = Some(sandbox.client_config(CALLBACK));
    config.reconcile_every = Duration::ZERO;
    let engine = Engine::open(config).await.unwrap();
    let account_id = name_account(&engine, Provider::Bitbucket, NAME).await;
    let url = start_link(&engine, NAME).await;
    let redirect = sandbox.approve(&url).await.unwrap();
    callback(&engine, &redirect).await.unwrap();
    assert_eq!(
        wait_for_status(&engine, account_id, "awaiting_details").await,
        "awaiting_details"
    );
    let select = Request::SelectWorkspace {
        account: NAME.into(),
        workspace: "acme".into(),
        project_key: "INF".into(),
    };
    send(&engine, select).await.unwrap();
    let saved = send(&engine, Request::SaveDetails { account: NAME.into() })
        .await
        .unwrap();
    assert_eq!(saved.status, "active");
    World {
        sandbox,
        engine,
        account_id,
        _dir: dir,
    }
}

async fn ready_project(w: &World) -> (Uuid, String) {
    let id = create_project(&w.engine, NAME, "Payments")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let s = wait_project(&w.engine, id, |s| s.status == ProjectStatus::Ready).await;
    (id, s.repository.expect("recorded").provider_id)
}

fn payload(fixture: &str, uuid: &str, full_name: &str) -> serde_json::Value {
    let mut v = json_fixture(fixture);
    v["repository"]["uuid"] = json!(uuid);
    v["repository"]["full_name"] = json!(full_name);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_on_bitbucket_gets_one_repository_in_the_workspace_and_project_key() {
    let w = world().await;
    let (id, uuid) = ready_project(&w).await;
    let repos = w.sandbox.repositories("acme");
    let created: Vec<_> = repos.iter().filter(|r| r.slug == "payments").collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].project_key.as_deref(), Some("INF"));
    assert_eq!(created[0].uuid, uuid);
    assert_eq!(project_events(&w.engine, id), ["ProjectCreated", "RepoCreated"]);
    assert_eq!(w.engine.projects_of_account(w.account_id).unwrap().len(), 1);
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_blueprint_repository_is_found_and_imported_without_creating_one() {
    let w = world().await;
    assert_eq!(
        wait_blueprints(&w.engine, w.account_id, 1).await,
        ["acme/blueprints"]
    );
    let before = w.sandbox.repositories("acme").len();
    let reply = import_project(&w.engine, NAME, "Platform", "acme/blueprints")
        .await
        .unwrap();
    assert_eq!(reply.events, ["ProjectImported"]);
    assert_eq!(w.sandbox.repositories("acme").len(), before);
    let twice = import_project(&w.engine, NAME, "Again", "acme/blueprints")
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("already bound"), "{twice}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_repository_name_that_is_taken_fails_naming_the_conflict() {
    let w = world().await;
    let id = create_project(&w.engine, NAME, "blueprints")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let s = wait_project(&w.engine, id, |s| s.status == ProjectStatus::Failed).await;
    let reason = s.failure.unwrap_or_default();
    assert!(reason.contains("acme/blueprints"), "{reason}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitbucket_pushes_renames_and_deletions_reach_the_project_through_webhooks() {
    let w = world().await;
    let (id, uuid) = ready_project(&w).await;
    let push = payload("bitbucket/repo-push.json", &uuid, "acme/payments");
    let body = serde_json::to_vec(&push).unwrap();
    let replies = w
        .engine
        .handle_delivery(deliver(Provider::Bitbucket, "repo:push", &body))
        .await
        .unwrap();
    assert_eq!(replies[0].events, ["RepoPushed"]);
    let commit = push["push"]["changes"][0]["new"]["target"]["hash"]
        .as_str()
        .unwrap();
    assert_eq!(
        w.engine.project_state(id).unwrap().last_push.unwrap().commit,
        commit
    );

    // Bitbucket renames it first: a rename is recorded only when Bitbucket confirms it.
    w.sandbox
        .rename_repository("acme", "payments", "payments-eu")
        .unwrap();
    let mut updated = payload("bitbucket/repo-updated.json", &uuid, "acme/payments-eu");
    updated["changes"] = json!({"full_name": {"old": "acme/payments", "new": "acme/payments-eu"}});
    let body = serde_json::to_vec(&updated).unwrap();
    w.engine
        .handle_delivery(deliver(Provider::Bitbucket, "repo:updated", &body))
        .await
        .unwrap();
    let s = w.engine.project_state(id).unwrap();
    assert_eq!(s.repository.unwrap().full_name, "acme/payments-eu");

    assert!(w.sandbox.delete_repository("acme", "payments-eu"));
    let deleted = json!({"repository": {"uuid": uuid, "full_name": "acme/payments-eu"},
                         "actor": {"nickname": "alice"}});
    let body = serde_json::to_vec(&deleted).unwrap();
    w.engine
        .handle_delivery(deliver(Provider::Bitbucket, "repo:deleted", &body))
        .await
        .unwrap();
    assert_eq!(
        w.engine.project_state(id).unwrap().status,
        ProjectStatus::RepositoryDeleted
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitbucket_renames_and_deletions_without_webhooks_are_found_by_reconciliation() {
    let w = world().await;
    let (id, _) = ready_project(&w).await;
    w.sandbox
        .rename_repository("acme", "payments", "payments-eu")
        .unwrap();
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].events.contains(&"RepoRenamed".to_string()), "{runs:?}");
    assert_eq!(
        w.engine.project_state(id).unwrap().repository.unwrap().full_name,
        "acme/payments-eu"
    );
    assert!(w.sandbox.delete_repository("acme", "payments-eu"));
    let reply = send(
        &w.engine,
        Request::Reconcile {
            account: Some(NAME.into()),
        },
    )
    .await
    .unwrap();
    assert!(reply.events.contains(&"RepoDeleted".to_string()), "{reply:?}");
    assert_eq!(
        w.engine.project_state(id).unwrap().status,
        ProjectStatus::RepositoryDeleted
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_push_without_its_webhook_is_found_by_reconciliation() {
    let w = world().await;
    let (id, _) = ready_project(&w).await;
    // Created empty: no branch, nothing to record.
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].events.is_empty(), "{runs:?}");
    let commit = w.sandbox.push("acme", "payments", "alice").unwrap();
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert_eq!(runs[0].events, ["RepoPushed"], "{runs:?}");
    let push = w.engine.project_state(id).unwrap().last_push.unwrap();
    assert_eq!(
        (push.commit.as_str(), push.git_ref.as_str(), push.author.as_str()),
        (commit.as_str(), "refs/heads/main", "alice")
    );
    let again = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(again[0].events.is_empty(), "{again:?}");
    w.engine.shutdown().await;
}
