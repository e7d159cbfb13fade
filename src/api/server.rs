//! Starting and stopping the server: opens the engine, the dashboard projection (in
//! `{data_dir}/projections`, caught up before the first request and then following the log in a
//! task), the webhook inbox (`{data_dir}/deliveries`) and its workers, and serves [`super::router`] on a
//! listener. Used by `forgelink serve`, `forgelink demo` and the HTTP tests.

use super::auth::{Access, SessionLimits};
use super::listener::{self, ServerLimits};
use super::metrics::Metrics;
use super::{AppInner, AppState};
use crate::engine::{Engine, EngineConfig, EngineError};
use crate::secret::Secret;
use forgelink_projections::{Dashboard, ProjectionError, ProjectionStore, Runner};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The secrets webhook deliveries are checked against; a provider without one refuses every
/// delivery.
#[derive(Clone, Default)]
pub struct WebhookSecrets {
    pub github: Option<Secret>,
    pub gitlab: Option<Secret>,
    pub bitbucket: Option<Secret>,
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &Option<Secret>| if s.is_some() { "[set]" } else { "[not set]" };
        f.debug_struct("WebhookSecrets")
            .field("github", &set(&self.github))
            .field("gitlab", &set(&self.gitlab))
            .field("bitbucket", &set(&self.bitbucket))
            .finish()
    }
}

/// Everything the server needs; the data folder is `engine.data_dir`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub engine: EngineConfig,
    /// How people and providers reach the server (`https://forgelink.example.com`); callback
    /// and webhook URLs derive from it. `None`: `http://` and the listener's address.
    pub public_url: Option<String>,
    pub webhook_secrets: WebhookSecrets,
    pub admin_tokens: Vec<Secret>,
    pub viewer_tokens: Vec<Secret>,
    /// How the webhook inbox's workers run.
    pub inbox: crate::inbox::WorkerConfig,
    /// How long a dashboard session may sit idle, and lasts at most.
    pub sessions: SessionLimits,
    /// Connections, requests in flight, timeouts and the body memory budget.
    pub limits: ServerLimits,
}

impl ServerConfig {
    pub fn new(engine: EngineConfig) -> Self {
        ServerConfig {
            engine,
            public_url: None,
            webhook_secrets: WebhookSecrets::default(),
            admin_tokens: vec![],
            viewer_tokens: vec![],
            inbox: crate::inbox::WorkerConfig::default(),
            sessions: SessionLimits::default(),
            limits: ServerLimits::default(),
        }
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {detail}")]
    Listen { addr: String, detail: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("dashboard projection: {0}")]
    Projection(#[from] ProjectionError),
    #[error("{0}")]
    Deliveries(String),
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    http: JoinHandle<()>,
    runner: JoinHandle<()>,
    store: ProjectionStore,
}

impl Server {
    /// Binds `listen` and starts.
    pub async fn start(listen: SocketAddr, config: ServerConfig) -> Result<Server, ServerError> {
        let listener = TcpListener::bind(listen).await.map_err(|e| ServerError::Listen {
            addr: listen.to_string(),
            detail: e.to_string(),
        })?;
        Self::start_on(listener, config).await
    }

    /// Starts on a listener bound already (so callers can learn the port first and derive the
    /// providers' callback URLs from it).
    pub async fn start_on(listener: TcpListener, config: ServerConfig) -> Result<Server, ServerError> {
        let addr = listener.local_addr().map_err(|e| ServerError::Listen {
            addr: "?".into(),
            detail: e.to_string(),
        })?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let secure = public_url.starts_with("https://");
        let data_dir = config.engine.data_dir.clone();
        let engine = Engine::open(config.engine.clone()).await?;
        let store = ProjectionStore::open(data_dir.join("projections"))?;
        let mut runner = Runner::open(&store, Dashboard::new())?;
        runner.catch_up(engine.log())?;
        let dashboard = runner.projection().reader();
        let checkpoint = runner.watch_checkpoint();
        let log = engine.log().clone();
        let runner_task = tokio::spawn(async move {
            if let Err(e) = runner.follow(&log).await {
                tracing::error!(error = %e, "the dashboard stopped following the log");
            }
        });
        let deliveries =
            crate::inbox::InboxStore::open(&data_dir.join("deliveries")).map_err(ServerError::Deliveries)?;
        let inbox =
            crate::inbox::InboxWorkers::start(deliveries.clone(), engine.clone(), config.inbox.clone())
                .map_err(ServerError::Deliveries)?;
        // Reconciliation heals lost GitHub deliveries into this inbox.
        let healer =
            crate::inbox::InboxHealer::new(deliveries.clone(), inbox.submitter(), config.inbox.settling);
        engine.set_delivery_healer(Arc::new(healer));
        let access = Access::new(
            &config.admin_tokens,
            &config.viewer_tokens,
            config.sessions,
            secure,
        );
        // Instances sharing a database share who is signed in (the vault is shared there).
        let access = match engine.shared_vault() {
            Some(vault) => access.shared_through(vault),
            None => access,
        };
        let state = AppState {
            inner: Arc::new(AppInner {
                engine,
                dashboard,
                checkpoint,
                public_url,
                access,
                metrics: Metrics::default(),
                webhook_secrets: config.webhook_secrets.clone(),
                deliveries,
                inbox,
                setup_updates: Default::default(),
                limits: config.limits,
                in_flight: Arc::new(tokio::sync::Semaphore::new(config.limits.max_in_flight)),
                body_budget: Arc::new(tokio::sync::Semaphore::new(config.limits.body_budget)),
            }),
        };
        let app = super::router(state.clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let limits = config.limits;
        let http = tokio::spawn(async move {
            let stop = async move {
                let _ = stop_rx.await;
            };
            listener::serve(listener, app, limits, stop, Duration::from_millis(1500)).await;
        });
        tracing::info!(%addr, "forgelink is listening");
        Ok(Server {
            addr,
            state,
            stop: Some(stop_tx),
            http,
            runner: runner_task,
            store,
        })
    }

    /// `http://...`: the public URL (the listener's address unless configured).
    pub fn base_url(&self) -> &str {
        &self.state.inner.public_url
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn engine(&self) -> &Engine {
        &self.state.inner.engine
    }

    /// A new one-time login link to the dashboard.
    pub fn login_link(&self) -> String {
        self.state.login_link()
    }

    /// Stops accepting requests (open streams get two seconds), stops the dashboard runner and
    /// the engine, and flushes.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(2), &mut self.http)
            .await
            .is_err()
        {
            self.http.abort();
        }
        self.runner.abort();
        let _ = (&mut self.runner).await;
        self.state.inner.inbox.shutdown().await;
        self.state.inner.engine.shutdown().await;
        let _ = self.store.flush();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.http.abort();
        self.runner.abort();
    }
}
