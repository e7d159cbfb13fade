//! The GitHub link flow survives the engine stopping at any point: right after `LinkStarted`,
//! right after the callback, and while a provider call is in flight. After a restart on the same
//! folder the flow completes exactly once: the seed's steps, one `InstallApproved`, nothing twice.
//! The last test kills a child process with SIGKILL instead of shutting down politely; the
//! sandbox lives in this (parent) process so it survives the kill.

mod common;

use common::{count_in_log, event_types, wait_for_status, Harness, SEED_STEPS};
use forgelink::engine::{Engine, EngineConfig};
use forgelink::providers::github::GitHubConfig;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(4);

fn assert_completed_once(engine: &Engine, id: uuid::Uuid) {
    assert_eq!(event_types(engine, id), SEED_STEPS);
    assert_eq!(count_in_log(engine, "InstallApproved"), 1);
    assert_eq!(count_in_log(engine, "AuthorizationReceived"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_started_before_a_restart_completes_after_it() {
    let h = Harness::start().await;
    let id = h.name("acme-infra").await;
    let state = h.start_link("acme-infra").await;
    let h = h.restart().await;
    let q = h.approve(&state, "acme", &["infra"]).await;
    let reply = h
        .callback(&q)
        .await
        .expect("the state still works after a restart");
    assert_eq!(reply.events, ["AuthorizationReceived"]);
    assert_eq!(wait_for_status(&h.engine, id, "active", WITHIN).await, "active");
    assert_completed_once(&h.engine, id);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_received_just_before_a_restart_is_verified_after_it() {
    let h = Harness::start().await;
    let id = h.link("acme-infra", "acme", &["infra", "apps"]).await;
    let h = h.restart().await;
    assert_eq!(
        wait_for_status(&h.engine, id, "active", WITHIN).await,
        "active",
        "{:?}",
        common::link_failed_reason(&h.engine, id)
    );
    assert_completed_once(&h.engine, id);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_github_is_answering_resumes_the_verification_once() {
    let h = Harness::start().await;
    h.sandbox.faults.set_delay(Duration::from_millis(1500));
    let id = h.link("acme-infra", "acme", &["infra"]).await;
    // The verification's first call waits on the slow sandbox now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.engine.account_state(id).unwrap().status().as_str(),
        "awaiting_approval"
    );
    h.sandbox.faults.set_delay(Duration::ZERO);
    let h = h.restart().await;
    assert_eq!(wait_for_status(&h.engine, id, "active", WITHIN).await, "active");
    assert_completed_once(&h.engine, id);
    // The call cut short by the stop may still land at GitHub later: nothing changes then.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_completed_once(&h.engine, id);
    h.engine.shutdown().await;
}

// ---- SIGKILL: the engine runs in a child process (this test binary, re-run as a child). ----

const CHILD_ROLE: &str = "FORGELINK_TEST_CHILD_ROLE";
const CHILD_LINE: &str = "FORGELINK-CHILD ";
const KILL_TEST: &str = "an_engine_killed_with_sigkill_completes_the_flow_once_after_restart";

/// What the child needs to reach the parent's sandbox and folder, as environment variables.
fn child_env(dir: &std::path::Path, gh: &GitHubConfig) -> Vec<(&'static str, String)> {
    vec![
        ("FL_CHILD_DIR", dir.display().to_string()),
        ("FL_GH_WEB", gh.web_url.clone()),
        ("FL_GH_API", gh.api_url.clone()),
        ("FL_GH_APP_ID", gh.app_id.to_string()),
        ("FL_GH_SLUG", gh.app_slug.clone()),
        ("FL_GH_CLIENT_ID", gh.client_id.clone()),
        ("FL_GH_CLIENT_SECRET", gh.client_secret.expose().to_string()),
        ("FL_GH_KEY", gh.private_key_pem.expose().to_string()),
        ("FL_GH_WEBHOOK", gh.webhook_secret.expose().to_string()),
    ]
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set for the child"))
}

/// The engine configuration the child opens, from `env` (its environment, or the parent's list
/// of it). The vault key comes from the key file in the folder, which the parent reads too.
fn child_config(env: impl Fn(&str) -> String) -> EngineConfig {
    let mut config = EngineConfig::new(env("FL_CHILD_DIR"));
    config.retry = common::fast_retry();
    config.github = Some(GitHubConfig {
        web_url: env("FL_GH_WEB"),
        api_url: env("FL_GH_API"),
        app_id: env("FL_GH_APP_ID").parse().expect("a numeric app id"),
        app_slug: env("FL_GH_SLUG"),
        client_id: env("FL_GH_CLIENT_ID"),
        client_secret: Secret::new(env("FL_GH_CLIENT_SECRET")),
        private_key_pem: Secret::new(env("FL_GH_KEY")),
        webhook_secret: Secret::new(env("FL_GH_WEBHOOK")),
    });
    config
}

/// The child's part: open the engine, do one step, say so on stdout, then wait to be killed.
async fn run_child(role: &str) {
    let engine = Engine::open(child_config(env))
        .await
        .expect("the child opens the engine");
    match role {
        "start" => {
            common::name_account(&engine, "acme-infra").await;
            let state = common::start_link(&engine, "acme-infra").await;
            println!("{CHILD_LINE}state={state}");
        }
        "callback" => {
            let q = common::query(&env("FL_CHILD_CALLBACK"));
            let reply = engine
                .execute(common::callback_message(&q))
                .await
                .expect("the child's callback is accepted");
            println!("{CHILD_LINE}{}", reply.events.join(","));
        }
        other => panic!("unknown child role {other}"),
    }
    // The parent kills us; never outlive it for long.
    tokio::time::sleep(Duration::from_secs(30)).await;
    std::process::exit(3);
}

/// Runs this test binary as a child in `role` and returns it with the line it printed.
fn spawn_child(role: &str, env: &[(&'static str, String)]) -> (Child, String) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args(["--exact", KILL_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, role)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().expect("the child's stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The test harness may have written `test NAME ... ` on the same line before us.
            if let Some(at) = line.find(CHILD_LINE) {
                let _ = tx.send(line[at + CHILD_LINE.len()..].to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) => (child, line),
        Err(_) => {
            let _ = child.kill();
            panic!("the child ({role}) said nothing");
        }
    }
}

/// SIGKILL (what `Child::kill` sends on Unix): no destructor, no flush, no goodbye.
fn kill(mut child: Child) {
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("the child is reaped");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "the child died of SIGKILL: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_with_sigkill_completes_the_flow_once_after_restart() {
    if let Ok(role) = std::env::var(CHILD_ROLE) {
        return run_child(&role).await;
    }
    let sandbox = common::start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let gh = sandbox.client_config(common::SETUP_URL);
    let env = child_env(dir.path(), &gh);

    // Killed right after LinkStarted.
    let (child, said) = spawn_child("start", &env);
    let state = said
        .strip_prefix("state=")
        .expect("the child printed the state")
        .to_string();
    kill(child);

    // Killed right after the callback, with the verification's first call in flight.
    let redirect = sandbox.approve(&state, "acme", &["infra", "docs"]).await.unwrap();
    sandbox.faults.set_delay(Duration::from_millis(1500));
    let mut env_cb = env.clone();
    env_cb.push(("FL_CHILD_CALLBACK", redirect));
    let (child, said) = spawn_child("callback", &env_cb);
    assert_eq!(said, "AuthorizationReceived");
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(child);
    sandbox.faults.set_delay(Duration::ZERO);

    // This process opens the folder the killed children left behind.
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let engine = Engine::open(child_config(lookup))
        .await
        .expect("the folder opens after a kill");
    let id = engine.resolve_account("acme-infra").unwrap();
    assert_eq!(wait_for_status(&engine, id, "active", WITHIN).await, "active");
    assert_completed_once(&engine, id);
    engine.shutdown().await;
}
