//! The durable webhook inbox over HTTP: with GitHub answering 500, deliveries that need it are
//! acknowledged and kept, nothing of them recorded; once GitHub is back each is recorded exactly
//! once. One that keeps failing is parked and shown (API, metrics, dashboard, CLI) and a retry
//! after the fault is gone records it. A delivery stored but not processed before the server
//! stopped is processed once after the restart. Content types the providers do not send are
//! refused with nothing stored; GitHub's form-encoded deliveries are accepted.

mod http_support;

use forgelink::inbox::WorkerConfig;
use forgelink::saga::RetryPolicy;
use http_support::{Http, PATIENCE, VIEWER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn workers(max_attempts: u32) -> WorkerConfig {
    WorkerConfig {
        workers: 4,
        max_attempts,
        retry: RetryPolicy {
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            attempt_timeout: Duration::from_secs(2),
            give_up_after: Duration::from_millis(300),
        },
        paused: false,
        settling: Duration::ZERO,
    }
}

/// A project bound to `acme/infra`, which the linked installation covers.
async fn linked_with_project(h: &Http) -> u64 {
    h.link_github("acme-infra").await;
    h.ok(json!({"type": "ImportProject", "name": "infra-svc", "account": "acme-infra", "repository": "acme/infra"}))
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, row) = h.get("/v1/accounts/acme-infra").await;
        if row["projects"] == 1 || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, row) = h.get("/v1/accounts/acme-infra").await;
    row["installation_id"].as_u64().expect("an installation")
}

/// `acme/infra` leaves the installation on GitHub; its webhook is lost (the test sends its own),
/// so GitHub confirms the removal the deliveries report.
fn unseen_removal(h: &Http, installation: u64) {
    h.demo.github.drop_webhooks(true);
    h.demo
        .github
        .remove_repos_from_installation(installation, &["infra"])
        .unwrap();
    h.demo.github.drop_webhooks(false);
}

fn removal(installation: u64, repo_id: u64) -> Vec<u8> {
    json!({
        "action": "removed",
        "installation": {"id": installation, "account": {"login": "acme"}},
        "repository_selection": "selected",
        "repositories_added": [],
        "repositories_removed": [{"id": repo_id, "name": "infra", "full_name": "acme/infra", "private": true}],
        "sender": {"login": "octo-admin"}
    })
    .to_string()
    .into_bytes()
}

