//! The dashboard web pages (server-rendered HTML with maud): Settings -> Accounts, linking an
//! account, the group / workspace pickers, and an account's page with its projects and history.
//! Forms post with a CSRF token tied to the session cookie; a refused command is shown in the
//! page in an alert. The session itself (login link, cookie check) is the API's middleware.

mod account;
mod accounts;
pub mod csrf;
mod layout;
mod link;
mod live;
mod picker;
mod style;
pub mod visitor;

use super::AppState;
use crate::engine::{CommandMessage, CommandReply, EngineError, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;

/// The pages' routes; merged into [`super::router`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(accounts::show))
        .route("/accounts/new", get(link::new_form))
        .route("/accounts", post(link::create))
        .route("/accounts/{name}", get(account::show))
        .route("/accounts/{name}/link", post(link::restart))
        .route("/accounts/{name}/details", post(picker::save))
}

/// Who the pages' commands are recorded as.
const ACTOR: &str = "dashboard";

/// Runs one command message from a page; answers once the dashboard shows it, so the page the
/// person lands on next is current.
async fn run(state: &AppState, request: Request) -> Result<CommandReply, EngineError> {
    state.execute(CommandMessage::new(request).by(ACTOR)).await
}

/// The answer to a form posted without its session's CSRF token: nothing runs.
fn refused() -> Response {
    let body = html! {
        h1 { "Form expired" }
        div.alert role="alert" {
            "This form was not sent from this session's page, so nothing was changed. "
            a href="/" { "Open the page again" } " and resend it."
        }
    };
    (StatusCode::FORBIDDEN, layout::page("Form expired", body)).into_response()
}
