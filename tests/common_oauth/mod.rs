//! Helpers the GitLab and Bitbucket flow tests share: an engine with fast retries, the command
//! messages of the walkthrough, the provider's redirect turned into `CompleteAuthorization`,
//! polling for a status, reading the account's log, and reopening the engine as after a crash.
#![allow(dead_code)]

pub mod gitlab;

use forgelink::engine::{CommandMessage, CommandReply, Engine, EngineConfig, EngineError, Request};
use forgelink::saga::RetryPolicy;
use forgelink::secret::Secret;
use forgelink_events::{Envelope, Event, Provider, StreamId};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// Where the sandbox sends the person back (never called: tests read the redirect URL).
pub const CALLBACK: &str = "http://127.0.0.1:9/callback/oauth";

/// An engine config in `dir` with retries small enough for tests.
pub fn fast_config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(dir);
    config.retry = RetryPolicy {
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        attempt_timeout: Duration::from_secs(5),
        give_up_after: Duration::from_secs(2),
    };
    config
}

/// The query of a URL as a map.
pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn send(engine: &Engine, request: Request) -> Result<CommandReply, EngineError> {
    engine.execute(CommandMessage::new(request).by("alice")).await
}

/// `NameAccount` and the new account's id.
pub async fn name_account(engine: &Engine, provider: Provider, name: &str) -> Uuid {
    let reply = send(
        engine,
        Request::NameAccount {
            provider,
            unique_name: name.into(),
            account_id: None,
        },
    )
    .await
    .expect("the name is free");
    assert_eq!(reply.status, "pending");
    reply.account_id
}

/// `StartLink`: the authorize URL the person is sent to.
pub async fn start_link(engine: &Engine, name: &str) -> String {
    let reply = send(engine, Request::StartLink { account: name.into() })
        .await
        .expect("a link can start");
    assert_eq!(reply.status, "awaiting_approval");
    reply.authorize_url.expect("StartLink gives the authorize URL")
}

/// The provider's redirect back to us, sent as `CompleteAuthorization` exactly as it came.
pub async fn callback(engine: &Engine, redirect: &str) -> Result<CommandReply, EngineError> {
    let q = query(redirect);
    send(
        engine,
        Request::CompleteAuthorization {
            state: q.get("state").cloned(),
            installation_id: None,
            setup_action: None,
            code: q.get("code").cloned().map(Secret::new),
            error: q.get("error").cloned(),
        },
    )
    .await
}

/// Polls until the account has `status` (or 20 s pass) and returns the status it has then.
pub async fn wait_for_status(engine: &Engine, id: Uuid, status: &str) -> String {
    let now = || engine.account_state(id).unwrap().status().as_str().to_string();
    for _ in 0..800 {
        if now() == status {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    now()
}

/// Polls until the account's log holds `n` events of `event_type` (or 20 s pass).
pub async fn wait_for_events(engine: &Engine, id: Uuid, event_type: &str, n: usize) -> usize {
    let count = || {
        types(engine, id)
            .iter()
            .filter(|t| t.as_str() == event_type)
            .count()
    };
    for _ in 0..800 {
        if count() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    count()
}

pub fn history(engine: &Engine, id: Uuid) -> Vec<Envelope> {
    engine
        .log()
        .read_stream(&StreamId::account(id), 1)
        .expect("the log reads")
}

/// The account's event types, in order.
pub fn types(engine: &Engine, id: Uuid) -> Vec<String> {
    history(engine, id)
        .iter()
        .map(|e| e.event_type().to_string())
        .collect()
}

pub fn count(engine: &Engine, id: Uuid, event_type: &str) -> usize {
    types(engine, id)
        .iter()
        .filter(|t| t.as_str() == event_type)
        .count()
}

/// The reason of the account's only `CredentialsRevoked`.
pub fn revoked_reason(engine: &Engine, id: Uuid) -> String {
    let reasons: Vec<String> = history(engine, id)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::CredentialsRevoked(r) => Some(r.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    reasons[0].clone()
}

/// Stops the engine as a crash would (every task gone, nothing finished) and opens it again
/// on the same folders.
pub async fn restart(engine: Engine, config: EngineConfig) -> Engine {
    engine.shutdown().await;
    drop(engine);
    Engine::open(config).await.expect("the engine reopens")
}
