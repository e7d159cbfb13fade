//! The soak's provider-outage phase: GitHub answers 500 to everything while signed
//! `installation_target` deliveries arrive for the active GitHub accounts (recording one needs
//! GitHub: the account's repositories are listed again), the server is SIGKILLed in the middle
//! of it and started again, then GitHub comes back. No delivery acknowledged may be lost: each
//! ends in the inbox as done, none pending, none parked.

use super::api::Api;
use super::driver::Driver;
use super::server::ServerProcess;
use forgelink::webhooks::sha256_signature;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A signed delivery: its id, headers and body.
type Signed = (String, Vec<(String, String)>, Vec<u8>);

/// Deliveries sent while GitHub is down.
const DURING_OUTAGE: usize = 40;
/// How long the inbox may take to process everything once GitHub is back (the workers back off
/// up to two minutes between attempts).
const DRAIN_WITHIN: Duration = Duration::from_secs(240);

/// Runs the phase; what it sent, and the problems found.
pub async fn outage_phase(driver: &Driver, server: &Mutex<ServerProcess>) -> (usize, Vec<String>) {
    let api = &driver.api;
    let (_, list) = api.get("/v1/accounts?provider=github&status=active").await;
    let targets: Vec<(u64, String)> = list["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["installation_id"].as_u64()?, scope_login(&r["scope"])?)))
        .collect();
    if targets.is_empty() {
        return (0, vec![]);
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    driver.sandboxes.github.faults.fail_next(u32::MAX);
    let deliveries: Vec<Signed> = (0..DURING_OUTAGE)
        .map(|i| {
            let (installation, login) = &targets[i % targets.len()];
            let body = json!({
                "action": "renamed",
                "installation": {"id": installation, "account": {"login": login}},
                "account": {"login": login},
                "changes": {"login": {"from": login}},
                "target_type": "Organization",
                "sender": {"login": "octo-admin"}
            })
            .to_string()
            .into_bytes();
            let id = format!("outage-{run}-{i}");
            let headers = vec![
                ("X-GitHub-Event".to_string(), "installation_target".to_string()),
                ("X-GitHub-Delivery".to_string(), id.clone()),
                (
                    "X-Hub-Signature-256".to_string(),
                    sha256_signature(&driver.github_secret, &body),
                ),
            ];
            (id, headers, body)
        })
        .collect();
    let (first, second) = deliveries.split_at(DURING_OUTAGE / 2);
    let mut acked = send_all(api, first).await;
    // Killed while deliveries are stored but not yet recorded.
    {
        let mut process = server.lock().await;
        process.kill();
        process.start(&api.http).await;
    }
    acked.extend(send_all(api, second).await);
    driver.sandboxes.github.faults.fail_next(0);

    let mut problems = Vec::new();
    let deadline = Instant::now() + DRAIN_WITHIN;
    let states = loop {
        let states = inbox_states(api).await;
        let open = acked
            .iter()
            .filter(|id| states.get(*id).is_none_or(|s| s != "done"))
            .count();
        if open == 0 || Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for id in &acked {
        match states.get(id).map(String::as_str) {
            Some("done") => {}
            Some(other) => problems.push(format!("outage delivery {id} is {other}, not done")),
            None => problems.push(format!(
                "outage delivery {id} was acknowledged but is not in the inbox"
            )),
        }
    }
    (acked.len(), problems)
}

async fn send_all(api: &Api, deliveries: &[Signed]) -> Vec<String> {
    let sends = deliveries.iter().map(|(id, headers, body)| async move {
        api.deliver("github", id, headers, body).await.map(|_| id.clone())
    });
    futures_util::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Each GitHub delivery id in the inbox with its state.
async fn inbox_states(api: &Api) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for state in ["pending", "parked", "done"] {
        let (_, body) = api
            .get(&format!(
                "/v1/deliveries?provider=github&state={state}&limit=1000"
            ))
            .await;
        for d in body["deliveries"].as_array().into_iter().flatten() {
            if let Some(id) = d["delivery_id"].as_str() {
                out.entry(id.to_string()).or_insert_with(|| state.to_string());
            }
        }
    }
    out
}

/// At the end nothing waits in the inbox: no delivery pending, none parked.
pub async fn nothing_pending_or_parked(api: &Api) -> Vec<String> {
    let (_, counts) = api.get("/v1/deliveries?limit=1").await;
    let counts: &Value = &counts["counts"];
    let mut problems = Vec::new();
    for state in ["pending", "parked"] {
        if counts[state].as_u64().unwrap_or(0) > 0 {
            problems.push(format!(
                "{} deliveries are {state} at the end: {counts}",
                counts[state]
            ));
        }
    }
    problems
}

/// The GitHub login of an account row's scope, however the row spells it.
fn scope_login(scope: &Value) -> Option<String> {
    scope["login"]
        .as_str()
        .or_else(|| scope["github_account"]["login"].as_str())
        .or_else(|| scope["GithubAccount"]["login"].as_str())
        .map(str::to_string)
}
