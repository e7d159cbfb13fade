//! Projects on a GitLab account against the GitLab sandbox: the project is created in the
//! selected group, blueprint projects are found and imported, a crash between the create call
//! and `RepoCreated` leaves one project, and pushes, renames and deletions come back through
//! GitLab's webhook payloads or through reconciliation.

mod common_oauth;
mod common_projects;
mod webhook_fixtures;

use common_oauth::gitlab::{approved, save_details, select_group, world_with, World, NAME};
use common_projects::*;
use forgelink::domain::ProjectStatus;
use forgelink::engine::{HaltPoint, TestHooks};
use forgelink_events::Provider;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;
use webhook_fixtures::{deliver, json_fixture, with};

/// An active GitLab account on group `acme/infra`, which holds a blueprint project.
async fn active_world(tune: impl FnOnce(&mut forgelink::engine::EngineConfig)) -> (World, Uuid) {
    let w = world_with(|c| {
        c.reconcile_every = Duration::ZERO;
        tune(c)
    })
    .await;
    let id = approved(&w).await;
    let group = w.sandbox.seed_group("acme/infra");
    w.sandbox
        .seed_project_with_file("acme/infra", "blueprints", "blueprint.yaml", "kind: blueprint\n")
        .unwrap();
    select_group(&w.engine, group).await.unwrap();
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
    (w, id)
}

fn projects_at(w: &World, full_path: &str) -> usize {
    w.sandbox
        .projects()
        .iter()
        .filter(|p| p.path_with_namespace == full_path)
        .count()
}

