//! Deduplication as each provider documents it, over HTTP: GitLab reuses one
//! `X-Gitlab-Event-UUID` for every event a request triggered (recursive webhooks), so different
//! events under one UUID are all kept while a retry of the same one is not; GitLab's
//! `Idempotency-Key` stays the same across retries; GitHub keeps the delivery GUID across
//! redeliveries. An older GitHub push sent again under a new id never becomes the head.

mod http_support;

use forgelink::webhooks::Provider;
use http_support::{Http, PATIENCE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

async fn gitlab(h: &Http, uuid: &str, idempotency: Option<&str>, body: &[u8]) -> Value {
    let token = h.demo.server.state().inner.webhook_secret(Provider::GitLab);
    let mut req = h
        .client
        .post(h.url("/webhooks/gitlab"))
        .header("content-type", "application/json")
        .header("X-Gitlab-Event", "System Hook")
        .header("X-Gitlab-Event-UUID", uuid)
        .header("X-Gitlab-Token", token.expose());
    if let Some(key) = idempotency {
        req = req.header("Idempotency-Key", key);
    }
    let r = req.body(body.to_vec()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_events_sharing_one_uuid_are_all_kept_and_a_retry_of_one_is_not() {
    let h = Http::start().await;
    let push = fixture("gitlab/system_hook_push.json");
    let rename = fixture("gitlab/system_hook_project_rename.json");
    let first = gitlab(&h, "shared-uuid", None, &push).await;
    let second = gitlab(&h, "shared-uuid", None, &rename).await;
    assert_eq!(first["duplicate"], false, "{first}");
    assert_eq!(
        second["duplicate"], false,
        "a different event under a reused UUID: {second}"
    );
    assert_ne!(first["stored"], second["stored"]);
    let retry = gitlab(&h, "shared-uuid", None, &rename).await;
    assert_eq!(retry["duplicate"], true, "the same event sent again: {retry}");
    assert_eq!(retry["stored"], second["stored"]);
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_retries_with_one_idempotency_key_are_stored_once() {
    let h = Http::start().await;
    let push = fixture("gitlab/system_hook_push.json");
    let first = gitlab(&h, "uuid-1", Some("key-1"), &push).await;
    // GitLab's retry keeps the key; the event UUID may differ.
    let retry = gitlab(&h, "uuid-2", Some("key-1"), &push).await;
    assert_eq!(first["duplicate"], false, "{first}");
    assert_eq!(retry["duplicate"], true, "{retry}");
    let other = gitlab(&h, "uuid-1", Some("key-2"), &push).await;
    assert_eq!(
        other["duplicate"], false,
        "another key is another delivery: {other}"
    );
    h.demo.shutdown().await;
}

fn github_push(repo_id: u64, before: &str, after: &str) -> Vec<u8> {
    json!({
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "repository": {"id": repo_id, "full_name": "acme/infra", "name": "infra"},
        "head_commit": {"id": after, "timestamp": "2026-01-01T00:00:00Z", "author": {"username": "octocat"}},
        "pusher": {"name": "octocat"},
        "sender": {"login": "octocat"}
    })
    .to_string()
    .into_bytes()
}

async fn github(h: &Http, id: &str, body: &[u8]) -> Value {
    let r = h
        .client
        .post(h.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", h.demo.github.sign(body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_github_push_sent_again_under_a_new_id_never_becomes_the_head() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    let imported = h
        .ok(json!({"type": "ImportProject", "name": "infra-svc", "account": "acme-infra", "repository": "acme/infra"}))
        .await;
    let project = uuid::Uuid::parse_str(imported["project_id"].as_str().unwrap()).unwrap();
    let engine = h.demo.server.engine().clone();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while engine.project_state(project).unwrap().repository.is_none()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let repo = h.demo.github.repo_id("acme", "infra").unwrap();
    let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
    let old = github_push(repo, &a, &b);
    let new = github_push(repo, &b, &c);
    github(&h, "push-1", &old).await;
    github(&h, "push-2", &new).await;
    // A redelivery keeps GitHub's GUID: a duplicate.
    assert_eq!(github(&h, "push-1", &old).await["duplicate"], true);
    // The old push under a new id: kept out of the head.
    github(&h, "push-1-again", &old).await;
    let state = engine.project_state(project).unwrap();
    assert_eq!(
        state.last_push.as_ref().map(|p| p.commit.as_str()),
        Some(c.as_str()),
        "{state:?}"
    );
    // A push that does not start from the head is recorded, as history.
    let stray = github_push(repo, &a, &"d".repeat(40));
    github(&h, "push-3", &stray).await;
    let state = engine.project_state(project).unwrap();
    assert_eq!(
        state.last_push.as_ref().map(|p| p.commit.as_str()),
        Some(c.as_str())
    );
    assert!(state
        .pushed
        .contains(&("refs/heads/main".to_string(), "d".repeat(40))));
    h.demo.shutdown().await;
}