async fn deliver(h: &Http, id: &str, body: &[u8]) -> (StatusCode, Value) {
    let r = h
        .client
        .post(h.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("X-GitHub-Event", "installation_repositories")
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", h.demo.github.sign(body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn deliveries(h: &Http, query: &str) -> Value {
    let (status, body) = h.get(&format!("/v1/deliveries{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls the inbox's counts until `check` holds; the last counts seen.
async fn wait_counts(h: &Http, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let counts = deliveries(h, "?limit=1").await["counts"].clone();
        if check(&counts) || tokio::time::Instant::now() >= deadline {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `forgelink ARGS --server URL --token TOKEN`; its standard output.
async fn cli(h: &Http, args: &[&str], token: &str) -> String {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend([
        "--server".into(),
        h.demo.base_url.clone(),
        "--token".into(),
        token.to_string(),
    ]);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_forgelink"))
        .args(&all)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn count_events(h: &Http, event_type: &str) -> usize {
    h.demo
        .server
        .engine()
        .log()
        .read_all(1)
        .filter(|e| e.as_ref().is_ok_and(|e| e.event_type() == event_type))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_that_arrive_while_github_is_down_are_recorded_once_when_it_is_back() {
    let h = Http::start_with(|o| o.inbox = workers(200)).await;
    let installation = linked_with_project(&h).await;
    let repo = h.demo.github.repo_id("acme", "infra").unwrap();
    let body = removal(installation, repo);
    unseen_removal(&h, installation);

    h.demo.github.faults.fail_next(u32::MAX);
    let head = h.head();
    let sends = (0..100).map(|i| {
        let (h, body) = (&h, body.clone());
        async move { deliver(h, &format!("outage-{i}"), &body).await }
    });
    for (status, answer) in futures_util::future::join_all(sends).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["state"], "pending", "{answer}");
    }
    assert_eq!(h.head(), head, "nothing recorded while GitHub is down");
    let counts = deliveries(&h, "?state=pending&provider=github&limit=1000").await;
    assert_eq!(
        counts["count"], 100,
        "every delivery is kept: {}",
        counts["counts"]
    );

    h.demo.github.faults.fail_next(0);
    let counts = wait_counts(&h, |c| c["done"] == 100).await;
    assert_eq!(counts, json!({"pending": 0, "done": 100, "parked": 0}));
    assert_eq!(
        count_events(&h, "RepositoriesChanged"),
        1,
        "the removal is recorded once"
    );
    assert_eq!(
        count_events(&h, "RepoAccessPending"),
        1,
        "the project learns it once"
    );
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_keeps_failing_is_parked_shown_and_recorded_by_a_retry() {
    let h = Http::start_with(|o| o.inbox = workers(3)).await;
    let installation = linked_with_project(&h).await;
    let repo = h.demo.github.repo_id("acme", "infra").unwrap();
    unseen_removal(&h, installation);
    h.demo.github.faults.fail_next(u32::MAX);
    let (status, _) = deliver(&h, "doomed", &removal(installation, repo)).await;
    assert_eq!(status, StatusCode::OK);
    let counts = wait_counts(&h, |c| c["parked"] == 1).await;
    assert_eq!(counts["parked"], 1, "{counts}");

    let parked = deliveries(&h, "?state=parked").await;
    let d = &parked["deliveries"][0];
    assert_eq!(d["delivery_id"], "doomed");
    assert_eq!(d["attempts"], 3);
    assert!(
        d["last_error"].as_str().unwrap().contains("GitHub answered 500"),
        "{d}"
    );
    let metrics = h
        .client
        .get(h.url("/metrics"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("forgelink_webhook_deliveries{state=\"parked\"} 1"),
        "{metrics}"
    );
    let mut visitor = forgelink::api::pages::visitor::Visitor::new(&h.demo.base_url).unwrap();
    visitor.sign_in(&h.demo.login_link()).await.unwrap();
    let page = visitor.get("/").await.unwrap().body;
    assert!(
        page.contains("1 webhook delivery could not be recorded"),
        "{page}"
    );
    assert_eq!(count_events(&h, "RepoAccessPending"), 0);

    // A viewer cannot retry; the admin can, once GitHub is back.
    let id = d["id"].as_u64().unwrap();
    let r = h
        .client
        .post(h.url(&format!("/v1/deliveries/{id}/retry")))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The CLI shows it, and retries it once GitHub is back.
    let listed = cli(&h, &["deliveries", "--state", "parked", "--json"], VIEWER).await;
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["deliveries"][0]["delivery_id"], "doomed", "{listed}");
    let table = cli(&h, &["deliveries", "--state", "parked"], VIEWER).await;
    assert!(
        table.contains("doomed") && table.contains("0 pending, 0 done, 1 parked"),
        "{table}"
    );
    h.demo.github.faults.fail_next(0);
    let retried = cli(&h, &["deliveries", "retry", &id.to_string()], h.admin()).await;
    assert!(retried.contains("1 deliveries back in the queue"), "{retried}");
    let counts = wait_counts(&h, |c| c["done"] == 1).await;
    assert_eq!(counts, json!({"pending": 0, "done": 1, "parked": 0}));
    assert_eq!(count_events(&h, "RepoAccessPending"), 1);
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_types_providers_do_not_send_are_415_and_form_encoded_github_deliveries_are_accepted() {
    let h = Http::start().await;
    let body = br#"{"action":"suspend","installation":{"id":987654321,"account":{"login":"acme"}}}"#;
    let sig = h.demo.github.sign(body);
    let r = h
        .client
        .post(h.url("/webhooks/github"))
        .header("content-type", "text/plain")
        .header("X-GitHub-Event", "installation")
        .header("X-GitHub-Delivery", "plain-1")
        .header("X-Hub-Signature-256", &sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let answer: Value = r.json().await.unwrap();
    assert!(
        answer["error"].as_str().unwrap().contains("text/plain"),
        "{answer}"
    );
    assert!(
        h.demo.server.state().inner.deliveries.is_empty(),
        "nothing stored"
    );

    let form = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(body).collect::<String>()
    );
    let r = h
        .client
        .post(h.url("/webhooks/github"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-GitHub-Event", "installation")
        .header("X-GitHub-Delivery", "form-1")
        .header("X-Hub-Signature-256", h.demo.github.sign(form.as_bytes()))
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["duplicate"], false, "{answer}");
    assert!(h
        .demo
        .server
        .state()
        .inner
        .deliveries
        .seen(forgelink::webhooks::Provider::GitHub, "form-1")
        .unwrap());
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_delivery_that_never_arrived_is_found_and_healed_by_reconciliation() {
    let h = Http::start_with(|o| o.inbox = workers(5)).await;
    h.link_github("acme-infra").await;
    let (_, row) = h.get("/v1/accounts/acme-infra").await;
    let installation = row["installation_id"].as_u64().unwrap();
    // GitHub "sends" the suspension, but it never reaches forgelink: GitHub lists it as failed.
    h.demo.github.drop_webhooks(true);
    h.demo.github.suspend(installation).unwrap();
    h.demo.github.drop_webhooks(false);
    assert!(deliveries(&h, "?limit=1000").await["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["event"] != "installation"));

    let reply = h.ok(json!({"type": "Reconcile"})).await;
    let report = &reply["reconciled"];
    assert_eq!(report["deliveries_healed"], 1, "{reply}");
    assert_eq!(report["accounts"][0]["account"], "acme-infra", "{reply}");
    assert!(report["accounts"][0]["events_recorded"].is_u64(), "{reply}");
    let counts = wait_counts(&h, |c| c["pending"] == 0).await;
    assert_eq!(counts["parked"], 0);
    let healed = deliveries(&h, "?provider=github&limit=1000").await;
    let healed: Vec<&Value> = healed["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["source"] == "redelivery")
        .collect();
    assert_eq!(healed.len(), 1, "{healed:?}");
    assert_eq!(healed[0]["event"], "installation");
    assert_eq!(healed[0]["state"], "done");
    assert_eq!(h.wait_status("acme-infra", "suspended").await, "suspended");
    // The next reconciliation starts after what it saw: nothing more to heal.
    let again = h.ok(json!({"type": "Reconcile"})).await;
    assert_eq!(again["reconciled"]["deliveries_healed"], 0, "{again}");
    h.demo.shutdown().await;
}
