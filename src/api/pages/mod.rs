//! The dashboard web pages (server-rendered HTML with maud): Settings -> Accounts, linking an
//! account, the group / workspace pickers, and an account's page with its projects and history.
//! Forms post with the session's CSRF token (see `auth`); a refused command is shown in the page
//! in an alert. Who may open or post what is stated in `routes`; its guards hand the signed-in
//! person to the handlers, and the commands a page runs are recorded as done by that person.

mod account;
mod accounts;
pub mod csrf;
mod error_page;
mod history;
pub(crate) mod layout;
mod link;
pub(crate) mod live;
mod manage;
mod notes;
mod picker;
mod projects;
mod stepper;
pub(crate) mod style;
pub mod visitor;

use super::auth::Signed;
use super::AppState;
use crate::engine::{CommandMessage, CommandReply, EngineError, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

pub use error_page::{error_page, error_page_as};

// The handlers, routed in `super::routes`.
pub(crate) use account::show as account_page;
pub(crate) use accounts::show as accounts_page;
pub(crate) use link::{create as create_account, new_form as new_account_form, restart as restart_link};
pub(crate) use manage::{
    confirm as unlink_confirm, reconcile as reconcile_account, rename as rename_account,
    unlink as unlink_account,
};
pub(crate) use picker::save as save_details;
pub(crate) use projects::{create as create_project, detach as detach_project, import as import_project};

/// Runs one command message from a page as the signed-in person; answers once the dashboard
/// shows it, so the page the person lands on next is current.
async fn run(state: &AppState, signed: &Signed, request: Request) -> Result<CommandReply, EngineError> {
    state.execute(CommandMessage::new(request).by(&signed.name)).await
}

/// The answer to a form posted without its session's CSRF token: nothing runs.
fn refused(signed: &Signed) -> Response {
    let body = html! {
        h1 { "Form expired" }
        div.alert role="alert" {
            "This form was not sent from this session's page, so nothing was changed. "
            a href="/" { "Open the page again" } " and resend it."
        }
    };
    (StatusCode::FORBIDDEN, layout::page(signed, "Form expired", body)).into_response()
}
