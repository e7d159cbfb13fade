//! GitLab events as GitLab sends them, recorded on the project end to end: a group webhook's
//! project events (`X-Gitlab-Event: Project Hook`, documented on GitLab's "Webhook events"
//! page for group webhooks) and a system hook's `repository_update` (what a system hook sends
//! for a push when push events are not switched on, "System hooks" page). The payloads are the
//! documented examples in `tests/fixtures/providers/gitlab/`, pointed at the project's ids.

mod common_oauth;
mod common_projects;
mod webhook_fixtures;

use common_oauth::gitlab::{active, world_with, World, NAME};
use common_projects::*;
use forgelink::domain::ProjectStatus;
use forgelink_events::Provider;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;
use webhook_fixtures::{deliver, json_fixture, with};

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

async fn gitlab_world() -> World {
    let w = world_with(|c| c.reconcile_every = Duration::ZERO).await;
    active(&w).await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_hooks_repository_update_records_the_push_on_the_project() {
    let w = gitlab_world().await;
    let (id, gitlab_id) = ready_project(&w).await;
    let commit = w.sandbox.push(gitlab_id, "alice").unwrap();
    let mut update = json_fixture("gitlab/system_hook_repository_update.json");
    update["project_id"] = json!(gitlab_id);
    update["project"]["path_with_namespace"] = json!("acme/infra/payments");
    update["changes"][0]["after"] = json!(commit);
    update["changes"][0]["ref"] = json!("refs/heads/main");
    let body = serde_json::to_vec(&update).unwrap();
    let replies = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "System Hook", &body))
        .await
        .unwrap();
    assert_eq!(replies[0].events, ["RepoPushed"], "{replies:?}");
    let push = w.engine.project_state(id).unwrap().last_push.expect("a push");
    assert_eq!(push.commit, commit);
    assert_eq!(push.author, "John Smith", "the pusher, as the payload names them");
    w.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_webhooks_project_destroy_event_records_the_deletion() {
    let w = gitlab_world().await;
    let (id, gitlab_id) = ready_project(&w).await;
    // Someone else's new project in the group needs nothing.
    let created = with(
        json_fixture("gitlab/group_hook_project_create.json"),
        &[("project_id", json!(gitlab_id + 1000))],
    );
    let none = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "Project Hook", &created))
        .await
        .unwrap();
    assert!(none.iter().all(|r| r.events.is_empty()), "{none:?}");
    assert!(w.sandbox.delete_project(gitlab_id), "deleted on GitLab first");
    let destroy = with(
        json_fixture("gitlab/group_hook_project_destroy.json"),
        &[
            ("project_id", json!(gitlab_id)),
            ("path_with_namespace", json!("acme/infra/payments")),
        ],
    );
    let replies = w
        .engine
        .handle_delivery(deliver(Provider::GitLab, "Project Hook", &destroy))
        .await
        .unwrap();
    assert_eq!(replies[0].events, ["RepoDeleted"], "{replies:?}");
    assert_eq!(
        w.engine.project_state(id).unwrap().status,
        ProjectStatus::RepositoryDeleted
    );
    w.engine.shutdown().await;
}
