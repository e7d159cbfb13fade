//! Shared helpers of the GitHub flow tests: a sandbox and an engine in a temporary folder, the
//! person's part on GitHub (`sandbox.approve`), the callback turned into a command message, and
//! a bounded wait for an account's status. Each test file uses a part of it.
#![allow(dead_code)]

use forgelink::engine::{CommandMessage, CommandReply, Engine, EngineConfig, EngineError, Request};
use forgelink::saga::RetryPolicy;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink::vault::VaultKey;
use forgelink_events::{Provider, StreamId};
use forgelink_sandbox::github::GitHubSandbox;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// Where the sandbox sends the person back; the tests pass the query on themselves.
pub const SETUP_URL: &str = "http://127.0.0.1:9/callback/github";

/// Retries that fit a test: tens of milliseconds between tries, a few seconds in all.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(2),
        give_up_after: Duration::from_secs(3),
    }
}

/// A GitHub sandbox with two organizations and their repositories.
pub async fn start_sandbox() -> GitHubSandbox {
    let sandbox = GitHubSandbox::start(0).await.expect("the sandbox starts");
    sandbox.seed_org("acme", &["infra", "apps", "docs"]);
    sandbox.seed_org("beta", &["site", "tools"]);
    sandbox
}

/// A sandbox, an engine over it, and the folder the engine keeps its log and vault in.
pub struct Harness {
    pub sandbox: GitHubSandbox,
    pub dir: tempfile::TempDir,
    pub config: EngineConfig,
    pub key: VaultKey,
    pub engine: Engine,
}

impl Harness {
    /// Starts a sandbox and an engine with fast retries.
    pub async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    /// Like [`Harness::start`], with the engine's configuration adjusted first.
    pub async fn start_with(adjust: impl FnOnce(&mut EngineConfig)) -> Harness {
        let sandbox = start_sandbox().await;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let key = VaultKey::generate();
        let mut config = EngineConfig::new(dir.path());
        config.github = Some(sandbox.client_config(SETUP_URL));
        config.vault_key = Some(key.clone());
        config.retry = fast_retry();
        adjust(&mut config);
        let engine = Engine::open(config.clone()).await.expect("the engine opens");
        Harness {
            sandbox,
            dir,
            config,
            key,
            engine,
        }
    }

    /// Stops the engine as a shutdown does (saga and effects gone, last handle dropped) and
    /// opens a new one on the same folder.
    pub async fn restart(self) -> Harness {
        let Harness {
            sandbox,
            dir,
            config,
            key,
            engine,
        } = self;
        engine.shutdown().await;
        drop(engine);
        let engine = Engine::open(config.clone())
            .await
            .expect("the engine opens again on its folder");
        Harness {
            sandbox,
            dir,
            config,
            key,
            engine,
        }
    }

    /// Names a GitHub account and returns its id.
    pub async fn name(&self, name: &str) -> Uuid {
        name_account(&self.engine, name).await
    }

    /// Starts a link and returns the raw `state` from the install URL.
    pub async fn start_link(&self, name: &str) -> String {
        start_link(&self.engine, name).await
    }

    /// The person installs the app on `org` with `repos` selected; the setup redirect's query.
    pub async fn approve(&self, state: &str, org: &str, repos: &[&str]) -> HashMap<String, String> {
        let redirect = self
            .sandbox
            .approve(state, org, repos)
            .await
            .expect("the sandbox accepts the installation");
        query(&redirect)
    }

    /// Sends the setup callback as a command message.
    pub async fn callback(&self, q: &HashMap<String, String>) -> Result<CommandReply, EngineError> {
        self.engine.execute(callback_message(q)).await
    }

    /// Names, starts, approves on `org` and sends the callback: the whole person's part.
    pub async fn link(&self, name: &str, org: &str, repos: &[&str]) -> Uuid {
        let id = self.name(name).await;
        let state = self.start_link(name).await;
        let q = self.approve(&state, org, repos).await;
        let reply = self.callback(&q).await.expect("the callback is accepted");
        assert_eq!(reply.events, ["AuthorizationReceived"]);
        id
    }
}

pub async fn name_account(engine: &Engine, name: &str) -> Uuid {
    let reply = engine
        .execute(CommandMessage::new(Request::NameAccount {
            provider: Provider::GitHub,
            unique_name: name.into(),
            account_id: None,
        }))
        .await
        .expect("the name is accepted");
    assert_eq!(reply.events, ["AccountNamed"]);
    reply.account_id
}

pub async fn start_link(engine: &Engine, name: &str) -> String {
    let reply = engine
        .execute(CommandMessage::new(Request::StartLink { account: name.into() }))
        .await
        .expect("the link starts");
    assert_eq!(reply.events, ["LinkStarted"]);
    let url = reply
        .authorize_url
        .expect("StartLink answers with the install URL");
    query(&url)
        .remove("state")
        .expect("the install URL carries our state")
}

/// A URL's query as a map.
pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("a valid URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The setup callback's query as the `CompleteAuthorization` message.
pub fn callback_message(q: &HashMap<String, String>) -> CommandMessage {
    CommandMessage::new(Request::CompleteAuthorization {
        state: q.get("state").cloned(),
        installation_id: q.get("installation_id").and_then(|s| s.parse().ok()),
        setup_action: q.get("setup_action").cloned(),
        code: q.get("code").cloned().map(Secret::new),
        error: None,
    })
}

/// Polls the account's status every 20 ms until it is `status` or `within` passed; returns the
/// last status seen.
pub async fn wait_for_status(engine: &Engine, account_id: Uuid, status: &str, within: Duration) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = engine
            .account_state(account_id)
            .expect("the account's state")
            .status()
            .as_str()
            .to_string();
        if now == status || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The account's event types, in order.
pub fn event_types(engine: &Engine, account_id: Uuid) -> Vec<String> {
    engine
        .log()
        .read_stream(&StreamId::account(account_id), 1)
        .expect("the account's stream")
        .iter()
        .map(|e| e.event_type().to_string())
        .collect()
}

/// How many events of `event_type` the whole log holds.
pub fn count_in_log(engine: &Engine, event_type: &str) -> usize {
    engine
        .log()
        .read_all(1)
        .map(|e| e.expect("a readable log"))
        .filter(|e| e.event_type() == event_type)
        .count()
}

/// The reason of the account's last `LinkFailed`, if any.
pub fn link_failed_reason(engine: &Engine, account_id: Uuid) -> Option<String> {
    engine
        .log()
        .read_stream(&StreamId::account(account_id), 1)
        .expect("the account's stream")
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            forgelink_events::Event::LinkFailed(f) => Some(f.reason.clone()),
            _ => None,
        })
}

/// The seed's GitHub steps, in order.
pub const SEED_STEPS: [&str; 4] = [
    "AccountNamed",
    "LinkStarted",
    "AuthorizationReceived",
    "InstallApproved",
];

/// Everything `tracing` wrote in this test binary, at TRACE level, from every crate.
#[derive(Clone)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per test binary) a TRACE-level subscriber writing into a buffer and returns
/// that buffer. Tests of one binary share it: search it for what your test alone would write.
pub fn capture_logs() -> CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs(Default::default());
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("no other subscriber in this test binary");
        logs
    })
    .clone()
}

/// Waits (bounded) until the engine knows which account an installation belongs to.
pub async fn wait_for_installation_owner(engine: &Engine, installation_id: u64) -> Option<Uuid> {
    for _ in 0..1000 {
        if let Some(owner) = engine.account_for_installation(installation_id) {
            return Some(owner);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}
