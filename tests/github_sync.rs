//! The way back on GitHub, end to end against the GitHub sandbox: a push whose webhook was
//! dropped is found by reconciliation, reconciliation stops early on a nearly spent rate-limit
//! budget, an organization renamed on GitHub renames the account's scope (and the dashboard's)
//! and its repositories, and a revoked user authorization destroys the dead user token (and
//! disconnects a personal-account installation, which needs it).

mod common_github;
mod common_oauth;
mod common_projects;

use common_github::*;
use common_projects::*;
use forgelink::domain::ProjectStatus;
use forgelink_events::Grant;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_webhook_was_dropped_is_found_by_reconciliation() {
    let w = world(None, |_| {}).await;
    let id = ready_project(&w).await;
    // The repository's initial commit predates the project: no push to record.
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(!runs[0].events.contains(&"RepoPushed".to_string()), "{runs:?}");
    w.sandbox.drop_webhooks(true);
    let commit = w
        .sandbox
        .push("acme/payments", "refs/heads/main", "add vpc", "octocat")
        .unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    assert!(w.sandbox.webhooks_dropped() >= 1);
    assert!(w.engine.project_state(id).unwrap().last_push.is_none());

    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert_eq!(runs[0].events, ["RepoPushed"], "{runs:?}");
    let push = w.engine.project_state(id).unwrap().last_push.unwrap();
    assert_eq!(
        (push.commit.as_str(), push.git_ref.as_str(), push.author.as_str()),
        (commit.as_str(), "refs/heads/main", "octocat")
    );
    let again = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(again[0].events.is_empty(), "{again:?}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_stops_early_when_github_says_few_calls_are_left() {
    let w = world(None, |_| {}).await;
    let id = ready_project(&w).await;
    w.sandbox.drop_webhooks(true);
    w.sandbox.rename_repo("acme/payments", "payments-eu").unwrap();
    w.sandbox.faults.report_rate_remaining(Some(5));
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].events.is_empty(), "{runs:?}");
    let skipped = runs[0].skipped.clone().unwrap_or_default();
    assert!(skipped.contains("5 calls left"), "{skipped}");
    assert_eq!(
        w.engine.project_state(id).unwrap().repository.unwrap().full_name,
        "acme/payments"
    );
    // With calls to spare again, the next run goes on and records the rename.
    w.sandbox.faults.report_rate_remaining(None);
    let runs = w.engine.reconcile(Some(w.account_id)).await.unwrap();
    assert!(runs[0].skipped.is_none(), "{runs:?}");
    assert!(runs[0].events.contains(&"RepoRenamed".to_string()), "{runs:?}");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_renamed_on_github_renames_the_accounts_scope_and_its_repositories() {
    let w = world(None, |_| {}).await;
    let id = ready_project(&w).await;
    w.sandbox.rename_org("acme", "acme-corp").unwrap();
    w.sandbox.flush_webhooks(FLUSH).await;
    let login = || match w.engine.account_state(w.account_id).unwrap().grant {
        Some(Grant::GithubInstallation { account_login, .. }) => account_login,
        other => panic!("{other:?}"),
    };
    for _ in 0..200 {
        if login() == "acme-corp" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(login(), "acme-corp");
    let s = wait_project(&w.engine, id, |s| {
        s.repository
            .as_ref()
            .is_some_and(|r| r.full_name == "acme-corp/payments")
    })
    .await;
    assert_eq!(s.repository.unwrap().full_name, "acme-corp/payments");
    let types = common_oauth::types(&w.engine, w.account_id);
    assert_eq!(
        types.iter().filter(|t| *t == "ScopeRenamed").count(),
        1,
        "{types:?}"
    );
    // The audit history says it in words.
    let history = forgelink_projections::account_history(w.engine.log(), w.account_id).unwrap();
    assert!(
        history.iter().any(|h| h.event_type == "ScopeRenamed"
            && h.sentence
                .ends_with("the GitHub organization of acme-gh was renamed from acme to acme-corp")),
        "{:?}",
        history.iter().map(|h| &h.sentence).collect::<Vec<_>>()
    );
    // The dashboard shows the new name.
    let dir = tempfile::tempdir().unwrap();
    let store = forgelink_projections::ProjectionStore::open(dir.path()).unwrap();
    let mut dashboard =
        forgelink_projections::Runner::open(&store, forgelink_projections::Dashboard::new()).unwrap();
    dashboard.catch_up(w.engine.log()).unwrap();
    let row = dashboard.projection().reader().get_by_name(NAME).unwrap();
    assert_eq!(
        row.scope.as_ref().map(ToString::to_string).as_deref(),
        Some("org acme-corp")
    );
    w.engine.shutdown().await;
}

/// The vault reference of the person's user token, kept from the link.
fn user_token_ref(w: &World) -> String {
    let state = w.engine.account_state(w.account_id).unwrap();
    let code_ref = state.attempt.unwrap().authorization.unwrap().code_ref.unwrap();
    format!("{code_ref}/user_token")
}

/// Waits (bounded) until the stored user token is gone; whether it is.
async fn user_token_destroyed(w: &World) -> bool {
    let r = user_token_ref(w);
    for _ in 0..200 {
        if w.engine.vault().get(&r).unwrap().is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_user_authorization_leaves_an_organization_account_active_and_drops_the_dead_token() {
    let w = world(None, |_| {}).await;
    assert!(w.engine.vault().get(&user_token_ref(&w)).unwrap().is_some());
    w.sandbox.revoke_user_authorization();
    w.sandbox.flush_webhooks(FLUSH).await;
    assert!(user_token_destroyed(&w).await);
    let types = common_oauth::types(&w.engine, w.account_id);
    assert!(!types.contains(&"CredentialsRevoked".to_string()), "{types:?}");
    assert_eq!(
        w.engine.account_state(w.account_id).unwrap().status().as_str(),
        "active"
    );
    // The installation's own credentials still create repositories.
    let id = ready_project(&w).await;
    assert_eq!(w.engine.project_state(id).unwrap().status, ProjectStatus::Ready);
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_user_authorization_disconnects_a_personal_account_installation() {
    let w = world_on(forgelink_sandbox::github::SANDBOX_USER, None, |_| {}).await;
    w.sandbox.revoke_user_authorization();
    w.sandbox.flush_webhooks(FLUSH).await;
    assert!(user_token_destroyed(&w).await);
    assert_eq!(
        common_oauth::wait_for_status(&w.engine, w.account_id, "disconnected").await,
        "disconnected"
    );
    let reason = common_oauth::revoked_reason(&w.engine, w.account_id);
    assert!(
        reason.contains("revoked the app's authorization") && reason.contains("link the account again"),
        "{reason}"
    );
    w.engine.shutdown().await;
}
