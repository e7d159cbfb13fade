//! The HTTP shell over one [`Engine`]: command messages, queries, the log and its live stream,
//! the providers' OAuth/setup callbacks, signed webhooks, health and metrics, and the dashboard
//! pages. Every handler is thin: it validates its input at the edge and calls the engine or the
//! dashboard projection.

pub mod pages;

use crate::engine::Engine;
use axum::Router;
use forgelink_projections::DashboardReader;
use std::sync::Arc;

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
}

/// The whole HTTP surface. The pages live in [`pages`] and are merged in here.
pub fn router(state: AppState) -> Router {
    Router::new().merge(pages::router()).with_state(state)
}
