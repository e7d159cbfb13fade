//! Shared by the tests of how forgelink treats the providers as documented (waits, token
//! renewal and revocation, webhooks it registers): the demo's three sandboxes and server, with
//! an account linked over HTTP on each provider and projects created by command.
#![allow(dead_code)]

use crate::http_support::{query_value, Http, PATIENCE};
use forgelink::domain::ProjectState;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// The three providers, as command JSON names them.
pub const PROVIDERS: [&str; 3] = ["github", "gitlab", "bitbucket"];

/// Links an account named `name` on `provider` over HTTP until it is active.
pub async fn link(h: &Http, provider: &str, name: &str) {
    match provider {
        "github" => h.link_github(name).await,
        "gitlab" => {
            let url = h.start_link("gitlab", name).await;
            let redirect = h.demo.gitlab.approve(&url).await.expect("alice approves");
            h.follow_callback(&redirect).await;
            assert_eq!(h.wait_status(name, "awaiting_details").await, "awaiting_details");
            let (_, groups) = h.get(&format!("/v1/accounts/{name}/groups")).await;
            let group = groups["groups"]
                .as_array()
                .and_then(|g| g.iter().find(|g| g["full_path"] == "acme/platform"))
                .expect("the seeded group is offered")["id"]
                .clone();
            h.ok(json!({"type": "SelectGroup", "account": name, "group_id": group}))
                .await;
            let saved = h.ok(json!({"type": "SaveDetails", "account": name})).await;
            assert_eq!(saved["status"], "active");
        }
        "bitbucket" => {
            let url = h.start_link("bitbucket", name).await;
            let redirect = h.demo.bitbucket.approve(&url).await.expect("alice grants access");
            assert_eq!(query_value(&redirect, "state"), query_value(&url, "state"));
            h.follow_callback(&redirect).await;
            assert_eq!(h.wait_status(name, "awaiting_details").await, "awaiting_details");
            h.ok(json!({"type": "SelectWorkspace", "account": name, "workspace": "acme", "project_key": "INFRA"}))
                .await;
            let saved = h.ok(json!({"type": "SaveDetails", "account": name})).await;
            assert_eq!(saved["status"], "active");
        }
        other => panic!("no provider {other}"),
    }
}

/// Creates project `project` on account `account` by command; its id.
pub async fn create_project(h: &Http, account: &str, project: &str) -> Uuid {
    let reply = h
        .ok(json!({"type": "CreateProject", "account": account, "name": project}))
        .await;
    reply["project_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a project id in {reply}"))
}

/// Polls the project until `check` holds (or `within` passes) and returns its state then.
pub async fn wait_project(
    h: &Http,
    id: Uuid,
    within: Duration,
    check: impl Fn(&ProjectState) -> bool,
) -> ProjectState {
    let engine = h.demo.server.engine();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let s = engine.project_state(id).expect("the project's state");
        if check(&s) || tokio::time::Instant::now() >= deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `count` until it reaches `n` (or the patience runs out); the last count.
pub async fn wait_count(mut count: impl FnMut() -> usize, n: usize) -> usize {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let c = count();
        if c >= n || tokio::time::Instant::now() >= deadline {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
