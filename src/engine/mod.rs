//! The engine: one handle over the event log, the vault, the provider clients and the saga
//! loop. Every shell (HTTP, CLI, library) drives flows through [`Engine::execute`] with a
//! command message; the saga loop follows the log and drives provider calls.

mod adapters;
mod blueprints;
mod branch_calls;
mod claims;
mod confirm;
mod dispatch;
mod error;
mod execute;
mod found_repo;
mod healing;
mod link;
mod message;
mod oauth_calls;
mod project_effects;
mod project_saga;
mod projects;
mod reconcile;
mod refresh;
mod repo_calls;
mod repo_hooks;
mod retire;
mod saga_loop;
mod scope_rename;
mod user_revoked;
mod webhooks;

pub use dispatch::{EffectStats, DEFAULT_EFFECT_WORKERS};
pub use error::EngineError;
pub use healing::{DeliveryHealer, ReconcileLine, ReconcileReport};
pub use link::hash_state;
pub use message::{CommandMessage, CommandReply, Request};
pub use oauth_calls::{GroupChoice, ProjectChoice, WorkspaceChoice};
pub use reconcile::AccountReconciled;
pub use refresh::{HaltPoint, TestHooks};

use crate::domain::{fold, AccountState};
use crate::providers::bitbucket::{BitbucketClient, BitbucketConfig};
use crate::providers::github::{GitHubClient, GitHubConfig};
use crate::providers::gitlab::{GitLabClient, GitLabConfig};
use crate::saga::RetryPolicy;
use crate::vault::{Vault, VaultKey};
use forgelink_events::{Durability, LogOptions, Store, StoreLocation, StreamId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// How long a link attempt (its `state`) lives by default.
pub const DEFAULT_LINK_TTL: chrono::Duration = chrono::Duration::minutes(30);

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The log lives in `data_dir/log` (unless `store` says otherwise), the vault in
    /// `data_dir/vault`.
    pub data_dir: PathBuf,
    /// Where the event log lives (`store`, `FORGELINK_STORE`): None is the sled folder
    /// `data_dir/log`; a PostgreSQL address puts the log there, and the vault with it (a vault
    /// the data folder held moves in once). The webhook inbox and the projections stay in
    /// `data_dir` either way.
    pub store: Option<StoreLocation>,
    pub durability: Durability,
    /// The most memory the event log's page cache may take (`log_cache_mb`); `None` sizes it
    /// to the log on disk, between 8 and 128 MiB.
    pub log_cache_bytes: Option<u64>,
    pub link_ttl: chrono::Duration,
    pub github: Option<GitHubConfig>,
    pub gitlab: Option<GitLabConfig>,
    pub bitbucket: Option<BitbucketConfig>,
    /// The vault key; from `FORGELINK_VAULT_KEY` or `data_dir/vault.key` when absent.
    pub vault_key: Option<VaultKey>,
    pub retry: RetryPolicy,
    /// How long before an OAuth access token expires the saga refreshes it.
    pub refresh_ahead: chrono::Duration,
    /// Crash points for tests; inert unless a test arms one.
    pub hooks: TestHooks,
    /// Run the saga loop (off only for tools that read, like `forgelink history`).
    pub run_sagas: bool,
    /// The file at a repository's root that makes it a blueprint.
    pub blueprint_marker: String,
    /// How often every active account is reconciled with its provider (zero: never).
    pub reconcile_every: std::time::Duration,
    /// Reconciliation stops early when the provider says fewer calls than this are left
    /// (`x-ratelimit-remaining`, `RateLimit-Remaining`), leaving them to flows and webhooks.
    pub reconcile_min_rate_remaining: u64,
    /// Where forgelink receives webhooks (its public URL); the hooks it registers on GitLab and
    /// Bitbucket send to `{this}/webhooks/{provider}?hook={project id}`. None: no hooks.
    pub webhook_base_url: Option<String>,
    /// How many effects owed at a start (or fallen due) run at once; the rest wait in a queue.
    pub effect_workers: usize,
}

/// The blueprint marker file by default.
pub const DEFAULT_BLUEPRINT_MARKER: &str = "blueprint.yaml";

/// How often accounts are reconciled by default.
pub const DEFAULT_RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Below this many calls left, reconciliation stops early by default.
pub const DEFAULT_RECONCILE_MIN_RATE_REMAINING: u64 = 100;

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            store: None,
            durability: Durability::Flush,
            log_cache_bytes: None,
            link_ttl: DEFAULT_LINK_TTL,
            github: None,
            gitlab: None,
            bitbucket: None,
            vault_key: None,
            retry: RetryPolicy::default(),
            refresh_ahead: crate::saga::REFRESH_AHEAD,
            hooks: TestHooks::default(),
            run_sagas: true,
            blueprint_marker: DEFAULT_BLUEPRINT_MARKER.to_string(),
            reconcile_every: DEFAULT_RECONCILE_EVERY,
            reconcile_min_rate_remaining: DEFAULT_RECONCILE_MIN_RATE_REMAINING,
            webhook_base_url: None,
            effect_workers: DEFAULT_EFFECT_WORKERS,
        }
    }
}

