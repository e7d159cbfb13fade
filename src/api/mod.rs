//! The HTTP shell over one [`Engine`]: command messages, queries, the log and its live stream,
//! the providers' OAuth/setup callbacks, signed webhooks, health and metrics, and the dashboard
//! pages. Every handler is thin: it validates its input at the edge and calls the engine or the
//! dashboard projection. [`server::Server`] starts it all; [`demo`] wires it to the sandboxes.
//!
//! Routes and who may call them:
//! - `POST /v1/commands`, `POST /v1/login-links`, `POST /v1/deliveries/{id}/retry`,
//!   `POST /v1/deliveries/retry-parked`: admin token or a dashboard session;
//! - `GET /v1/accounts[?provider=&status=]`, `/v1/accounts/{id-or-name}`, `.../history`,
//!   `.../groups`, `.../workspaces`, `/v1/events?from=&limit=`, `/v1/events/stream`,
//!   `/v1/deliveries?state=&provider=&limit=`,
//!   `/metrics`: viewer or admin token, or a session;
//! - the pages: a session (cookie from `GET /login?token=ONE_TIME`), or a token;
//! - `GET /healthz`, `GET /login`, `GET /callback/{provider}` (the `state` protects it),
//!   `POST /webhooks/{provider}` (the signature protects it): open;
//! - anything else: 401 without credentials, 404 with.

pub mod auth;
mod callbacks;
mod command_json;
mod commands;
pub mod deliveries;
pub mod demo;
pub mod error;
pub mod metrics;
pub mod pages;
mod queries;
pub mod server;
mod webhooks;

use crate::engine::{CommandMessage, CommandReply, Engine, EngineError};
use crate::secret::Secret;
use crate::webhooks::Provider;
use auth::{Access, Role};
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use forgelink_projections::DashboardReader;
use metrics::Metrics;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use callbacks::{callback_request, url_segment};
pub use command_json::{message_types, parse_command};
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
    /// Runs a command and answers once the dashboard shows its events, so a read after the
    /// write sees it. Pages should use this rather than `engine.execute`.
    pub async fn execute(&self, message: CommandMessage) -> Result<CommandReply, EngineError> {
        let reply = self.inner.engine.execute(message).await?;
        if let Some((_, last)) = reply.positions {
            self.wait_for_dashboard(last).await;
        }
        Ok(reply)
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

    /// A new one-time login link to the dashboard.
    pub fn login_link(&self) -> String {
        format!(
            "{}/login?token={}",
            self.inner.public_url,
            self.inner.access.new_login_token()
        )
    }
}

/// The whole HTTP surface. The pages live in [`pages`] and are merged in here.
pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route("/v1/commands", post(commands::post_command))
        .route("/v1/login-links", post(commands::new_login_link))
        .route("/v1/deliveries/{id}/retry", post(deliveries::retry))
        .route("/v1/deliveries/retry-parked", post(deliveries::retry_parked))
        .route_layer(from_fn_with_state(state.clone(), require_admin));
    let viewer = Router::new()
        .route("/v1/accounts", get(queries::list_accounts))
        .route("/v1/accounts/{id}", get(queries::get_account))
        .route("/v1/accounts/{id}/history", get(queries::history))
        .route("/v1/accounts/{id}/groups", get(queries::groups))
        .route("/v1/accounts/{id}/workspaces", get(queries::workspaces))
        .route("/v1/events", get(queries::events))
        .route("/v1/deliveries", get(deliveries::list))
        .route("/v1/events/stream", get(queries::stream))
        .route("/metrics", get(queries::metrics))
        .route_layer(from_fn_with_state(state.clone(), require_viewer));
    let pages = pages::router().layer(from_fn_with_state(state.clone(), require_session));
    let open = Router::new()
        .route("/healthz", get(queries::healthz))
        .route("/login", get(login))
        .route("/callback/{provider}", get(callbacks::callback))
        .route(
            "/webhooks/{provider}",
            post(webhooks::receive).layer(DefaultBodyLimit::max(webhooks::MAX_DELIVERY_BYTES)),
        );
    Router::new()
        .merge(admin)
        .merge(viewer)
        .merge(pages)
        .merge(open)
        .fallback(fallback)
        .with_state(state)
}

async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.inner.access.role(req.headers()) {
        Some(Role::Admin) => next.run(req).await,
        Some(Role::Viewer) => ApiError::new(StatusCode::FORBIDDEN, "the viewer token can only read")
            .hint("send commands with the admin token")
            .into_response(),
        None => ApiError::unauthorized("send Authorization: Bearer ADMIN_TOKEN").into_response(),
    }
}

async fn require_viewer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.inner.access.role(req.headers()) {
        Some(_) => next.run(req).await,
        None => ApiError::unauthorized("send Authorization: Bearer VIEWER_TOKEN (or the admin token)")
            .into_response(),
    }
}

async fn require_session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.inner.access.role(req.headers()) {
        Some(_) => next.run(req).await,
        None => sign_in_page(),
    }
}

fn sign_in_page() -> Response {
    let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in</title>\
        <style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}</style>\
        </head><body><h1>Sign in to forgelink</h1><p>Open the one-time login link that <code>forgelink \
        serve</code> or <code>forgelink demo</code> printed. An admin can make a new one with \
        <code>POST /v1/login-links</code>.</p></body></html>";
    (StatusCode::UNAUTHORIZED, Html(body)).into_response()
}

/// `GET /login?token=ONE_TIME`: spends the token, sets the session cookie, redirects to `/`.
async fn login(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let session = q
        .get("token")
        .and_then(|t| state.inner.access.redeem_login_token(t));
    match session {
        Some(session) => {
            let secure = state.inner.public_url.starts_with("https://");
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, "/".to_string()),
                    (header::SET_COOKIE, auth::session_cookie(&session, secure)),
                ],
            )
                .into_response()
        }
        None => {
            let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Login link not valid</title>\
                </head><body><h1>This login link is not valid</h1><p>A login link works once and expires. \
                Ask for a new one (<code>POST /v1/login-links</code> with the admin token) or restart \
                <code>forgelink demo</code>.</p></body></html>";
            (StatusCode::UNAUTHORIZED, Html(body)).into_response()
        }
    }
}

async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    match state.inner.access.role(req.headers()) {
        Some(_) => {
            ApiError::not_found(format!("no route {} {}", req.method(), req.uri().path())).into_response()
        }
        None => ApiError::unauthorized("send Authorization: Bearer TOKEN").into_response(),
    }
}
