//! The soak: `forgelink serve` as a child process against the three sandboxes (which live in
//! this process, so they survive every kill), while a load driver links accounts on all three
//! providers over HTTP, creates projects and sends signed webhooks (some twice). Meanwhile the
//! harness SIGKILLs the server at random moments (at least 10 times) and starts it again,
//! switches sandbox faults on and off (500s, 429s, slow answers, dropped GitHub webhooks) and
//! expires the GitLab and Bitbucket access tokens underneath. Then GitHub goes down while
//! deliveries arrive and the server is killed once more: every one acknowledged ends recorded.
//!
//! At the end, after a `Reconcile` over HTTP: every flow started is active, failed with a reason,
//! expired, or disconnected with a reason (a kill during a token rotation, see `SETTLED`); no account is named twice and no project has two repositories; every command and
//! webhook the server acknowledged is in the log (and a webhook sent again is a duplicate);
//! `forgelink replay --verify` finds no difference; the log's positions are dense. One summary
//! line says what happened.
//!
//! 100 s of load by default (about 2 minutes in all); `FORGELINK_SOAK_SECS=1800` soaks for half an hour.

mod soak_support;

use forgelink::sandbox_settings::ClientConfig;
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use forgelink_sandbox::github::GitHubSandbox;
use forgelink_sandbox::gitlab::GitLabSandbox;
use rand::Rng;
use serde_json::{json, Value};
use soak_support::api::Api;
use soak_support::chaos::{clear_faults, fault_loop, kill_loop, Chaos, MIN_KILLS};
use soak_support::checks::Exported;
use soak_support::driver::{Driver, Sandboxes};
use soak_support::server::{
    forgelink, free_port, ServerProcess, ADMIN, BITBUCKET_WEBHOOK_SECRET, GITLAB_WEBHOOK_TOKEN,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const DEFAULT_SECS: u64 = 100;
const WORKERS: usize = 4;
/// How long the flows and projects may take to settle once the load and the faults stop.
const SETTLE_WITHIN: Duration = Duration::from_secs(150);
/// How long the one `Reconcile` of every account may take to answer.
const RECONCILE_WITHIN: Duration = Duration::from_secs(300);

fn soak_secs() -> u64 {
    std::env::var("FORGELINK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS)
}

/// The settings file for `serve`, and the GitHub webhook secret. Asking the GitHub sandbox for
/// its app config again would move its setup URL, so this is the only place that does.
fn config_toml(port: u16, s: &Sandboxes, key_file: &std::path::Path) -> (String, forgelink::secret::Secret) {
    let base = format!("http://127.0.0.1:{port}");
    let gh = s.github.client_config(&format!("{base}/callback/github"));
    let gl = s.gitlab.client_config(&format!("{base}/callback/gitlab"));
    let bb = s.bitbucket.client_config(&format!("{base}/callback/bitbucket"));
    std::fs::write(key_file, gh.private_key_pem.expose()).expect("write the app key");
    let toml = format!(
        "listen = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\nadmin_token = \"{ADMIN}\"\nvault_key = \"{}\"\n\
         [github]\nweb_url = \"{}\"\napi_url = \"{}\"\napp_id = {}\napp_slug = \"{}\"\nclient_id = \"{}\"\n\
         client_secret = \"{}\"\nprivate_key_file = \"{}\"\nwebhook_secret = \"{}\"\n\
         [gitlab]\nbase_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nwebhook_token = \"{GITLAB_WEBHOOK_TOKEN}\"\n\
         [bitbucket]\nweb_url = \"{}\"\napi_url = \"{}\"\nkey = \"{}\"\nsecret = \"{}\"\nwebhook_secret = \"{BITBUCKET_WEBHOOK_SECRET}\"\n",
        "5a".repeat(32),
        gh.web_url,
        gh.api_url,
        gh.app_id,
        gh.app_slug,
        gh.client_id,
        gh.client_secret.expose(),
        key_file.display(),
        gh.webhook_secret.expose(),
        gl.base_url,
        gl.client_id,
        gl.client_secret.expose(),
        bb.web_url,
        bb.api_url,
        bb.client_id,
        bb.client_secret.expose(),
    );
    (toml, gh.webhook_secret)
}

/// The whole log through `GET /v1/events`, page by page.
async fn read_log(api: &Api) -> Exported {
    let mut lines = String::new();
    let mut from = 1;
    loop {
        let (_, page) = api.get(&format!("/v1/events?from={from}&limit=1000")).await;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        for e in &events {
            lines.push_str(&e.to_string());
            lines.push('\n');
        }
        let next = page["next"].as_u64().unwrap_or(from);
        if events.is_empty() || next <= from {
            return Exported::parse(&lines);
        }
        from = next;
    }
}

/// Where a started flow may end. `disconnected` is where an account goes when a kill lands
/// between GitLab's or Bitbucket's answer to a refresh (which rotates the refresh token) and
/// storing the new pair: the grant is gone for good, and the engine says so (`refresh.rs`).
/// It must carry that reason like a failure does.
const SETTLED: &[&str] = &["active", "failed", "expired", "disconnected"];

/// Each started flow's account row, by name.
async fn account_rows(driver: &Driver) -> Vec<(String, Value)> {
    let mut rows = Vec::new();
    for f in driver.flows() {
        let (_, row) = driver.api.get(&format!("/v1/accounts/{}", f.name)).await;
        rows.push((f.name.clone(), row));
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_at_random_under_faults_loses_nothing_and_leaves_no_flow_stuck() {
    let secs = soak_secs();
    let began = Instant::now();
    let root = tempfile::tempdir().expect("a temporary folder");
    let (github, gitlab, bitbucket) = tokio::try_join!(
        GitHubSandbox::start(0),
        GitLabSandbox::start(0),
        BitbucketSandbox::start(0)
    )
    .expect("the sandboxes start");
    gitlab.seed_user("alice");
    bitbucket.seed_user("alice");
    let sandboxes = Sandboxes {
        github,
        gitlab,
        bitbucket,
    };
    let port = free_port();
    let (toml, github_secret) = config_toml(port, &sandboxes, &root.path().join("github-app.pem"));
    let mut process = ServerProcess::new(root.path(), port, &toml);
    sandboxes
        .github
        .set_webhook_url(&format!("{}/webhooks/github", process.base_url()));
    let api = Api::new(process.base_url(), ADMIN);
    process.start(&api.http).await;
    let http = api.http.clone();
    let server = Arc::new(Mutex::new(process));
    let driver = Arc::new(Driver::new(api, sandboxes, github_secret));
    let chaos = Arc::new(Chaos::default());
    let stop_chaos = Arc::new(AtomicBool::new(false));

    // ---- load and chaos ----
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let d = driver.clone();
            tokio::spawn(async move { d.worker().await })
        })
        .collect();
    let every = secs as f64 / (MIN_KILLS as f64 + 4.0);
    let killer = tokio::spawn(kill_loop(
        server.clone(),
        http,
        chaos.clone(),
        stop_chaos.clone(),
        every,
    ));
    let faults = tokio::spawn(fault_loop(driver.clone(), chaos.clone(), stop_chaos.clone()));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    driver.stop.store(true, Ordering::SeqCst);
    stop_chaos.store(true, Ordering::SeqCst);
    let mut problems: Vec<String> = Vec::new();
    for w in workers {
        if let Err(e) = w.await {
            problems.push(format!("a driver worker failed: {e}"));
        }
    }
    faults.await.expect("the fault task ends");
    killer.await.expect("the kill task ends");
    clear_faults(&driver.sandboxes);
    let load_secs = began.elapsed().as_secs();

    // ---- GitHub down while deliveries arrive, the server killed meanwhile ----
    let (outage_sent, outage_problems) = soak_support::outage::outage_phase(&driver, &server).await;
    problems.extend(outage_problems);

    // ---- reconcile and settle ----
    let api = &driver.api;
    // One reconciliation of every account, answered when done: it may take a while.
    let reconcile_began = Instant::now();
    let reconciled = api
        .command_within(
            uuid::Uuid::new_v4(),
            json!({"type": "Reconcile"}),
            RECONCILE_WITHIN,
        )
        .await;
    let reconcile_secs = reconcile_began.elapsed().as_secs_f64();
    if let Err(e) = reconciled {
        problems.push(format!("Reconcile refused: {e:?}"));
    }
    let flows = driver.flows();
    let deadline = Instant::now() + SETTLE_WITHIN;
    let (rows, log) = loop {
        let rows = account_rows(&driver).await;
        let log = read_log(api).await;
        let unsettled = rows
            .iter()
            .filter(|(_, r)| !SETTLED.contains(&r["status"].as_str().unwrap_or("")))
            .count();
        if (unsettled == 0 && log.projects_settled(&flows, &driver.sandboxes).is_empty())
            || Instant::now() > deadline
        {
            break (rows, log);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let settle_secs = began.elapsed().as_secs() - load_secs;
    for (name, row) in &rows {
        let status = row["status"].as_str().unwrap_or("");
        if !SETTLED.contains(&status) {
            problems.push(format!("flow {name} is stuck in `{status}`: {row}"));
        }
        if matches!(status, "failed" | "disconnected") && row["last_error"].as_str().unwrap_or("").is_empty()
        {
            problems.push(format!("flow {name} failed without a reason: {row}"));
        }
    }
    problems.extend(log.projects_settled(&flows, &driver.sandboxes));
    problems.extend(soak_support::outage::nothing_pending_or_parked(api).await);
    // After reconciliation each GitHub account lists what its installation can reach, whether
    // or not the webhooks about it arrived.
    for (name, row) in rows
        .iter()
        .filter(|(_, r)| r["provider"] == "github" && r["status"] == "active")
    {
        let Some(installation) = row["installation_id"].as_u64() else {
            continue;
        };
        let mut listed: Vec<String> = row["repositories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["full_name"].as_str().map(str::to_string))
            .collect();
        let mut reachable = driver.sandboxes.github.installation_repo_names(installation);
        listed.sort();
        reachable.sort();
        if listed != reachable {
            problems.push(format!(
                "{name} lists {listed:?}, its installation reaches {reachable:?}"
            ));
        }
    }

    let duplicates_dropped = api.counts.duplicates_dropped.load(Ordering::Relaxed);
    // Every delivery acknowledged before, sent again now, is known: the dedupe is durable.
    let acked_webhooks = api.acked_webhooks();
    let mut resent_known = 0;
    for w in acked_webhooks
        .iter()
        .filter(|w| !w.applied.is_empty() || rand::thread_rng().gen_bool(0.5))
    {
        match api.deliver(w.provider, &w.delivery_id, &w.headers, &w.body).await {
            Some(a) if a["duplicate"] == json!(true) => resent_known += 1,
            other => problems.push(format!(
                "{} delivery {} sent again answered {other:?}",
                w.provider, w.delivery_id
            )),
        }
    }

    // ---- stop, export, verify ----
    let mut process = server.lock().await;
    process.stop();
    let out = forgelink()
        .arg("--data-dir")
        .arg(&process.data_dir)
        .arg("export")
        .output()
        .expect("run export");
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = Exported::parse(&String::from_utf8_lossy(&out.stdout));
    problems.extend(exported.dense_positions());
    problems.extend(exported.acknowledged_in_log(&api.acked_commands(), &acked_webhooks));
    problems.extend(exported.accounts_named_once());
    let verify = forgelink()
        .arg("--data-dir")
        .arg(&process.data_dir)
        .args(["replay", "--verify"])
        .output()
        .expect("run replay --verify");
    if !verify.status.success() {
        problems.push(format!(
            "replay --verify: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        ));
    }

    let status_count = |s: &str| rows.iter().filter(|(_, r)| r["status"] == s).count();
    let c = &api.counts;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "SOAK load_secs={load_secs} reconcile_secs={reconcile_secs:.1} settle_secs={settle_secs} flows_started={} active={} failed={} expired={} disconnected={} \
         projects={} kills={} faults_switched={} faults_500={} faults_429={} faults_slow={} faults_drop_webhooks={} token_expiries={} webhooks_sent={} webhooks_acked={} \
         duplicates_sent={} duplicates_dropped={} resent_known={resent_known} outage_deliveries={outage_sent} commands_acked={} callbacks_acked={} \
         retries={} github_webhooks_sent={} github_webhooks_dropped={} events={} total_secs={}",
        flows.len(),
        status_count("active"),
        status_count("failed"),
        status_count("expired"),
        status_count("disconnected"),
        flows.iter().filter(|f| f.project.is_some()).count(),
        n(&chaos.kills),
        n(&chaos.faults),
        n(&chaos.by_kind[0]),
        n(&chaos.by_kind[1]),
        n(&chaos.by_kind[2]),
        n(&chaos.by_kind[3]),
        n(&chaos.token_expiries),
        n(&c.webhooks_sent),
        n(&c.webhooks_acked),
        n(&c.duplicates_sent),
        duplicates_dropped,
        n(&c.commands_acked),
        n(&c.callbacks_acked),
        n(&c.retries),
        driver.sandboxes.github.webhooks_sent().len(),
        driver.sandboxes.github.webhooks_dropped(),
        exported.events.len(),
        began.elapsed().as_secs(),
    );
    println!("SOAK events by type: {:?}", exported.census());
    for (name, row) in rows
        .iter()
        .filter(|(_, r)| r["status"] == "failed" || r["status"] == "disconnected")
    {
        println!("SOAK {} {name}: {}", row["status"], row["last_error"]);
    }
    if !problems.is_empty() {
        panic!(
            "{} problems:\n{}\n--- server log tail ---\n{}",
            problems.len(),
            problems.join("\n"),
            process.log_tail()
        );
    }
    assert!(n(&chaos.kills) >= MIN_KILLS);
    assert!(
        flows.len() >= 3,
        "the driver started too few flows: {}",
        flows.len()
    );
    drop(log);
}