async fn ready_project(w: &World) -> (Uuid, u64) {
    let id = create_project(&w.engine, NAME, "Payments")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let s = wait_project(&w.engine, id, |s| s.status == ProjectStatus::Ready).await;
    let repo = s.repository.expect("the repository is recorded");
    (id, repo.provider_id.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_on_gitlab_gets_one_project_in_the_selected_group() {
    let (w, account_id) = active_world(|_| {}).await;
    let (id, gitlab_id) = ready_project(&w).await;
    assert_eq!(projects_at(&w, "acme/infra/payments"), 1);
    let p = w
        .sandbox
        .projects()
        .into_iter()
        .find(|p| p.id == gitlab_id)
        .unwrap();
    assert_eq!(p.namespace.full_path, "acme/infra");
    assert_eq!(project_events(&w.engine, id), ["ProjectCreated", "RepoCreated"]);
    let listed = w.engine.projects_of_account(account_id).unwrap();
    assert_eq!(
        listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Payments"]
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_blueprint_project_is_found_and_imported_without_creating_one() {
    let (w, account_id) = active_world(|_| {}).await;
    assert_eq!(
        wait_blueprints(&w.engine, account_id, 1).await,
        ["acme/infra/blueprints"]
    );
    let before = w.sandbox.projects().len();
    let reply = import_project(&w.engine, NAME, "Platform", "acme/infra/blueprints")
        .await
        .unwrap();
    assert_eq!(reply.events, ["ProjectImported"]);
    assert_eq!(w.sandbox.projects().len(), before);
    let missing = import_project(&w.engine, NAME, "Nope", "acme/infra/nothing-here")
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("acme/infra/nothing-here"),
        "{missing}"
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_gitlab_created_the_project_leaves_exactly_one_after_restart() {
    let hooks = TestHooks::default();
    hooks.halt_at(HaltPoint::AfterRepositoryCreated);
    let (w, _) = active_world(|c| c.hooks = hooks.clone()).await;
    let id = create_project(&w.engine, NAME, "Payments")
        .await
        .unwrap()
        .project_id
        .unwrap();
    for _ in 0..200 {
        if hooks.halted() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hooks.halted(), 1);
    assert_eq!(projects_at(&w, "acme/infra/payments"), 1);
    let mut config = w.config.clone();
    config.hooks = TestHooks::default();
    let engine = common_oauth::restart(w.engine, config).await;
    assert_eq!(wait_status(&engine, id, "ready").await, "ready");
    assert_eq!(
        w.sandbox
            .projects()
            .iter()
            .filter(|p| p.path_with_namespace == "acme/infra/payments")
            .count(),
        1
    );
    assert_eq!(project_events(&engine, id), ["ProjectCreated", "RepoCreated"]);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_pushes_renames_and_deletions_reach_the_project_through_webhooks() {
    let (w, _) = active_world(|_| {}).await;
    let (id, gitlab_id) = ready_project(&w).await;
    let push = with(
        json_fixture("gitlab/project_hook_push.json"),
        &[("project_id", json!(gitlab_id))],
    );
    let replies = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "Push Hook", &push))
        .await
        .unwrap();
    assert_eq!(replies[0].events, ["RepoPushed"]);
    let commit = json_fixture("gitlab/project_hook_push.json")["after"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        w.engine.project_state(id).unwrap().last_push.unwrap().commit,
        commit
    );
    // The same delivery again records nothing.
    let again = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "Push Hook", &push))
        .await
        .unwrap();
    assert!(again.iter().all(|r| r.events.is_empty()), "{again:?}");

    // GitLab renames and then deletes it first: these are recorded only when GitLab confirms.
    w.sandbox.rename_project(gitlab_id, "payments-eu").unwrap();
    let rename = with(
        json_fixture("gitlab/system_hook_project_rename.json"),
        &[
            ("project_id", json!(gitlab_id)),
            ("path_with_namespace", json!("acme/infra/payments-eu")),
        ],
    );
    w.engine
        .handle_delivery(deliver(Provider::GitLab, "System Hook", &rename))
        .await
        .unwrap();
    let s = w.engine.project_state(id).unwrap();
    assert_eq!(s.repository.unwrap().full_name, "acme/infra/payments-eu");

    assert!(w.sandbox.delete_project(gitlab_id));
    let destroy = with(
        json_fixture("gitlab/system_hook_project_destroy.json"),
        &[("project_id", json!(gitlab_id))],
    );
    w.engine
        .handle_delivery(deliver(Provider::GitLab, "System Hook", &destroy))
        .await
        .unwrap();
    assert_eq!(
        w.engine.project_state(id).unwrap().status,
        ProjectStatus::RepositoryDeleted
    );

    // A delivery about a project nobody linked changes nothing.
    let stranger = with(
        json_fixture("gitlab/project_hook_push.json"),
        &[("project_id", json!(999_999))],
    );
    let none = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "Push Hook", &stranger))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_renames_and_deletions_without_webhooks_are_found_by_reconciliation() {
    let (w, account_id) = active_world(|_| {}).await;
    let (id, gitlab_id) = ready_project(&w).await;
    w.sandbox.rename_project(gitlab_id, "payments-eu").unwrap();
    let runs = w.engine.reconcile(Some(account_id)).await.unwrap();
    assert!(runs[0].events.contains(&"RepoRenamed".to_string()), "{runs:?}");
    let s = w.engine.project_state(id).unwrap();
    assert_eq!(s.repository.unwrap().full_name, "acme/infra/payments-eu");
    let again = w.engine.reconcile(Some(account_id)).await.unwrap();
    assert!(again[0].events.is_empty(), "{again:?}");

    assert!(w.sandbox.delete_project(gitlab_id));
    let runs = w.engine.reconcile(Some(account_id)).await.unwrap();
    assert!(runs[0].events.contains(&"RepoDeleted".to_string()), "{runs:?}");
    assert_eq!(
        w.engine.project_state(id).unwrap().status,
        ProjectStatus::RepositoryDeleted
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_push_without_its_webhook_is_found_by_reconciliation() {
    let (w, account_id) = active_world(|_| {}).await;
    let (id, gitlab_id) = ready_project(&w).await;
    let commit = w.sandbox.push(gitlab_id, "Jane Doe").unwrap();
    let runs = w.engine.reconcile(Some(account_id)).await.unwrap();
    assert_eq!(runs[0].events, ["RepoPushed"], "{runs:?}");
    let push = w.engine.project_state(id).unwrap().last_push.unwrap();
    assert_eq!(
        (push.commit.as_str(), push.git_ref.as_str(), push.author.as_str()),
        (commit.as_str(), "refs/heads/main", "Jane Doe")
    );
    let again = w.engine.reconcile(Some(account_id)).await.unwrap();
    assert!(again[0].events.is_empty(), "{again:?}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_stops_early_when_gitlab_says_few_calls_are_left() {
    let (w, account_id) = active_world(|_| {}).await;
    let (_, first) = ready_project(&w).await;
    let second = create_project(&w.engine, NAME, "Billing")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let second = wait_project(&w.engine, second, |s| s.status == ProjectStatus::Ready)
        .await
        .repository
        .unwrap()
        .provider_id
        .parse::<u64>()
        .unwrap();
    w.sandbox.rename_project(first, "payments-eu").unwrap();
    w.sandbox.rename_project(second, "billing-eu").unwrap();
    w.sandbox.faults.report_rate_remaining(Some(3));
    let runs = w.engine.reconcile(Some(account_id)).await.unwrap();
    let skipped = runs[0].skipped.clone().unwrap_or_default();
    assert!(skipped.contains("GitLab has 3 calls left"), "{runs:?}");
    // The first project's answer said the budget is nearly spent: the second waits.
    let renamed = |events: &[String]| events.iter().filter(|e| *e == "RepoRenamed").count();
    assert!(renamed(&runs[0].events) < 2, "{runs:?}");
    w.sandbox.faults.report_rate_remaining(None);
    let rest = w.engine.reconcile(Some(account_id)).await.unwrap();
    assert!(rest[0].skipped.is_none(), "{rest:?}");
    assert_eq!(renamed(&runs[0].events) + renamed(&rest[0].events), 2, "{rest:?}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_group_rename_renames_the_accounts_scope_and_its_projects() {
    let (w, account_id) = active_world(|_| {}).await;
    let (id, _) = ready_project(&w).await;
    let group_id = w
        .engine
        .account_state(account_id)
        .unwrap()
        .group
        .unwrap()
        .group_id;
    let rename = with(
        json_fixture("gitlab/system_hook_group_rename.json"),
        &[
            ("group_id", json!(group_id)),
            ("old_full_path", json!("acme/infra")),
            ("full_path", json!("acme/platform")),
        ],
    );
    let replies = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "System Hook", &rename))
        .await
        .unwrap();
    let events: Vec<&str> = replies
        .iter()
        .flat_map(|r| r.events.iter().map(String::as_str))
        .collect();
    assert_eq!(events, ["ScopeRenamed", "RepoRenamed"], "{replies:?}");
    let group = w.engine.account_state(account_id).unwrap().group.unwrap();
    assert_eq!(
        (group.group_id, group.full_path.as_str()),
        (group_id, "acme/platform")
    );
    assert_eq!(
        w.engine.project_state(id).unwrap().repository.unwrap().full_name,
        "acme/platform/payments"
    );
    // The same delivery again records nothing; another group's rename touches nothing.
    let again = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "System Hook", &rename))
        .await
        .unwrap();
    assert!(again.iter().all(|r| r.events.is_empty()), "{again:?}");
    let other = with(
        json_fixture("gitlab/system_hook_group_rename.json"),
        &[("group_id", json!(group_id + 999))],
    );
    let none = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "System Hook", &other))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    w.engine.shutdown().await;
}
