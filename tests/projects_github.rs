//! Projects on a GitHub account, end to end against the GitHub sandbox: the repository is
//! created in the organization and lands in the installation (or waits for access to be
//! granted, completed by the webhook or by reconciliation), blueprint repositories are found
//! and imported, a crash between the create call and `RepoCreated` leaves one repository, and
//! renames, deletions and pushes come back through signed webhooks or reconciliation.

mod common_github;
mod common_oauth;
mod common_projects;

use common_github::*;
use common_projects::*;
use forgelink::domain::ProjectStatus;
use forgelink::engine::{HaltPoint, TestHooks};
use std::time::Duration;

fn repos_named(w: &World, name: &str) -> usize {
    repos_named_in(&w.sandbox.repos_of_owner("acme"), name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_on_github_gets_one_repository_in_the_org_and_in_the_installation() {
    let w = world(Some(&["web", "blueprints"]), |_| {}).await;
    let reply = create_project(&w.engine, NAME, "Payments API").await.unwrap();
    let id = reply.project_id.unwrap();
    assert_eq!(reply.events, ["ProjectCreated"]);
    let s = wait_project(&w.engine, id, |s| s.installation_id.is_some()).await;
    assert_eq!(s.status, ProjectStatus::Ready);
    assert_eq!(s.installation_id, Some(w.installation_id));
    assert_eq!(s.repository.as_ref().unwrap().full_name, "acme/payments-api");
    assert_eq!(repos_named(&w, "payments-api"), 1);
    assert!(w
        .sandbox
        .installation_repo_names(w.installation_id)
        .iter()
        .any(|r| r.ends_with("payments-api")));
    let listed = w.engine.projects_of_account(w.account_id).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Payments API");
    assert_eq!(
        project_events(&w.engine, id),
        ["ProjectCreated", "RepoCreated", "RepoAutoAdded"]
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_name_github_cannot_take_is_refused_before_any_call() {
    let w = world(None, |_| {}).await;
    let err = create_project(&w.engine, NAME, "!!!").await.unwrap_err();
    assert_eq!(err.field(), Some("name"));
    assert!(err.to_string().contains("GitHub"), "{err}");
    assert_eq!(w.sandbox.repos_of_owner("acme").len(), 3);
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_by_a_repository_that_is_not_the_projects_fails_naming_the_conflict() {
    let w = world(None, |_| {}).await;
    let id = create_project(&w.engine, NAME, "web")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let s = wait_project(&w.engine, id, |s| s.status == ProjectStatus::Failed).await;
    let reason = s.failure.unwrap_or_default();
    assert!(
        reason.contains("acme/web") && reason.contains("not this project's"),
        "{reason}"
    );
    assert_eq!(repos_named(&w, "web"), 1);
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selected_installation_that_leaves_the_repository_out_waits_for_access_until_the_webhook() {
    let w = world(Some(&["web"]), |_| {}).await;
    w.sandbox.app_does_not_take_in_created_repos(true);
    let id = create_project(&w.engine, NAME, "payments")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let s = wait_project(&w.engine, id, |s| s.status == ProjectStatus::AwaitingAccess).await;
    let next = s.next_action().unwrap_or_default();
    assert!(next.contains("grant the app access to acme/payments"), "{next}");
    assert!(
        next.contains(&format!("installations/{}", w.installation_id)),
        "{next}"
    );
    assert_eq!(s.installation_id, None);

    w.sandbox
        .add_repos_to_installation(w.installation_id, &["payments"])
        .unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    let s = wait_project(&w.engine, id, |s| s.status == ProjectStatus::Ready).await;
    assert_eq!(s.installation_id, Some(w.installation_id));
    assert_eq!(repos_named(&w, "payments"), 1);
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_access_webhook_is_healed_by_reconciliation() {
    let w = world(Some(&["web"]), |_| {}).await;
    w.sandbox.app_does_not_take_in_created_repos(true);
    w.sandbox.drop_webhooks(true);
    let id = create_project(&w.engine, NAME, "payments")
        .await
        .unwrap()
        .project_id
        .unwrap();
    wait_status(&w.engine, id, "awaiting_access").await;
    w.sandbox
        .add_repos_to_installation(w.installation_id, &["payments"])
        .unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    assert!(w.sandbox.webhooks_dropped() >= 1);
    assert_eq!(
        w.engine.project_state(id).unwrap().status,
        ProjectStatus::AwaitingAccess
    );

    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].events.contains(&"RepoAutoAdded".to_string()), "{runs:?}");
    let s = w.engine.project_state(id).unwrap();
    assert_eq!(s.status, ProjectStatus::Ready);
    // A second run finds nothing left to record.
    let again = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(again[0].events.is_empty(), "{again:?}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blueprint_repository_is_found_and_imported_without_creating_one() {
    let w = world(Some(&["web", "blueprints"]), |_| {}).await;
    assert_eq!(
        wait_blueprints(&w.engine, w.account_id, 1).await,
        ["acme/blueprints"]
    );
    let before = w.sandbox.repos_of_owner("acme").len();
    let reply = import_project(&w.engine, NAME, "Platform", "acme/blueprints")
        .await
        .unwrap();
    assert_eq!(reply.events, ["ProjectImported"]);
    let s = w.engine.project_state(reply.project_id.unwrap()).unwrap();
    assert!(s.imported && s.status == ProjectStatus::Ready);
    assert_eq!(w.sandbox.repos_of_owner("acme").len(), before);

    let bound = import_project(&w.engine, NAME, "Again", "acme/blueprints")
        .await
        .unwrap_err();
    assert!(bound.to_string().contains("acme/blueprints"), "{bound}");
    let hidden = import_project(&w.engine, NAME, "Hidden", "acme/secret")
        .await
        .unwrap_err();
    assert_eq!(hidden.field(), Some("repository"));
    assert!(hidden.to_string().contains("acme/secret"), "{hidden}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_create_call_and_repo_created_leaves_exactly_one_repository() {
    let hooks = TestHooks::default();
    hooks.halt_at(HaltPoint::AfterRepositoryCreated);
    let w = world(None, |c| c.hooks = hooks.clone()).await;
    let id = create_project(&w.engine, NAME, "payments")
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
    assert_eq!(hooks.halted(), 1, "the create call ran");
    assert_eq!(repos_named(&w, "payments"), 1);
    assert_eq!(project_events(&w.engine, id), ["ProjectCreated"]);

    let mut config = w.config.clone();
    config.hooks = TestHooks::default();
    w.slot.lock().unwrap().take();
    let engine = common_oauth::restart(w.engine, config).await;
    let s = wait_project(&engine, id, |s| s.installation_id.is_some()).await;
    assert_eq!(s.status, ProjectStatus::Ready);
    assert_eq!(repos_named_in(&w.sandbox.repos_of_owner("acme"), "payments"), 1);
    assert_eq!(
        project_events(&engine, id),
        ["ProjectCreated", "RepoCreated", "RepoAutoAdded"]
    );
    engine.shutdown().await;
}

fn repos_named_in(names: &[String], name: &str) -> usize {
    names
        .iter()
        .filter(|r| r.as_str() == name || r.ends_with(&format!("/{name}")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_renames_and_deletions_on_github_reach_the_project_through_signed_webhooks() {
    let w = world(None, |_| {}).await;
    let id = ready_project(&w).await;
    let commit = w
        .sandbox
        .push("acme/payments", "refs/heads/main", "add vpc", "octocat")
        .unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    let s = wait_project(&w.engine, id, |s| s.last_push.is_some()).await;
    let push = s.last_push.unwrap();
    assert_eq!(
        (push.commit.as_str(), push.git_ref.as_str()),
        (commit.as_str(), "refs/heads/main")
    );

    w.sandbox.rename_repo("acme/payments", "payments-eu").unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    let s = wait_project(&w.engine, id, |s| {
        s.repository
            .as_ref()
            .is_some_and(|r| r.full_name == "acme/payments-eu")
    })
    .await;
    assert_eq!(s.repository.unwrap().full_name, "acme/payments-eu");

    w.sandbox.delete_repo("acme/payments-eu").unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    assert_eq!(
        wait_status(&w.engine, id, "repository_deleted").await,
        "repository_deleted"
    );
    let events = project_events(&w.engine, id);
    assert_eq!(
        events[3..],
        ["RepoPushed", "RepoRenamed", "RepoDeleted"].map(String::from)
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_and_deletions_with_webhooks_dropped_are_found_by_reconciliation() {
    let w = world(None, |_| {}).await;
    let id = ready_project(&w).await;
    w.sandbox.drop_webhooks(true);
    w.sandbox.rename_repo("acme/payments", "payments-eu").unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    assert_eq!(
        w.engine.project_state(id).unwrap().repository.unwrap().full_name,
        "acme/payments"
    );
    let runs = w.engine.reconcile(None).await.unwrap();
    assert!(runs[0].events.contains(&"RepoRenamed".to_string()), "{runs:?}");
    let s = w.engine.project_state(id).unwrap();
    assert_eq!(s.repository.unwrap().full_name, "acme/payments-eu");

    w.sandbox.delete_repo("acme/payments-eu").unwrap();
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].events.contains(&"RepoDeleted".to_string()), "{runs:?}");
    assert_eq!(
        w.engine.project_state(id).unwrap().status,
        ProjectStatus::RepositoryDeleted
    );
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_missed_by_its_webhook_is_found_by_reconciliation() {
    let w = world(None, |_| {}).await;
    w.sandbox.drop_webhooks(true);
    w.sandbox.suspend(w.installation_id).unwrap();
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert_eq!(runs[0].events, ["InstallationSuspended"]);
    assert_eq!(
        w.engine.account_state(w.account_id).unwrap().status().as_str(),
        "suspended"
    );
    w.sandbox.unsuspend(w.installation_id).unwrap();
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert_eq!(runs[0].events[0], "InstallationUnsuspended");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_stops_early_when_github_says_rate_limited() {
    let w = world(None, |_| {}).await;
    w.sandbox.drop_webhooks(true);
    w.sandbox.suspend(w.installation_id).unwrap();
    w.sandbox.faults.rate_limit_next(1, 1);
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].events.is_empty(), "{runs:?}");
    let skipped = runs[0].skipped.clone().unwrap_or_default();
    assert!(skipped.contains("rate limit"), "{skipped}");
    // A run before the wait GitHub asked for has passed sends nothing and is skipped too.
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].events.is_empty(), "{runs:?}");
    // The next run, once the wait has passed, records what the provider says.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert_eq!(runs[0].events, ["InstallationSuspended"]);
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_never_reconciled_twice_at_once() {
    let w = world(None, |_| {}).await;
    w.sandbox.faults.set_delay(Duration::from_millis(300));
    let (a, b) = tokio::join!(
        w.engine.reconcile(Some(w.account_id)),
        w.engine.reconcile(Some(w.account_id))
    );
    let skipped: Vec<_> = [a.unwrap(), b.unwrap()]
        .into_iter()
        .filter_map(|r| r[0].skipped.clone())
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains("already running"), "{skipped:?}");
    w.sandbox.faults.set_delay(Duration::ZERO);
    w.engine.shutdown().await;
}
