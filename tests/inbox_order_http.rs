//! Deliveries about one subject are applied in the order they arrived, even when the first one
//! has to wait for a retry: with GitHub down, a `suspend` of the installation waits; a later
//! delivery about the same installation (repositories removed) is stored and answered, but not
//! even tried (GitHub is asked nothing for it) until the suspend is finished. Once GitHub is
//! back both are processed, the later one after the earlier.

mod http_support;

use forgelink::inbox::WorkerConfig;
use forgelink::saga::RetryPolicy;
use http_support::{Http, PATIENCE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn workers() -> WorkerConfig {
    WorkerConfig {
        workers: 4,
        max_attempts: 1000,
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

async fn deliver(h: &Http, event: &str, id: &str, body: &Value) -> (StatusCode, Value) {
    let body = body.to_string().into_bytes();
    let r = h
        .client
        .post(h.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", h.demo.github.sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The delivery stored under GitHub delivery id `id`, as `GET /v1/deliveries` shows it.
async fn delivery(h: &Http, id: &str) -> Value {
    let (status, body) = h.get("/v1/deliveries?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["delivery_id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits until the delivery is in `state` (or the patience ends); how it stands then.
async fn wait_state(h: &Http, id: &str, state: &str) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let d = delivery(h, id).await;
        if d["state"] == state || tokio::time::Instant::now() >= deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn events_of(h: &Http, event_type: &str) -> usize {
    h.demo
        .server
        .engine()
        .log()
        .read_all(1)
        .filter(|e| e.as_ref().is_ok_and(|e| e.event_type() == event_type))
        .count()
}

/// Requests to GitHub a repositories change needs (a token for the installation, its list).
fn repository_calls(h: &Http) -> usize {
    h.demo
        .github
        .requests()
        .iter()
        .filter(|r| r.contains("/access_tokens") || r.contains("/installation/repositories"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_delivery_about_the_same_installation_waits_for_the_one_retrying_before_it() {
    let h = Http::start_with(|o| o.inbox = workers()).await;
    h.link_github("acme-infra").await;
    h.ok(json!({"type": "ImportProject", "name": "infra-svc", "account": "acme-infra", "repository": "acme/infra"}))
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while h.get("/v1/accounts/acme-infra").await.1["projects"] != 1 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, row) = h.get("/v1/accounts/acme-infra").await;
    let installation = row["installation_id"].as_u64().expect("an installation");
    let repo = h.demo.github.repo_id("acme", "infra").unwrap();

    // On GitHub: the organization suspended the app and took it back at once, then took
    // `acme/infra` out of the installation. The test sends the webhooks itself.
    h.demo.github.drop_webhooks(true);
    h.demo.github.suspend(installation).unwrap();
    h.demo.github.unsuspend(installation).unwrap();
    h.demo
        .github
        .remove_repos_from_installation(installation, &["infra"])
        .unwrap();
    h.demo.github.drop_webhooks(false);

    h.demo.github.faults.fail_next(u32::MAX);
    let suspend = json!({
        "action": "suspend",
        "installation": {"id": installation, "account": {"login": "acme"}, "suspended_by": {"login": "octo-admin"}},
        "sender": {"login": "octo-admin"}
    });
    let (status, answer) = deliver(&h, "installation", "first-suspend", &suspend).await;
    assert_eq!(
        (status, answer["state"].as_str()),
        (StatusCode::OK, Some("pending")),
        "{answer}"
    );

    let head = h.head();
    let calls = repository_calls(&h);
    let removal = json!({
        "action": "removed",
        "installation": {"id": installation, "account": {"login": "acme"}},
        "repository_selection": "selected",
        "repositories_added": [],
        "repositories_removed": [{"id": repo, "name": "infra", "full_name": "acme/infra", "private": true}],
        "sender": {"login": "octo-admin"}
    });
    let (status, answer) = deliver(&h, "installation_repositories", "then-removal", &removal).await;
    assert_eq!(
        (status, answer["state"].as_str()),
        (StatusCode::OK, Some("pending")),
        "{answer}"
    );
    assert_eq!(
        repository_calls(&h),
        calls,
        "the later delivery is not tried while the earlier one waits"
    );
    let first = delivery(&h, "first-suspend").await;
    assert_eq!(first["state"], "pending", "{first}");
    assert_eq!(delivery(&h, "then-removal").await["attempts"], 0);
    assert_eq!(h.head(), head, "nothing recorded");

    h.demo.github.faults.fail_next(0);
    let second = wait_state(&h, "then-removal", "done").await;
    assert_eq!(second["state"], "done", "{second}");
    let first = delivery(&h, "first-suspend").await;
    assert_eq!(first["state"], "done", "{first}");
    let at = |d: &Value| {
        d["processed_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("a processing time: {d}"))
    };
    assert!(at(&first) <= at(&second), "first {first}, then {second}");
    assert_eq!(second["attempts"], 1, "tried once, when its turn came: {second}");
    // GitHub says the installation is not suspended now: the suspend records nothing; the
    // removal is recorded once.
    assert_eq!(events_of(&h, "InstallationSuspended"), 0);
    assert_eq!(events_of(&h, "RepoAccessPending"), 1);
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "active");
    h.demo.shutdown().await;
}
