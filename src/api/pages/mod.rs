//! The dashboard web pages (server-rendered HTML): Settings -> Accounts, linking an account,
//! the group / workspace pickers, and an account's page with its projects and history.

use super::AppState;
use axum::Router;

/// The pages' routes; merged into [`super::router`].
pub fn router() -> Router<AppState> {
    Router::new()
}
