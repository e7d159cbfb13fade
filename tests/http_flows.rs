//! Each provider's link flow end to end over HTTP: command messages to `/v1/commands`, the
//! person's approval on the sandbox, the sandbox's redirect followed to our callback (303 to
//! the account's page), the pickers, and the dashboard queries showing the account active.

mod http_support;

use http_support::{query_value, Http};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_account_is_linked_over_http_and_the_dashboard_shows_it() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    let (status, row) = h.get("/v1/accounts/ACME-INFRA").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["status"], "active");
    assert_eq!(row["repositories"].as_array().map(Vec::len), Some(2), "{row}");
    let (_, list) = h.get("/v1/accounts?provider=github&status=active").await;
    assert_eq!(list["count"], 1);
    let (_, none) = h.get("/v1/accounts?provider=gitlab").await;
    assert_eq!(none["count"], 0);
    let id = row["id"].as_str().unwrap();
    let (_, history) = h.get(&format!("/v1/accounts/{id}/history")).await;
    let types: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        &types[..3],
        ["AccountNamed", "LinkStarted", "AuthorizationReceived"]
    );
    assert!(types.contains(&"InstallApproved"), "{types:?}");
    // The saga's GitHub calls are timed into /metrics.
    let metrics = h
        .client
        .get(h.url("/metrics"))
        .bearer_auth(http_support::VIEWER)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let github_calls = metrics
        .lines()
        .find_map(|l| l.strip_prefix("forgelink_provider_call_seconds_count{provider=\"GitHub\"} "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        github_calls >= 4,
        "exchange, installations, installation, token, repositories: {metrics}"
    );
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_account_is_linked_over_http_with_a_group_from_the_picker() {
    let h = Http::start().await;
    let url = h.start_link("gitlab", "acme-gitlab").await;
    let redirect = h.demo.gitlab.approve(&url).await.expect("alice approves");
    assert_eq!(h.follow_callback(&redirect).await, "/accounts/acme-gitlab");
    assert_eq!(
        h.wait_status("acme-gitlab", "awaiting_details").await,
        "awaiting_details"
    );
    let (status, groups) = h.get("/v1/accounts/acme-gitlab/groups").await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    let platform = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["full_path"] == "acme/platform")
        .expect("the seeded group is offered")
        .clone();
    h.ok(json!({"type": "SelectGroup", "account": "acme-gitlab", "group_id": platform["id"]}))
        .await;
    let saved = h
        .ok(json!({"type": "SaveDetails", "account": "acme-gitlab"}))
        .await;
    assert_eq!(saved["status"], "active");
    // The answer waited for the dashboard: the very next read shows it.
    let (_, row) = h.get("/v1/accounts/acme-gitlab").await;
    assert_eq!(row["status"], "active");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_account_is_linked_over_http_with_a_workspace_and_project() {
    let h = Http::start().await;
    let url = h.start_link("bitbucket", "acme-bb").await;
    let redirect = h.demo.bitbucket.approve(&url).await.expect("alice grants access");
    assert_eq!(query_value(&redirect, "state"), query_value(&url, "state"));
    assert_eq!(h.follow_callback(&redirect).await, "/accounts/acme-bb");
    assert_eq!(
        h.wait_status("acme-bb", "awaiting_details").await,
        "awaiting_details"
    );
    let (status, ws) = h.get("/v1/accounts/acme-bb/workspaces").await;
    assert_eq!(status, StatusCode::OK, "{ws}");
    let acme = ws["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["slug"] == "acme")
        .expect("the seeded workspace is offered")
        .clone();
    assert!(acme["projects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["key"] == "INFRA"));
    h.ok(
        json!({"type": "SelectWorkspace", "account": "acme-bb", "workspace": "acme", "project_key": "INFRA"}),
    )
    .await;
    let saved = h.ok(json!({"type": "SaveDetails", "account": "acme-bb"})).await;
    assert_eq!(saved["status"], "active");
    let (_, row) = h.get("/v1/accounts/acme-bb").await;
    assert_eq!(row["status"], "active");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_paged_and_streamed_to_live_dashboards() {
    let h = Http::start().await;
    // Subscribe first, then write: the stream brings what commits afterwards.
    let mut stream = h
        .client
        .get(h.url("/v1/events/stream"))
        .bearer_auth(http_support::VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "one"}))
        .await;
    h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "two"}))
        .await;
    h.ok(json!({"type": "NameAccount", "provider": "bitbucket", "unique_name": "three"}))
        .await;

    let mut seen = String::new();
    let got_all = tokio::time::timeout(http_support::PATIENCE, async {
        while !seen.contains("\"three\"") {
            match stream.chunk().await {
                Ok(Some(bytes)) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                _ => break,
            }
        }
    })
    .await;
    assert!(
        got_all.is_ok() && seen.contains("\"one\"") && seen.contains("\"two\""),
        "{seen}"
    );
    assert!(
        seen.contains("event: envelope") && seen.contains("id: 1"),
        "{seen}"
    );

    let (status, page) = h.get("/v1/events?from=2&limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(page["events"][0]["position"], 2);
    assert_eq!(page["next"], 3);
    assert_eq!(page["head"], 3);
    let (_, rest) = h.get("/v1/events?from=3").await;
    assert_eq!(rest["events"][0]["data"]["unique_name"], "three", "{rest}");
    h.demo.shutdown().await;
}
