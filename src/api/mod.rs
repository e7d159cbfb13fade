//! The HTTP shell over one [`Engine`]: command messages, queries, the log and its live stream,
//! the providers' OAuth/setup callbacks, signed webhooks, health and metrics, and the dashboard
//! pages. Every handler is thin: it validates its input at the edge and calls the engine or the
//! dashboard projection. [`server::Server`] starts it all; [`demo`] wires it to the sandboxes.
//!
//! Who may call which route is stated in ONE table, [`routes::table`]; the router is built
//! from it. Bodies are capped and webhook bodies streamed against a memory budget ([`limits`]).

mod audit;
pub mod auth;
mod callbacks;
mod command_json;
mod commands;
pub mod deliveries;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod headers;
pub mod limits;
pub(crate) mod link_binding;
mod link_continue;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod problem;
mod queries;
pub mod routes;
pub mod server;
mod session;
pub mod setup_updates;
mod shared_access;
mod webhooks;

use crate::engine::{CommandMessage, CommandReply, Engine, EngineError};
use crate::secret::Secret;
use crate::webhooks::Provider;
use auth::{Access, Role};
use axum::Router;
use forgelink_projections::DashboardReader;
use metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;

pub use callbacks::{callback_request, url_segment};
pub use command_json::{message_types, parse_command};
pub use listener::ServerLimits;
pub use server::{Server, ServerConfig, WebhookSecrets};

/// How long a command's answer waits for the dashboard to show it.
const DASHBOARD_WAIT: Duration = Duration::from_secs(10);

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<AppInner>,
}

/// The server's shared parts.
pub struct AppInner {
    pub engine: Engine,
    /// The live dashboard projection (kept current by a runner following the log).
    pub dashboard: DashboardReader,
    /// The dashboard runner's checkpoint (last applied position).
    pub checkpoint: tokio::sync::watch::Receiver<u64>,
    /// `http://HOST:PORT` as people and providers reach the server, without a trailing slash.
    pub public_url: String,
    pub access: Access,
    pub metrics: Metrics,
    pub webhook_secrets: WebhookSecrets,
    /// The durable webhook inbox (`{data_dir}/deliveries`) and its workers.
    pub deliveries: crate::inbox::InboxStore,
    pub inbox: crate::inbox::InboxWorkers,
    /// GitHub setup updates without a `state`: reconciliations scheduled, rate-limited.
    pub setup_updates: setup_updates::SetupUpdates,
    pub limits: listener::ServerLimits,
    /// One permit per request being handled (load shedding beyond).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// One permit per byte of request body held (see `limits`).
    pub body_budget: Arc<tokio::sync::Semaphore>,
}

impl AppInner {
    /// The configured webhook secret of `provider` (empty: every delivery is refused).
    pub fn webhook_secret(&self, provider: Provider) -> Secret {
        let s = match provider {
            Provider::GitHub => &self.webhook_secrets.github,
            Provider::GitLab => &self.webhook_secrets.gitlab,
            Provider::Bitbucket => &self.webhook_secrets.bitbucket,
        };
        s.clone().unwrap_or_else(|| Secret::new(""))
    }
}

impl AppState {
    /// Runs a command and answers once its own append is durable and its own stream is folded;
    /// it does not wait for the dashboard (queries do, see `dashboard_current`), so one slow
    /// projection step never holds every command's reply. Pages use this like the API.
    pub async fn execute(&self, message: CommandMessage) -> Result<CommandReply, EngineError> {
        self.inner.engine.execute(message).await
    }

    /// Waits (bounded) until the dashboard has applied everything committed before this call,
    /// so a query sees every command already answered (read your writes).
    pub async fn dashboard_current(&self) {
        self.wait_for_dashboard(self.inner.engine.log().head()).await;
    }

    /// Waits (bounded) until the dashboard has applied `position`.
    pub async fn wait_for_dashboard(&self, position: u64) {
        let mut rx = self.inner.checkpoint.clone();
        let waited = tokio::time::timeout(DASHBOARD_WAIT, rx.wait_for(|c| *c >= position)).await;
        if waited.is_err() {
            tracing::warn!(
                position,
                "the dashboard did not reach the command's position in time"
            );
        }
    }

    /// A new one-time login link to the dashboard for `person` with `role`.
    pub fn login_link_for(&self, person: &str, role: Role) -> String {
        format!(
            "{}/login?token={}",
            self.inner.public_url,
            self.inner.access.new_login_token(person, role)
        )
    }

    /// A new one-time admin login link for `admin` (the demo and the tests).
    pub fn login_link(&self) -> String {
        self.login_link_for("admin", Role::Admin)
    }
}

/// The whole HTTP surface, built from [`routes::table`].
pub fn router(state: AppState) -> Router {
    routes::router(state)
}
