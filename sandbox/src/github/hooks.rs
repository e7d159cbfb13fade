//! Webhooks the sandbox sends after a change on "GitHub's side": the payloads in GitHub's
//! documented shapes (compare `tests/fixtures/providers/github/*.json`) and the outbox
//! that delivers them. Delivery is best-effort, like GitHub's: one attempt, no retry, in the
//! background (one queue, so deliveries keep the order of the changes), each with a bounded
//! timeout, so a slow or absent receiver never holds up the change that caused it.

use super::api::installation_json;
use super::repo_api::repo_json;
use super::world::{Installation, Org, Repo, World, SANDBOX_USER, SANDBOX_USER_ID};
use super::Shared;
use crate::signing;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The events the sandbox sends (a redelivery names its event again).
const EVENTS: &[&str] = &[
    "installation",
    "installation_repositories",
    "installation_target",
    "github_app_authorization",
    "repository",
    "push",
    "ping",
];

/// How long one delivery may take (GitHub gives receivers 10 s).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One delivery the sandbox attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentWebhook {
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload's `action`, when it has one.
    pub action: Option<String>,
    /// `X-GitHub-Delivery`.
    pub delivery_id: String,
    /// The receiver's status code; `None` when it did not answer.
    pub status: Option<u16>,
}

struct Delivery {
    url: String,
    event: &'static str,
    action: Option<String>,
    delivery_id: String,
    body: Vec<u8>,
    installation_id: Option<u64>,
    redelivery: bool,
}

/// One delivery attempt as `GET /app/hook/deliveries` lists it (a redelivery is its own
/// attempt with the same `guid`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Attempt {
    pub id: u64,
    pub guid: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<u64>,
    pub delivered_at: chrono::DateTime<chrono::Utc>,
    /// The receiver's status code; 0 when it was not reached.
    pub status_code: u16,
    pub redelivery: bool,
    pub body: Vec<u8>,
}

impl Attempt {
    /// GitHub's `status` words for the attempt.
    pub fn status(&self) -> String {
        match self.status_code {
            0 => "failed to connect".to_string(),
            200..=299 => "OK".to_string(),
            c => format!("Invalid HTTP Response: {c}"),
        }
    }
}

/// The queue of deliveries and what became of them.
pub(crate) struct Outbox {
    url: Mutex<Option<String>>,
    tx: mpsc::UnboundedSender<Delivery>,
    pending: AtomicUsize,
    dropped: AtomicUsize,
    log: Mutex<Vec<SentWebhook>>,
    attempts: Mutex<Vec<Attempt>>,
}

