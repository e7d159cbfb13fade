//! GitHub installation requests end to end over HTTP, against the demo's sandbox: a member of
//! `initech` (who may not install apps there) links an account, GitHub sends them back with
//! `setup_action=request` and no installation; the account waits for an owner; the owner
//! approves on GitHub, whose `installation` `created` webhook names the requester, and the
//! account becomes active on the new installation. A webhook naming someone else's request
//! completes nothing.

mod http_support;

use forgelink::api::demo::seed;
use forgelink_events::StreamId;
use http_support::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Polls the account until `check` holds (or the patience runs out); the last body seen.
async fn wait_account(h: &Http, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, body) = h.get(&format!("/v1/accounts/{name}")).await;
        if check(&body) || tokio::time::Instant::now() >= deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The member asks for the install on `initech`; the account waits for an owner, with the
/// request identified on GitHub.
async fn request(h: &Http, name: &str) {
    let url = h.start_link("github", name).await;
    let state = query_value(&url, "state");
    let redirect = h
        .demo
        .github
        .approve(&state, seed::GITHUB_MEMBER_ORG, seed::GITHUB_MEMBER_REPOS)
        .await
        .expect("the sandbox takes the request");
    assert_eq!(query_value(&redirect, "setup_action"), "request");
    assert!(!redirect.contains("installation_id"), "{redirect}");
    assert_eq!(h.follow_callback(&redirect).await, format!("/accounts/{name}"));
    assert_eq!(
        h.wait_status(name, "awaiting_owner_approval").await,
        "awaiting_owner_approval"
    );
    let body = wait_account(h, name, |b| b["scope"]["login"] == seed::GITHUB_MEMBER_ORG).await;
    assert_eq!(
        body["scope"]["login"],
        seed::GITHUB_MEMBER_ORG,
        "the request was identified: {body}"
    );
    assert_eq!(body["next_action"], "owner_approves_request", "{body}");
    assert!(
        body["next_action_text"]
            .as_str()
            .unwrap_or_default()
            .contains("owner"),
        "{body}"
    );
}

#[tokio::test]
async fn a_members_request_completes_when_an_owner_approves_it_on_github() {
    let h = Http::start().await;
    request(&h, "initech-github").await;
    assert_eq!(
        h.demo.github.install_requests(),
        [(seed::GITHUB_MEMBER_ORG.to_string(), "octo-person".to_string())]
    );
    let installation = h
        .demo
        .github
        .approve_install_request(seed::GITHUB_MEMBER_ORG)
        .expect("the owner approves");
    assert_eq!(h.wait_status("initech-github", "active").await, "active");
    let (_, body) = h.get("/v1/accounts/initech-github").await;
    assert_eq!(body["installation_id"], json!(installation), "{body}");
    let repos: Vec<&str> = body["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .filter_map(|r| r["full_name"].as_str())
        .collect();
    assert_eq!(repos, ["initech/platform"], "{body}");
    let engine = h.demo.server.engine();
    let id = engine.resolve_account("initech-github").expect("the account");
    let history = engine
        .log()
        .read_stream(&StreamId::account(id), 1)
        .expect("its stream");
    let types: Vec<&str> = history.iter().map(|e| e.event.event_type()).collect();
    assert_eq!(
        types,
        [
            "AccountNamed",
            "LinkStarted",
            "InstallRequested",
            "InstallRequestIdentified",
            "AuthorizationReceived",
            "InstallApproved"
        ],
        "{types:?}"
    );
    // The same approval delivered again records nothing new.
    let head = h.head();
    let sent = h.demo.github.webhooks_sent();
    assert!(sent
        .iter()
        .any(|w| w.event == "installation" && w.action.as_deref() == Some("created")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.head(), head, "nothing more after the link completed");
}

#[tokio::test]
async fn an_installation_created_for_someone_elses_request_completes_nothing() {
    let h = Http::start().await;
    request(&h, "initech-github").await;
    // A signed `installation` `created` naming another requester on the same organization.
    let body = json!({
        "action": "created",
        "installation": {"id": 41_999_999u64, "account": {"login": seed::GITHUB_MEMBER_ORG, "id": 1, "type": "Organization"},
                          "repository_selection": "all", "app_id": 1, "target_type": "Organization",
                          "permissions": {}, "events": []},
        "repositories": [],
        "requester": {"login": "somebody-else", "id": 9},
        "sender": {"login": "octo-owner", "id": 8}
    })
    .to_string();
    let r = h
        .client
        .post(h.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "installation")
        .header("x-github-delivery", "7f1c0b2e-0000-4000-8000-000000000001")
        .header("x-hub-signature-256", h.demo.github.sign(body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("the server answers");
    assert!(r.status().is_success(), "{}", r.status());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, account) = h.get("/v1/accounts/initech-github").await;
    assert_eq!(account["status"], "awaiting_owner_approval", "{account}");
    assert_eq!(account["installation_id"], Value::Null, "{account}");
}
