//! `GET /accounts/{name}`: one account's page: where its link is (the provider's steps), its
//! connection and next action, the group or workspace pickers while it awaits its details, its
//! projects (create, import a blueprint, detach), what it can see, what a person can do with it
//! (reconcile, rename, unlink) and its history in people's words.
//! The row is folded from the account's own stream, so the page shows a command's effect at
//! once even when the dashboard projection is a moment behind.

use super::layout::{account_href, alert, page, provider_badge, status_badge};
use super::{csrf, history, manage, notes, picker, projects, stepper};
use crate::api::auth::{Role, Signed};
use crate::api::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use forgelink_events::{Envelope, StreamId};
use forgelink_projections::{AccountRow, AccountStatus};
use maud::{html, Markup};

pub async fn show(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Query(note): Query<notes::Note>,
) -> Response {
    let view = View {
        note: note.text(),
        ..View::default()
    };
    render(&state, &signed, &name, view, StatusCode::OK).await
}

/// What a page shows beyond the account itself: a refusal (tied to a field when it names one)
/// or a note about what was just done.
#[derive(Debug, Default)]
pub struct View {
    pub error: Option<String>,
    /// The form field the error is about (`project`, `to`), so it is marked there.
    pub field: Option<&'static str>,
    pub note: Option<String>,
}

impl View {
    pub fn error(message: impl Into<String>) -> View {
        View {
            error: Some(super::layout::plain(&message.into())),
            ..View::default()
        }
    }

    pub fn on_field(mut self, field: &'static str) -> View {
        self.field = Some(field);
        self
    }
}

/// The account's events, oldest first.
pub fn events_of(state: &AppState, name: &str) -> Option<Vec<Envelope>> {
    let engine = &state.inner.engine;
    let id = engine.resolve_account(name).ok()?;
    engine.log().read_stream(&StreamId::account(id), 1).ok()
}

/// The account's current row, folded from its stream, with the dashboard's project count.
pub fn current_row(state: &AppState, name: &str) -> Option<AccountRow> {
    row_of(state, &events_of(state, name)?)
}

fn row_of(state: &AppState, events: &[Envelope]) -> Option<AccountRow> {
    let mut row = AccountRow::fold(events.iter()).ok()??;
    if let Some(dash) = state.inner.dashboard.get_by_id(row.id) {
        row.projects = dash.projects;
    }
    Some(row)
}

/// Who named the account (the first event's actor).
pub fn named_by(state: &AppState, row: &AccountRow) -> Option<String> {
    let events = state
        .inner
        .engine
        .log()
        .read_stream(&StreamId::account(row.id), 1)
        .ok()?;
    events.first().map(|e| e.actor.clone())
}

/// The page for an account that does not exist (any more).
pub fn not_found(signed: &Signed, name: &str) -> Response {
    let body = html! {
        p { a href="/" { "← Accounts" } }
        h1 { "No such account" }
        div.alert role="alert" #error tabindex="-1" {
            "No account is named " strong { (name) } ". It may have been unlinked or renamed."
        }
        p { a.btn href="/" { "Open the accounts" } }
    };
    (StatusCode::NOT_FOUND, page(signed, "No such account", body)).into_response()
}

/// The page, with `view`'s error or note, answered with `status`.
pub async fn render(
    state: &AppState,
    signed: &Signed,
    name: &str,
    view: View,
    status: StatusCode,
) -> Response {
    // Taken before the events are read: whatever comes after reaches the page by its stream.
    let head = state.inner.engine.log().head();
    let Some(events) = events_of(state, name) else {
        return not_found(signed, name);
    };
    let Some(row) = row_of(state, &events) else {
        return not_found(signed, name);
    };
    let admin = signed.role >= Role::Admin;
    let picker = if row.status == AccountStatus::AwaitingDetails && admin {
        Some(picker::render(state, signed, &row).await)
    } else {
        None
    };
    let projects = projects::panel(state, signed, &row, &view);
    let busy = row.verifying || projects.busy;
    let lines = history::lines(&events, &signed.name);
    let body = html! {
        p { a href="/" { "← Accounts" } }
        // While projects are being made, any event may be theirs: listen to all.
        // Events after this render reach the page even when they come before its stream opens.
        div #live data-stream=(if projects.busy { String::new() } else { row.id.to_string() })
            data-from=(head + 1) data-poll=[busy.then_some("1")] {
            div.head {
                div {
                    h1 { (row.name) }
                    p.sub { (provider_badge(row.provider)) " · " (status_badge(row.status)) }
                }
                @if admin { (link_action(signed, &row)) }
            }
            (alert(view.error.as_deref().filter(|_| view.field.is_none())))
            @if let Some(n) = &view.note {
                div.note role="status" #note { (n) }
            }
            (stepper::render(&row, &events))
            (connection(&row, &signed.name))
            @if let Some(p) = picker { (p) }
            (projects.markup)
            @if admin && row.status != AccountStatus::Unlinked { (manage::card(signed, &row, &view)) }
            (history_card(&lines))
        }
    };
    (status, page(signed, &row.name, body)).into_response()
}

fn connection(row: &AccountRow, viewer: &str) -> Markup {
    let next = row.next_action().map(|a| a.text(row.provider));
    html! {
        section.card aria-labelledby="connection" {
            h2 #connection { "Connection" }
            dl.facts {
                dt { "Status" } dd #status { (status_badge(row.status)) }
                dt { "Next action" } dd #next-action { (next.as_deref().unwrap_or("none")) }
                dt { "Scope" } dd { @match &row.scope { Some(s) => (s.to_string()), None => "not chosen yet" } }
                @if let Some(at) = row.linked_at {
                    dt { "Linked" } dd {
                        (at.format("%Y-%m-%d %H:%M UTC"))
                        @if let Some(by) = &row.linked_by { " by " (history::who(by, viewer, row.provider)) }
                    }
                }
                @if let Some(e) = &row.last_error {
                    dt { "Last problem" } dd { (super::layout::plain(e)) }
                }
            }
            @if row.verifying {
                p.note role="status" { "forgelink is checking the approval with " (row.provider.display_name()) "…" }
            }
        }
    }
}

/// "Continue linking" / "Link again" where a new attempt may start.
fn link_action(signed: &Signed, row: &AccountRow) -> Markup {
    let label = match row.status {
        AccountStatus::Pending => "Start linking",
        AccountStatus::AwaitingApproval if !row.verifying => "Continue linking",
        AccountStatus::AwaitingOwnerApproval if !row.verifying => "Link again",
        AccountStatus::Failed | AccountStatus::Expired | AccountStatus::Disconnected => "Link again",
        _ => return html! {},
    };
    html! {
        form.inline method="post" action={ (account_href(&row.name)) "/link" } {
            (csrf::field(signed))
            button.btn.primary type="submit" #link-action { (label) }
        }
    }
}

fn history_card(lines: &[history::Line]) -> Markup {
    html! {
        section.card aria-labelledby="history" {
            h2 #history { "History" }
            ol.history {
                @for h in lines.iter().rev() {
                    li {
                        time datetime=(h.at.to_rfc3339()) { (h.at.format("%Y-%m-%d %H:%M:%S")) }
                        span { (h.text) }
                    }
                }
            }
        }
    }
}