impl Outbox {
    /// The outbox and the task that empties it; the task lives until its handle is aborted.
    pub fn start(secret: String, app_id: u64) -> (Arc<Outbox>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
        let outbox = Arc::new(Outbox {
            url: Mutex::new(None),
            tx,
            pending: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            attempts: Mutex::new(Vec::new()),
        });
        let me = outbox.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(DELIVERY_TIMEOUT)
                .build()
                .ok();
            while let Some(d) = rx.recv().await {
                let status = match &client {
                    Some(c) => post(c, &d.url, d.event, &d.delivery_id, &d.body, &secret, app_id)
                        .await
                        .ok(),
                    None => None,
                };
                me.record(&d, status.unwrap_or(0));
                me.lock_log().push(SentWebhook {
                    event: d.event.to_string(),
                    action: d.action,
                    delivery_id: d.delivery_id,
                    status,
                });
                me.pending.fetch_sub(1, Ordering::SeqCst);
            }
        });
        (outbox, task)
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, Vec<SentWebhook>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where deliveries go now, if anywhere.
    pub(crate) fn url(&self) -> Option<String> {
        self.url.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_url(&self, url: Option<String>) {
        *self.url.lock().unwrap_or_else(|p| p.into_inner()) = url;
    }

    fn record(&self, d: &Delivery, status_code: u16) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let id = attempts.last().map_or(1, |a| a.id + 1);
        attempts.push(Attempt {
            id,
            guid: d.delivery_id.clone(),
            event: d.event.to_string(),
            action: d.action.clone(),
            installation_id: d.installation_id,
            delivered_at: chrono::Utc::now(),
            status_code,
            redelivery: d.redelivery,
            body: d.body.clone(),
        });
    }

    /// Takes back the attempts of a saved world (their ids go on from the last).
    pub(crate) fn restore_attempts(&self, attempts: Vec<Attempt>) {
        *self.attempts.lock().unwrap_or_else(|p| p.into_inner()) = attempts;
    }

    /// Every attempt, oldest first.
    pub(crate) fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends attempt `id`'s delivery again (same `X-GitHub-Delivery`); false when unknown.
    pub(crate) fn redeliver(&self, id: u64) -> bool {
        let Some(a) = self.attempts().into_iter().find(|a| a.id == id) else {
            return false;
        };
        let url = self.url.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let event = EVENTS.iter().copied().find(|e| *e == a.event).unwrap_or("ping");
        let d = Delivery {
            url: url.unwrap_or_default(),
            event,
            action: a.action,
            delivery_id: a.guid,
            body: a.body,
            installation_id: a.installation_id,
            redelivery: true,
        };
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(d).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
        true
    }

    /// Queues `payload` as an `event` delivery. With `drop` on, the delivery fails as one to an
    /// unreachable receiver does (counted, and listed as failed); without a URL it is not made.
    pub fn send(&self, event: &'static str, payload: &Value, drop: bool) {
        let url = self.url.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let delivery = Delivery {
            url: url.clone().unwrap_or_default(),
            event,
            action: payload["action"].as_str().map(str::to_string),
            delivery_id: uuid::Uuid::new_v4().to_string(),
            body: serde_json::to_vec(payload).unwrap_or_default(),
            installation_id: payload["installation"]["id"].as_u64(),
            redelivery: false,
        };
        if drop {
            self.dropped.fetch_add(1, Ordering::SeqCst);
            self.record(&delivery, 0);
            return;
        }
        if url.is_none() {
            return;
        }
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(delivery).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub fn sent(&self) -> Vec<SentWebhook> {
        self.lock_log().clone()
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Waits until every queued delivery was attempted, at most `limit`.
    pub async fn flush(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// One delivery as GitHub makes it: `POST url` with its headers and the signed JSON body.
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    event: &str,
    delivery_id: &str,
    body: &[u8],
    secret: &str,
    app_id: u64,
) -> Result<u16, String> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/sandbox")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery_id)
        .header("x-github-hook-id", "1")
        .header("x-github-hook-installation-target-type", "integration")
        .header("x-github-hook-installation-target-id", app_id.to_string())
        .header(
            "x-hub-signature-256",
            signing::webhook_signature(secret.as_bytes(), body),
        )
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| format!("webhook delivery to {url} failed: {e}"))?;
    Ok(resp.status().as_u16())
}

/// The person who made the change (the sandbox user).
pub(super) fn sender(s: &Shared) -> Value {
    json!({"login": SANDBOX_USER, "id": SANDBOX_USER_ID, "type": "User", "site_admin": false,
           "html_url": format!("{}/{SANDBOX_USER}", s.base())})
}

/// `organization` in repository-scoped payloads; absent for a personal account.
fn organization(s: &Shared, org: &Org) -> Option<Value> {
    (org.kind == "Organization").then(|| {
        json!({"login": org.login, "id": org.id,
               "url": format!("{}/api/v3/orgs/{}", s.base(), org.login)})
    })
}

/// The short `installation` that repository-scoped payloads carry.
fn installation_ref(id: u64) -> Value {
    json!({"id": id, "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{id}")})
}

/// A repository as installation payloads list it.
pub(super) fn short_repo(org_login: &str, r: &Repo) -> Value {
    json!({"id": r.id, "name": r.name, "full_name": format!("{org_login}/{}", r.name), "private": true})
}

