//! `GET /`: Settings -> Accounts, the table of linked accounts (provider, unique name, status,
//! scope, repositories, projects) with the way to link another, served from the dashboard
//! projection and kept current by the live script.

use super::layout::{account_href, page, provider_badge, status_badge};
use super::live;
use crate::api::auth::Signed;
use crate::api::AppState;
use axum::extract::State;
use axum::Extension;
use forgelink_projections::{AccountFilter, AccountRow, AccountStatus};
use maud::{html, Markup};

pub async fn show(State(state): State<AppState>, Extension(signed): Extension<Signed>) -> Markup {
    state.dashboard_current().await;
    let rows = state.inner.dashboard.list(AccountFilter::default());
    let verifying = rows.iter().any(|r| r.verifying);
    let active = rows.iter().filter(|r| r.status == AccountStatus::Active).count();
    let parked = state.inner.deliveries.count(crate::inbox::DeliveryState::Parked);
    let body = html! {
        div.head {
            div {
                h1 { "Accounts" }
                p.sub { "Git provider accounts linked to the platform. New projects create their repositories in an account's scope." }
            }
            a.btn.primary href="/accounts/new" { "Link account" }
        }
        div #live data-stream="" data-poll=[verifying.then_some("1")] {
            p.muted #summary { (rows.len()) " accounts, " (active) " active" }
            @if parked > 0 {
                p.alert role="status" #parked-deliveries {
                    (parked) " webhook deliveries could not be recorded and wait to be retried: "
                    code { "forgelink deliveries --state parked" }
                }
            }
            div.card.flush { (table(&rows)) }
        }
        (live::script())
    };
    page(&signed, "Accounts", body)
}

fn table(rows: &[std::sync::Arc<AccountRow>]) -> Markup {
    html! {
        @if rows.is_empty() {
            div.empty {
                p { "No accounts linked yet." }
                a.btn.primary href="/accounts/new" { "Link your first account" }
            }
        } @else {
            table #accounts {
                caption.skip { "Linked accounts" }
                thead { tr {
                    th scope="col" { "Provider" }
                    th scope="col" { "Name" }
                    th scope="col" { "Status" }
                    th scope="col" { "Scope" }
                    th scope="col" { "Repositories" }
                    th scope="col" { "Projects" }
                } }
                tbody {
                    @for row in rows {
                        tr data-account=(row.name) {
                            td { (provider_badge(row.provider)) }
                            td { a href=(account_href(&row.name)) { strong { (row.name) } } }
                            td { (status_badge(row.status)) }
                            td { @match &row.scope { Some(s) => (s.to_string()), None => span.muted { "—" } } }
                            td.num { (row.repositories.len()) }
                            td.num { (row.projects) }
                        }
                    }
                }
            }
        }
    }
}
