//! One GitHub installation links one account, under races, over HTTP: twenty people approve the
//! app on the same organization at the same moment; exactly one account ends active and the
//! nineteen others are told which account holds the installation and what to do. A person about
//! to install on an organization that is already linked is warned before leaving for GitHub.

mod http_support;

use http_support::{query_value, Http, PATIENCE};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const ACCOUNTS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_simultaneous_approvals_of_one_installation_leave_exactly_one_account_active() {
    let h = Http::start().await;
    let mut redirects = Vec::new();
    for i in 0..ACCOUNTS {
        let url = h.start_link("github", &format!("acme-{i}")).await;
        let state = query_value(&url, "state");
        // The same person on the same organization: GitHub answers with the one installation.
        let redirect = h
            .demo
            .github
            .approve(&state, "acme", &["infra"])
            .await
            .expect("the sandbox installs the app");
        redirects.push(redirect);
    }
    let installations: std::collections::HashSet<String> = redirects
        .iter()
        .map(|r| query_value(r, "installation_id"))
        .collect();
    assert_eq!(installations.len(), 1, "one installation for all twenty");
    let installation = installations.into_iter().next().unwrap();

    let callbacks = redirects.iter().map(|r| {
        let client = h.client.clone();
        // The browser that opened the links' continuation URLs: its link cookie comes along.
        let cookie = h.link_cookie.lock().unwrap().clone().unwrap_or_default();
        async move {
            let r = client
                .get(r)
                .header("cookie", cookie)
                .send()
                .await
                .expect("the callback answers");
            (r.status(), r.text().await.unwrap_or_default())
        }
    });
    let answers = futures_util::future::join_all(callbacks).await;

    let reason = format!("installation {installation} on acme is already linked as `acme-");
    let mut active = 0;
    let mut told = 0;
    for (i, (status, page)) in answers.iter().enumerate() {
        let name = format!("acme-{i}");
        if *status != StatusCode::SEE_OTHER {
            // Refused at the door: the page says why.
            assert!(page.contains(&reason), "{name}: {status} {page}");
            told += 1;
            continue;
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let row = loop {
            let (_, row) = h.get(&format!("/v1/accounts/{name}")).await;
            let settled = row["status"] != "awaiting_approval";
            if settled || tokio::time::Instant::now() >= deadline {
                break row;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        match row["status"].as_str() {
            Some("active") => active += 1,
            Some("failed") => {
                let error = row["last_error"].as_str().unwrap_or_default();
                assert!(error.starts_with(&reason), "{name}: {row}");
                assert!(error.contains("unlink `acme-"), "a next action: {error}");
                told += 1;
            }
            other => panic!("{name} ended {other:?}: {row}"),
        }
    }
    assert_eq!(active, 1, "exactly one account holds the installation");
    assert_eq!(told, ACCOUNTS - 1, "every other account is told why");
    let (_, accounts) = h.get("/v1/accounts?limit=100").await;
    let rows = accounts["accounts"].as_array().cloned().unwrap_or_default();
    let with_installation = rows
        .iter()
        .filter(|r| {
            r["status"] == "active"
                && r["installation_id"].as_u64().map(|i| i.to_string()).as_ref() == Some(&installation)
        })
        .count();
    assert_eq!(with_installation, 1, "{accounts}");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_github_link_warns_about_organizations_already_linked() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "acme-two"}))
        .await;
    let started = h.ok(json!({"type": "StartLink", "account": "acme-two"})).await;
    let warnings = started["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{started}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains("already installed on acme, linked as `acme-infra`")
            && w.contains("shows that installation's settings instead of a new install"),
        "{w}"
    );
    h.demo.shutdown().await;
}