/// The provider clients that are configured.
#[derive(Clone, Default)]
pub(crate) struct Clients {
    pub github: Option<GitHubClient>,
    pub gitlab: Option<GitLabClient>,
    pub bitbucket: Option<BitbucketClient>,
}

/// A handle to the running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub log: Store,
    pub vault: Arc<Vault>,
    pub clients: Clients,
    pub config: EngineConfig,
    /// The one way OAuth pairs are refreshed (one refresh in flight per account).
    pub refresher: Arc<refresh::Refresher>,
    /// GitHub installation id -> account, kept by the saga loop for `setup_action=update`
    /// callbacks and webhooks that name only the installation.
    pub installations: Mutex<HashMap<u64, Uuid>>,
    /// GitHub installation requests waiting for an owner: (requester, organization), both
    /// lowercase -> (account, attempt), kept by the saga loop for the `installation` `created`
    /// webhook that names the requester.
    pub install_requests: Mutex<HashMap<(String, String), (Uuid, Uuid)>>,
    /// Projects: which holds which repository, imports and reconciliations in progress.
    pub projects: projects::ProjectRuntime,
    /// The saga loop and every effect in flight. They hold only a `Weak` to this, so dropping
    /// the last `Engine` drops this set, which aborts them all.
    pub tasks: Mutex<tokio::task::JoinSet<()>>,
    /// Where the sagas' effects queue, wait for their time and run (its tasks are in `tasks`).
    pub effects: Arc<dispatch::Dispatcher>,
    /// Single-use provider calls with the storing of their answer; shutdown lets them finish.
    pub unstoppable: adapters::Unstoppable,
    /// What reconciliation asks to heal lost webhook deliveries (set by the server's inbox).
    pub delivery_healer: Mutex<Option<Arc<dyn healing::DeliveryHealer>>>,
}

impl Inner {
    /// Runs `fut` as one of the engine's background tasks.
    pub fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Ok(mut tasks) = self.tasks.lock() {
            while tasks.try_join_next().is_some() {}
            tasks.spawn(fut);
        }
    }
}

