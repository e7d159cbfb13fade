//! The GitLab side of the flow tests: a sandbox with one signed-in person, an engine over it,
//! and the walkthrough's steps as helpers.

use super::*;
use forgelink::engine::{Engine, EngineConfig, EngineError, Request};
use forgelink::providers::gitlab::GitLabClient;
use forgelink::sandbox_settings::ClientConfig;
use forgelink_events::Provider;
use forgelink_sandbox::gitlab::GitLabSandbox;
use uuid::Uuid;

pub const NAME: &str = "acme-gitlab";

pub struct World {
    pub sandbox: GitLabSandbox,
    pub config: EngineConfig,
    pub engine: Engine,
    pub _dir: tempfile::TempDir,
}

pub async fn world_with(tune: impl FnOnce(&mut EngineConfig)) -> World {
    let sandbox = GitLabSandbox::start(0).await.unwrap();
    sandbox.seed_user("alice");
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(dir.path());
    config.gitlab = Some(sandbox.client_config(CALLBACK));
    tune(&mut config);
    let engine = Engine::open(config.clone()).await.unwrap();
    World {
        sandbox,
        config,
        engine,
        _dir: dir,
    }
}

/// A world whose log and vault are in the PostgreSQL database at `url`.
pub async fn pg_world(url: &str) -> World {
    world_with(|c| {
        c.store = Some(forgelink_events::StoreLocation::parse(url));
        c.vault_key = Some(forgelink::vault::VaultKey::generate());
    })
    .await
}

/// Another instance on `w`'s database (its own data folder, the same vault key).
pub async fn second_instance(w: &World, sagas: bool) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = w.config.clone();
    config.data_dir = dir.path().to_path_buf();
    config.run_sagas = sagas;
    (Engine::open(config).await.unwrap(), dir)
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

/// A client of our own, to check what the sandbox thinks of a token.
pub fn client(w: &World) -> GitLabClient {
    GitLabClient::new(w.sandbox.client_config(CALLBACK), reqwest::Client::new())
}

/// Named, started, approved on GitLab and exchanged: the account awaits details.
pub async fn approved(w: &World) -> Uuid {
    let id = name_account(&w.engine, Provider::GitLab, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    let redirect = w.sandbox.approve(&url).await.unwrap();
    let reply = callback(&w.engine, &redirect).await.unwrap();
    assert_eq!(reply.events, ["AuthorizationReceived"]);
    assert_eq!(
        wait_for_status(&w.engine, id, "awaiting_details").await,
        "awaiting_details"
    );
    id
}

pub async fn select_group(engine: &Engine, group_id: u64) -> Result<Vec<String>, EngineError> {
    let req = Request::SelectGroup {
        account: NAME.into(),
        group_id,
    };
    send(engine, req).await.map(|r| r.events)
}

pub async fn save_details(engine: &Engine) -> Result<String, EngineError> {
    let req = Request::SaveDetails { account: NAME.into() };
    send(engine, req).await.map(|r| r.status)
}

pub async fn active(w: &World) -> Uuid {
    let id = approved(w).await;
    let group = w.sandbox.seed_group("acme/infra");
    select_group(&w.engine, group).await.unwrap();
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
    id
}

pub const SEED_STEPS: [&str; 6] = [
    "AccountNamed",
    "LinkStarted",
    "AuthorizationReceived",
    "InstallApproved",
    "GroupSelected",
    "DetailsSaved",
];

/// The tokens the sandbox issued since `before`: each refresh issues an access and a refresh
/// token, in that order.
pub fn issued_since(sandbox: &GitLabSandbox, before: usize) -> Vec<String> {
    sandbox.issued_tokens()[before..].to_vec()
}
