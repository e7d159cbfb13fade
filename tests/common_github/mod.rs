//! The GitHub side of the project tests: a sandbox with organization `acme` (and the sandbox's
//! user account), an account linked to it whose app installation covers chosen repositories,
//! a webhook receiver that hands signed deliveries to the engine, and a ready project.
#![allow(dead_code)]

use crate::common_oauth::{self, fast_config, query};
use crate::common_projects::*;
use forgelink::domain::ProjectStatus;
use forgelink::engine::{CommandMessage, Engine, EngineConfig, Request};
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_events::{Grant, Provider};
use forgelink_sandbox::github::GitHubSandbox;
use forgelink_sandbox::Running;
use std::time::Duration;
use uuid::Uuid;

pub const NAME: &str = "acme-gh";
pub const FLUSH: Duration = Duration::from_secs(5);

pub type Slot = std::sync::Arc<std::sync::Mutex<Option<Engine>>>;

pub struct World {
    pub sandbox: GitHubSandbox,
    pub config: EngineConfig,
    pub engine: Engine,
    pub account_id: Uuid,
    pub installation_id: u64,
    /// The engine the webhook receiver hands deliveries to.
    pub slot: Slot,
    pub _receiver: Running,
    pub _dir: tempfile::TempDir,
}

/// A tiny webhook receiver: verifies the signature, parses, and hands the delivery to the
/// engine, as the HTTP edge does. It reads the engine from a slot so a restarted engine gets
/// the deliveries too.
async fn receiver(secret: Secret, slot: Slot) -> Running {
    let route = axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let (secret, slot) = (secret.clone(), slot.clone());
        async move {
            let Ok(delivery) =
                forgelink::webhooks::verify_and_parse(Provider::GitHub, &body, &headers, &secret)
            else {
                return axum::http::StatusCode::UNAUTHORIZED;
            };
            let engine = slot.lock().unwrap().clone();
            match engine {
                Some(e) if e.handle_delivery(delivery).await.is_ok() => axum::http::StatusCode::OK,
                _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            }
        }
    });
    forgelink_sandbox::serve(axum::Router::new().route("/", route), 0)
        .await
        .unwrap()
}

/// A sandbox with org `acme` (repositories `web`, `blueprints` with the marker, `secret`), an
/// active account whose installation covers `repos` (`None`: all), and a webhook receiver.
pub async fn world(repos: Option<&[&str]>, tune: impl FnOnce(&mut EngineConfig)) -> World {
    world_on("acme", repos, tune).await
}

/// As [`world`], with the app installed on `owner` (`acme`, or the sandbox's user for a
/// personal-account installation).
pub async fn world_on(owner: &str, repos: Option<&[&str]>, tune: impl FnOnce(&mut EngineConfig)) -> World {
    let sandbox = GitHubSandbox::start(0).await.unwrap();
    sandbox.seed_org("acme", &["web", "secret"]);
    sandbox.seed_user_account(forgelink_sandbox::github::SANDBOX_USER, &["dotfiles"]);
    sandbox.seed_repo_with_file("acme", "blueprints", "blueprint.yaml", "kind: blueprint\n");
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(dir.path());
    config.github = Some(sandbox.client_config("http://127.0.0.1:9/callback/github"));
    config.reconcile_every = Duration::ZERO;
    tune(&mut config);
    let engine = Engine::open(config.clone()).await.unwrap();
    let slot: Slot = std::sync::Arc::new(std::sync::Mutex::new(Some(engine.clone())));
    let secret = config.github.as_ref().unwrap().webhook_secret.clone();
    let receiver = receiver(secret, slot.clone()).await;
    sandbox.set_webhook_url(&receiver.base_url());

    let send = |r| engine.execute(CommandMessage::new(r).by("alice"));
    let named = send(Request::NameAccount {
        provider: Provider::GitHub,
        unique_name: NAME.into(),
        account_id: None,
    })
    .await
    .unwrap();
    let url = send(Request::StartLink { account: NAME.into() })
        .await
        .unwrap()
        .authorize_url
        .unwrap();
    let state = query(&url).remove("state").unwrap();
    let redirect = match repos {
        Some(r) => sandbox.approve(&state, owner, r).await,
        None => sandbox.approve_all(&state, owner).await,
    }
    .unwrap();
    let q = query(&redirect);
    send(Request::CompleteAuthorization {
        state: q.get("state").cloned(),
        installation_id: q.get("installation_id").map(|s| s.parse().unwrap()),
        setup_action: q.get("setup_action").cloned(),
        code: q.get("code").cloned().map(Secret::new),
        error: None,
    })
    .await
    .unwrap();
    let account_id = named.account_id;
    assert_eq!(
        common_oauth::wait_for_status(&engine, account_id, "active").await,
        "active"
    );
    // Let the blueprint discovery that activation starts finish its GitHub calls, so that a
    // fault a test switches on next is met by the call the test makes, not by that discovery.
    let memo = config
        .data_dir
        .join("blueprints")
        .join(format!("{account_id}.json"));
    for _ in 0..200 {
        if memo.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let installation_id = match engine.account_state(account_id).unwrap().grant {
        Some(Grant::GithubInstallation { installation_id, .. }) => installation_id,
        other => panic!("{other:?}"),
    };
    World {
        sandbox,
        config,
        engine,
        account_id,
        installation_id,
        slot,
        _receiver: receiver,
        _dir: dir,
    }
}

/// A ready project `payments` on an installation on all repositories.
pub async fn ready_project(w: &World) -> Uuid {
    let id = create_project(&w.engine, NAME, "payments")
        .await
        .unwrap()
        .project_id
        .unwrap();
    let s = wait_project(&w.engine, id, |s| s.installation_id.is_some()).await;
    assert_eq!(s.status, ProjectStatus::Ready);
    id
}