impl Engine {
    /// Opens the log and the vault in `config.data_dir`, builds the provider clients and, unless
    /// switched off, starts the saga loop, which first resumes every flow left half-way.
    pub async fn open(config: EngineConfig) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| EngineError::Io(format!("cannot create {}: {e}", config.data_dir.display())))?;
        let location = config
            .store
            .clone()
            .unwrap_or_else(|| StoreLocation::Folder(config.data_dir.join("log")));
        let log = Store::open(
            &location,
            LogOptions {
                durability: config.durability,
                cache_bytes: config.log_cache_bytes,
                ..LogOptions::default()
            },
        )?;
        let key = match &config.vault_key {
            Some(k) => k.clone(),
            None => VaultKey::from_env_or_file(&config.data_dir)?,
        };
        // With the log on PostgreSQL the vault is there too, shared by every instance; a vault
        // the data folder held before moves into it once.
        let folder_vault = config.data_dir.join("vault");
        let vault = Arc::new(match &location {
            StoreLocation::Postgres(url) => Vault::open_postgres_carrying(url, key, Some(&folder_vault))?,
            StoreLocation::Folder(_) => Vault::open(&folder_vault, key)?,
        });
        // The data folder and everything in it are the owner's only (folders 0700, files 0600).
        // Something in it we may not change (a mount's `lost+found`) is reported, not fatal.
        if let Err(e) = crate::vault::restrict_permissions(&config.data_dir) {
            tracing::warn!(dir = %config.data_dir.display(), error = %e,
                "could not make every file in the data folder readable by its owner only");
        }
        let http = reqwest::Client::builder()
            .user_agent("forgelink")
            .build()
            .map_err(|e| EngineError::Io(format!("http client: {e}")))?;
        let clients = Clients {
            github: match &config.github {
                // One try lasts no longer than the retry policy allows, even where the call
                // runs on after its effect stopped waiting.
                Some(c) => Some(
                    GitHubClient::new(c.clone(), http.clone())?.with_timeout(config.retry.attempt_timeout),
                ),
                None => None,
            },
            gitlab: config.gitlab.clone().map(|c| GitLabClient::new(c, http.clone())),
            bitbucket: config
                .bitbucket
                .clone()
                .map(|c| BitbucketClient::new(c, http.clone())),
        };
        let refresher = Arc::new(refresh::Refresher::new(
            vault.clone(),
            clients.gitlab.clone(),
            clients.bitbucket.clone(),
            config.refresh_ahead,
            config.hooks.clone(),
        ));
        let effects = dispatch::Dispatcher::new(config.effect_workers);
        let engine = Engine {
            inner: Arc::new(Inner {
                log,
                vault,
                clients,
                config,
                refresher,
                installations: Mutex::new(HashMap::new()),
                install_requests: Mutex::new(HashMap::new()),
                projects: projects::ProjectRuntime::default(),
                tasks: Mutex::new(tokio::task::JoinSet::new()),
                effects,
                unstoppable: adapters::Unstoppable::default(),
                delivery_healer: Mutex::new(None),
            }),
        };
        if engine.inner.config.run_sagas {
            // Each resume folds the whole log, which dominates start-up on a large log; they
            // share nothing but locked indexes, so they run side by side on two threads.
            let inner = &engine.inner;
            let runtime = tokio::runtime::Handle::current();
            std::thread::scope(|scope| {
                let projects = std::thread::Builder::new()
                    .name("forgelink-resume".into())
                    .spawn_scoped(scope, || {
                        let _in_runtime = runtime.enter();
                        project_saga::start(inner)
                    })
                    .map_err(|e| EngineError::Io(format!("cannot start the project saga: {e}")))?;
                let accounts = saga_loop::start(inner);
                let projects = projects
                    .join()
                    .map_err(|_| EngineError::Io("the project saga's resume panicked".into()))?;
                // Discovery is owed by what the accounts' states say, which only the account
                // saga folds (one fold of every account, not two).
                projects?.owe(inner, accounts?);
                Ok::<(), EngineError>(())
            })?;
        }
        Ok(engine)
    }

    /// How many saga effects run, wait in the queue and wait for their time.
    pub fn effect_stats(&self) -> EffectStats {
        self.inner.effects.stats()
    }

    /// The event log, for queries, projections and export.
    pub fn log(&self) -> &Store {
        &self.inner.log
    }

    /// The vault the engine keeps secrets in (tests and tools check what it holds).
    /// The vault when other instances share it (PostgreSQL), for what they must share too.
    pub fn shared_vault(&self) -> Option<Arc<Vault>> {
        self.inner.vault.is_shared().then(|| self.inner.vault.clone())
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// How long a started link waits for its approval.
    pub fn link_ttl(&self) -> chrono::Duration {
        self.inner.config.link_ttl
    }

    /// The account's state folded from its stream.
    pub fn account_state(&self, account_id: Uuid) -> Result<AccountState, EngineError> {
        let events = self.inner.log.read_stream(&StreamId::account(account_id), 1)?;
        Ok(fold(events.iter().map(|e| &e.event)))
    }

    /// Finds an account by its id or its unique name (case-insensitive).
    pub fn resolve_account(&self, id_or_name: &str) -> Result<Uuid, EngineError> {
        if let Ok(id) = Uuid::parse_str(id_or_name) {
            if self.inner.log.stream_version(&StreamId::account(id))? > 0 {
                return Ok(id);
            }
        }
        match self.inner.log.name_owner(id_or_name)? {
            Some(stream) => stream
                .entity_id()
                .ok_or_else(|| EngineError::UnknownAccount(id_or_name.to_string())),
            None => Err(EngineError::UnknownAccount(id_or_name.to_string())),
        }
    }

    /// The account a GitHub installation belongs to, if any.
    pub fn account_for_installation(&self, installation_id: u64) -> Option<Uuid> {
        self.inner
            .installations
            .lock()
            .ok()?
            .get(&installation_id)
            .copied()
    }

    /// The account a callback's `state` was made for, spent or not (the vault keeps the map),
    /// so that a reloaded or late callback can show that account as it is now.
    pub fn account_of_state(&self, oauth_state: &str) -> Option<Uuid> {
        let v = self
            .inner
            .vault
            .get(&link::state_ref(&hash_state(oauth_state)))
            .ok()??;
        Uuid::parse_str(v.expose()).ok()
    }

    /// Stops the saga loop and every effect in flight, and waits until they are gone, so the
    /// folders can be opened again as soon as the last handle is dropped.
    pub async fn shutdown(&self) {
        let mut tasks = match self.inner.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        // A code spent at the provider must have its token stored, or the link is lost.
        self.inner.unstoppable.close().await;
        let _ = self.inner.log.flush();
    }
}
