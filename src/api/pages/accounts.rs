//! `GET /`: Settings -> Accounts, the table of linked accounts (provider, unique name, status,
//! scope, repositories, projects) with the way to link another, served from the dashboard
//! projection and kept current by the live script. The accounts that need a person come first
//! ("Needs attention"), then the ones that are fine; `?q=` searches by name and `?status=`
//! shows one status (unlinked accounts only there: unlinking takes an account off the list).
//! The counts above the table count its rows.

use super::layout::{account_href, count, page, provider_badge, status_badge};
use crate::api::auth::Signed;
use crate::api::AppState;
use axum::extract::{Query, State};
use axum::Extension;
use forgelink_projections::{AccountFilter, AccountRow, AccountStatus, NextAction};
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;

/// The dashboard's search and filter, from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// The account just unlinked, to say so.
    #[serde(default)]
    unlinked: Option<String>,
}

/// True when the account waits for a person (not for forgelink, not settled).
pub fn needs_attention(row: &AccountRow) -> bool {
    !matches!(row.next_action(), None | Some(NextAction::WaitForVerification))
}

pub async fn show(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Query(search): Query<Search>,
) -> Markup {
    state.dashboard_current().await;
    let status: Option<AccountStatus> = search
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok());
    let q = search.q.as_deref().unwrap_or("").trim().to_lowercase();
    let all = state.inner.dashboard.list(AccountFilter {
        status,
        ..AccountFilter::default()
    });
    let rows: Vec<Arc<AccountRow>> = all
        .into_iter()
        .filter(|r| status.is_some() || r.status != AccountStatus::Unlinked)
        .filter(|r| q.is_empty() || r.name.to_lowercase().contains(&q))
        .collect();
    let (attention, fine): (Vec<_>, Vec<_>) = rows.iter().cloned().partition(|r| needs_attention(r));
    let active = rows.iter().filter(|r| r.status == AccountStatus::Active).count();
    let parked = state.inner.deliveries.count(crate::inbox::DeliveryState::Parked);
    let filtered = status.is_some() || !q.is_empty();
    let body = html! {
        div.head {
            div {
                h1 { "Accounts" }
                p.sub { "Git provider accounts linked to the platform. New projects create their repositories in an account's scope." }
            }
            @if signed.role >= crate::api::auth::Role::Admin { a.btn.primary href="/accounts/new" { "Link account" } }
        }
        @if let Some(gone) = search.unlinked.as_deref().filter(|n| !n.is_empty() && n.len() <= 63) {
            div.note role="status" #note { (gone) " was unlinked; the name " (gone) " is free again." }
        }
        (filters(search.q.as_deref().unwrap_or(""), status))
        div #live data-stream="" data-from=(*state.inner.checkpoint.borrow() + 1)
            data-poll=[rows.iter().any(|r| r.verifying).then_some("1")] {
            p.muted #summary role="status" {
                (count(rows.len(), "account", "accounts")) ", " (active) " active"
                @if !attention.is_empty() { ", " (attention.len()) " need" @if attention.len() == 1 { "s" } " attention" }
            }
            @if parked > 0 {
                p.alert role="status" #parked-deliveries {
                    (count(parked as usize, "webhook delivery", "webhook deliveries"))
                    " could not be recorded and wait to be retried: "
                    code { "forgelink deliveries --state parked" }
                }
            }
            div.card.flush { (table(&attention, &fine, filtered)) }
        }
    };
    page(&signed, "Accounts", body)
}

fn filters(q: &str, status: Option<AccountStatus>) -> Markup {
    html! {
        form.filters method="get" action="/" role="search" aria-label="Find accounts" {
            div.field {
                label for="q" { "Name" }
                input type="search" id="q" name="q" value=(q) placeholder="Search by name";
            }
            div.field {
                label for="status-filter" { "Status" }
                select id="status-filter" name="status" {
                    option value="" selected[status.is_none()] { "All but unlinked" }
                    @for s in AccountStatus::ALL {
                        option value=(s.as_str()) selected[status == Some(s)] { (s.as_str().replace('_', " ")) }
                    }
                }
            }
            button.btn type="submit" { "Show" }
            @if !q.is_empty() || status.is_some() { a.btn href="/" { "Clear" } }
        }
    }
}

fn table(attention: &[Arc<AccountRow>], fine: &[Arc<AccountRow>], filtered: bool) -> Markup {
    html! {
        @if attention.is_empty() && fine.is_empty() {
            div.empty {
                @if filtered {
                    p { "No account matches." }
                    a.btn href="/" { "Show all accounts" }
                } @else {
                    p { "No accounts linked yet." }
                    a.btn.primary href="/accounts/new" { "Link your first account" }
                }
            }
        } @else {
            table #accounts .cards {
                caption.skip { "Linked accounts" }
                thead { tr {
                    th scope="col" { "Provider" }
                    th scope="col" { "Name" }
                    th scope="col" { "Status" }
                    th scope="col" { "Next action" }
                    th scope="col" { "Scope" }
                    th scope="col" { "Repositories" }
                    th scope="col" { "Projects" }
                } }
                tbody {
                    @if !attention.is_empty() {
                        tr.group-head #needs-attention { td colspan="7" { "Needs attention (" (attention.len()) ")" } }
                        @for row in attention { (account_row(row)) }
                    }
                    @if !fine.is_empty() {
                        tr.group-head { td colspan="7" { @if attention.is_empty() { "All accounts" } @else { "Others" } " (" (fine.len()) ")" } }
                        @for row in fine { (account_row(row)) }
                    }
                }
            }
        }
    }
}

fn account_row(row: &AccountRow) -> Markup {
    let next = row.next_action().map(|a| a.text(row.provider));
    html! {
        tr data-account=(row.name) {
            td data-label="Provider" { (provider_badge(row.provider)) }
            td data-label="Name" { a href=(account_href(&row.name)) { strong { (row.name) } } }
            td data-label="Status" { (status_badge(row.status)) }
            td data-label="Next action" { @match next { Some(n) => (n), None => span.muted { "none" } } }
            td data-label="Scope" { @match &row.scope { Some(s) => (s.to_string()), None => span.muted { "not chosen" } } }
            td.num data-label="Repositories" { (row.repositories.len()) }
            td.num data-label="Projects" { (row.projects) }
        }
    }
}
