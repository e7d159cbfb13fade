//! `GET /accounts/{name}`: one account's page: its connection status and next action, the group
//! or workspace pickers while it awaits its details, what it can see, and its audit history.
//! The row is folded from the account's own stream, so the page shows a command's effect at
//! once even when the dashboard projection is a moment behind.

use super::layout::{account_href, alert, page, provider_badge, status_badge};
use super::{csrf, live, picker};
use crate::api::auth::Signed;
use crate::api::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use forgelink_events::StreamId;
use forgelink_projections::{account_history, AccountRow, AccountStatus, HistoryEntry};
use maud::{html, Markup};

pub async fn show(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    render(&state, &signed, &name, None, StatusCode::OK).await
}

/// The account's current row, folded from its stream, with the dashboard's project count.
pub fn current_row(state: &AppState, name: &str) -> Option<AccountRow> {
    let engine = &state.inner.engine;
    let id = engine.resolve_account(name).ok()?;
    let events = engine.log().read_stream(&StreamId::account(id), 1).ok()?;
    let mut row = AccountRow::fold(events.iter()).ok()??;
    if let Some(dash) = state.inner.dashboard.get_by_id(id) {
        row.projects = dash.projects;
    }
    Some(row)
}

/// The page, with `error` shown in an alert and answered with `status`.
pub async fn render(
    state: &AppState,
    signed: &Signed,
    name: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let Some(row) = current_row(state, name) else {
        let body = html! {
            p { a href="/" { "← Accounts" } }
            h1 { "No such account" }
            (alert(Some(&format!("no account is named `{name}`"))))
        };
        return (StatusCode::NOT_FOUND, page(signed, "No such account", body)).into_response();
    };
    let history = account_history(state.inner.engine.log(), row.id).unwrap_or_default();
    let picker = if row.status == AccountStatus::AwaitingDetails {
        Some(picker::render(state, signed, &row).await)
    } else {
        None
    };
    let body = html! {
        p { a href="/" { "← Accounts" } }
        div #live data-stream=(row.id.to_string()) data-poll=[row.verifying.then_some("1")] {
            div.head {
                div {
                    h1 { (row.name) }
                    p.sub { (provider_badge(row.provider)) " · " (status_badge(row.status)) }
                }
                (link_action(signed, &row))
            }
            (alert(error.as_deref()))
            (connection(&row))
            @if let Some(p) = picker { (p) }
            (holdings(&row))
            (history_card(&history))
        }
        (live::script())
    };
    (status, page(signed, &row.name, body)).into_response()
}

fn connection(row: &AccountRow) -> Markup {
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
                        @if let Some(by) = &row.linked_by { " by " (by) }
                    }
                }
                @if let Some(e) = &row.last_error {
                    dt { "Last error" } dd { (e) }
                }
            }
            @if row.verifying {
                p.note role="status" { "forgelink is verifying the approval with " (row.provider.display_name()) "…" }
            }
        }
    }
}

/// "Start linking" where a new attempt may start.
fn link_action(signed: &Signed, row: &AccountRow) -> Markup {
    let label = match row.status {
        AccountStatus::Pending => "Start linking",
        AccountStatus::AwaitingApproval if !row.verifying => "Restart approval",
        AccountStatus::Failed | AccountStatus::Expired | AccountStatus::Disconnected => "Link again",
        _ => return html! {},
    };
    html! {
        form method="post" action={ (account_href(&row.name)) "/link" } {
            (csrf::field(signed))
            button.btn.primary type="submit" { (label) }
        }
    }
}

fn holdings(row: &AccountRow) -> Markup {
    html! {
        section.card aria-labelledby="projects" {
            h2 #projects { "Projects and repositories" }
            p { strong #project-count { (row.projects) } " platform projects use this account." }
            @if row.repositories.is_empty() {
                p.muted { "No repositories visible yet." }
            } @else {
                ul #repositories {
                    @for r in &row.repositories { li { code { (r.full_name) } } }
                }
            }
        }
    }
}

fn history_card(history: &[HistoryEntry]) -> Markup {
    html! {
        section.card aria-labelledby="history" {
            h2 #history { "History" }
            ol.history {
                @for h in history.iter().rev() {
                    li {
                        time datetime=(h.recorded_at.to_rfc3339()) { (h.recorded_at.format("%Y-%m-%d %H:%M:%S")) }
                        span { (h.sentence) }
                    }
                }
            }
        }
    }
}
