//! Tokens of finished links are revoked at the provider where it documents a way, then
//! destroyed in the vault, end to end over HTTP against the sandboxes (which count the
//! revocations): GitLab's access and refresh tokens on unlink (`POST /oauth/revoke`), and a
//! GitHub user token when the link fails (`DELETE /applications/{client_id}/token`).

mod http_support;
mod provider_support;

use forgelink::domain::ProjectStatus;
use http_support::Http;
use provider_support::{create_project, link, wait_count, wait_project};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_a_gitlab_account_removes_its_webhooks_then_revokes_its_tokens_at_gitlab() {
    let h = Http::start().await;
    link(&h, "gitlab", "leaving").await;
    let id = create_project(&h, "leaving", "Payments").await;
    let s = wait_project(&h, id, Duration::from_secs(20), |s| {
        s.status == ProjectStatus::Ready
    })
    .await;
    let gitlab_id: u64 = s.repository.expect("a repository").provider_id.parse().unwrap();
    assert_eq!(wait_count(|| h.demo.gitlab.hooks(gitlab_id).len(), 1).await, 1);
    assert_eq!(h.demo.gitlab.revocations(), 0);
    let reply = h.ok(json!({"type": "UnlinkAccount", "account": "leaving"})).await;
    assert_eq!(
        reply["status"], "unlinked",
        "the unlink never waits for the provider"
    );
    assert_eq!(
        wait_count(|| h.demo.gitlab.revocations(), 2).await,
        2,
        "the refresh and the access token are revoked"
    );
    assert_eq!(h.demo.gitlab.live_tokens(), 0, "GitLab no longer accepts either");
    assert!(
        h.demo.gitlab.hooks(gitlab_id).is_empty(),
        "the project's webhook is gone"
    );
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_github_link_revokes_the_user_token_it_obtained() {
    let h = Http::start().await;
    h.demo.github.forge_installation_id(true);
    let url = h.start_link("github", "forged").await;
    let state = http_support::query_value(&url, "state");
    let redirect = h
        .demo
        .github
        .approve(&state, "acme", &["infra"])
        .await
        .expect("the sandbox installs the app");
    h.follow_callback(&redirect).await;
    assert_eq!(h.wait_status("forged", "failed").await, "failed");
    assert_eq!(
        wait_count(|| h.demo.github.revoked_user_tokens(), 1).await,
        1,
        "the user token from the code exchange is revoked"
    );
    h.demo.shutdown().await;
}