/// `installation_repositories` (`added` / `removed`).
pub(super) fn installation_repositories(
    s: &Shared,
    w: &World,
    i: &Installation,
    added: bool,
    repos: &[Repo],
) -> Value {
    let list: Vec<Value> = repos.iter().map(|r| short_repo(&i.org, r)).collect();
    let (a, r) = if added { (list, vec![]) } else { (vec![], list) };
    json!({"action": if added { "added" } else { "removed" },
           "installation": installation_json(s, w, i), "repository_selection": i.selection,
           "repositories_added": a, "repositories_removed": r, "requester": null, "sender": sender(s)})
}

/// `installation` (`suspend`, `unsuspend`, `deleted`); `deleted` lists the repositories.
pub(super) fn installation(s: &Shared, w: &World, i: &Installation, action: &str) -> Value {
    let mut inst = installation_json(s, w, i);
    if i.suspended_at.is_some() {
        inst["suspended_by"] = sender(s);
    }
    let mut body = json!({"action": action, "installation": inst, "sender": sender(s)});
    if action == "deleted" || action == "created" {
        let repos: Vec<Value> = w
            .repos_of(i.id)
            .iter()
            .map(|(r, _)| short_repo(&i.org, r))
            .collect();
        body["repositories"] = Value::Array(repos);
    }
    body
}

/// `installation_target` `renamed`: the account the app is installed on changed its login.
pub(super) fn target_renamed(s: &Shared, org: &Org, old_login: &str, installation_id: u64) -> Value {
    json!({"action": "renamed",
           "account": {"login": org.login, "id": org.id, "type": org.kind,
                       "html_url": format!("{}/{}", s.base(), org.login)},
           "changes": {"login": {"from": old_login}},
           "installation": installation_ref(installation_id),
           "target_type": org.kind, "sender": sender(s)})
}

/// `github_app_authorization` `revoked`: the person revoked the app's user authorization.
pub(super) fn authorization_revoked(s: &Shared) -> Value {
    json!({"action": "revoked", "sender": sender(s)})
}

/// `repository` with `action` (`renamed`, `deleted`, `transferred`) and its `changes`.
pub(super) fn repository(
    s: &Shared,
    org: &Org,
    r: &Repo,
    action: &str,
    changes: Option<Value>,
    installation_id: u64,
) -> Value {
    let mut body = json!({"action": action, "repository": repo_json(s, org, r),
                          "installation": installation_ref(installation_id), "sender": sender(s)});
    if let Some(c) = changes {
        body["changes"] = c;
    }
    if let Some(o) = organization(s, org) {
        body["organization"] = o;
    }
    body
}

/// `push`: one commit on `git_ref`, from `before` to `after`.
#[allow(clippy::too_many_arguments)]
pub(super) fn push(
    s: &Shared,
    org: &Org,
    r: &Repo,
    git_ref: &str,
    (before, after): (&str, &str),
    message: &str,
    author: &str,
    installation_id: u64,
) -> Value {
    let base = s.base();
    let full = format!("{}/{}", org.login, r.name);
    let person =
        json!({"name": author, "email": format!("{author}@users.noreply.sandbox"), "username": author});
    let commit = json!({
        "id": after, "tree_id": super::world::random_sha(), "distinct": true, "message": message,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "url": format!("{base}/{full}/commit/{after}"),
        "author": person, "committer": person, "added": [], "removed": [], "modified": [],
    });
    // In `push` payloads GitHub gives the repository's `created_at`/`pushed_at` as epoch seconds.
    let mut repository = repo_json(s, org, r);
    repository["created_at"] = json!(r.created_at.timestamp());
    repository["pushed_at"] = json!(r.pushed_at.timestamp());
    let zeros = "0".repeat(40);
    let mut body = json!({
        "ref": git_ref, "before": before, "after": after,
        "created": before == zeros, "deleted": false, "forced": false, "base_ref": null,
        "compare": format!("{base}/{full}/compare/{}...{}", &before[..12.min(before.len())], &after[..12]),
        "commits": [commit.clone()], "head_commit": commit, "repository": repository,
        "pusher": {"name": author, "email": format!("{author}@users.noreply.sandbox")},
        "installation": installation_ref(installation_id), "sender": sender(s),
    });
    if let Some(o) = organization(s, org) {
        body["organization"] = o;
    }
    body
}
