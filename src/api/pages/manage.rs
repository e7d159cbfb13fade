//! What a person can do with an account besides linking it: "Reconcile now" (ask the provider
//! for the truth now and say what was found), rename it, and unlink it after a confirmation
//! that says what happens to its projects and its credentials (the name becomes free; an
//! account that failed or was abandoned leaves the list the same way).
//! `POST /accounts/{name}/reconcile`, `POST /accounts/{name}/rename`,
//! `GET|POST /accounts/{name}/unlink`.

use super::account::{self, View};
use super::layout::{account_href, page, provider_badge, status_badge};
use super::{csrf, notes, refused, run};
use crate::api::auth::Signed;
use crate::api::AppState;
use crate::engine::Request;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use forgelink_events::Provider;
use forgelink_projections::{AccountRow, AccountStatus};
use maud::{html, Markup};
use serde::Deserialize;

/// The "Manage" card of an account page.
pub fn card(signed: &Signed, row: &AccountRow, view: &View) -> Markup {
    let href = account_href(&row.name);
    let rename_error = view.error.as_deref().filter(|_| view.field == Some("to"));
    let settled = matches!(row.status, AccountStatus::Active | AccountStatus::Suspended);
    html! {
        section.card aria-labelledby="manage" {
            h2 #manage { "Manage" }
            @if settled {
                form.row-form method="post" action={ (href) "/reconcile" } {
                    (csrf::field(signed))
                    button.btn type="submit" { "Reconcile now" }
                }
                p.hint { "Asks " (row.provider.display_name()) " now for what changed and records it." }
            }
            form.row-form.spaced method="post" action={ (href) "/rename" } {
                (csrf::field(signed))
                div.field {
                    label for="rename-to" { "New name" }
                    input type="text" id="rename-to" name="to" value=(row.name) required maxlength="63"
                        pattern="[A-Za-z0-9_\\-]+" title=(super::link::NAME_RULE) autocomplete="off"
                        aria-invalid=[rename_error.map(|_| "true")]
                        aria-describedby=[rename_error.map(|_| "rename-error")];
                }
                button.btn type="submit" { "Rename" }
            }
            @if let Some(e) = rename_error {
                p.field-error #rename-error role="alert" tabindex="-1" { (e) }
            }
            div.spaced {
                a.btn.danger href={ (href) "/unlink" } { "Unlink" }
                @if !settled { " " span.hint { "Unlinking an unfinished account removes it from the list and frees its name." } }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /accounts/{name}/reconcile`: reconcile the account now; the page says what was found.
pub async fn reconcile(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(input): Form<CsrfOnly>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let request = Request::Reconcile {
        account: Some(name.clone()),
    };
    match run(&state, &signed, request).await {
        Ok(reply) => {
            let lines = reply.reconciled.map(|r| r.accounts).unwrap_or_default();
            let href = account_href(&name);
            if lines.iter().any(|l| l.stopped_because.is_some()) {
                return Redirect::to(&notes::with_note(&href, "reconcile-stopped")).into_response();
            }
            let n = lines.iter().map(|l| l.events_recorded).sum();
            Redirect::to(&notes::with_count(&href, "reconciled", n)).into_response()
        }
        Err(e) => {
            account::render(
                &state,
                &signed,
                &name,
                View::error(e.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Rename {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    to: String,
}

/// `POST /accounts/{name}/rename`.
pub async fn rename(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(input): Form<Rename>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let to = input.to.trim().to_string();
    let fail = |m: String| {
        let (state, signed, name) = (state.clone(), signed.clone(), name.clone());
        async move {
            let view = View::error(m).on_field("to");
            account::render(&state, &signed, &name, view, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    };
    if to.is_empty() {
        return fail(format!("Give the account a new name. {}", super::link::NAME_RULE)).await;
    }
    let request = Request::RenameAccount {
        account: name.clone(),
        to: to.clone(),
    };
    match run(&state, &signed, request).await {
        Ok(_) => Redirect::to(&notes::with_note(&account_href(&to), "renamed")).into_response(),
        Err(e) => {
            fail(format!(
                "{}. {}",
                e.to_string().trim_end_matches('.'),
                super::link::NAME_RULE
            ))
            .await
        }
    }
}

/// What unlinking does to this account, in words.
fn consequences(row: &AccountRow) -> Vec<String> {
    let on = row.provider.display_name();
    let mut out = vec![];
    if row.projects > 0 {
        out.push(format!(
            "Its {} keep their repositories on {on}, but forgelink stops following them: pushes and changes are no longer recorded, and its webhooks on them are removed.",
            super::layout::count(row.projects as usize, "project", "projects")
        ));
    } else {
        out.push("No project uses it.".into());
    }
    out.push(match row.provider {
        Provider::GitHub => "forgelink's access to the installation is revoked and its keys for it are destroyed. The app stays installed on GitHub: uninstall it there if you no longer want it.".into(),
        Provider::GitLab => "forgelink's GitLab tokens are revoked on GitLab and destroyed.".into(),
        Provider::Bitbucket => "forgelink's Bitbucket tokens are destroyed (Bitbucket offers no way to revoke them: remove forgelink's access in your Bitbucket settings if you want).".into(),
    });
    out.push(format!(
        "The account leaves the list and the name {} becomes free.",
        row.name
    ));
    out
}

/// `GET /accounts/{name}/unlink`: the confirmation.
pub async fn confirm(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    let Some(row) = account::current_row(&state, &name) else {
        return account::not_found(&signed, &name);
    };
    if row.status == AccountStatus::Unlinked {
        return Redirect::to("/").into_response();
    }
    let href = account_href(&row.name);
    let body = html! {
        p { a href=(href) { "← " (row.name) } }
        h1 { "Unlink " (row.name) "?" }
        p.sub { (provider_badge(row.provider)) " · " (status_badge(row.status)) }
        div.card.danger-zone {
            h2 { "What happens" }
            ul #consequences { @for c in consequences(&row) { li { (c) } } }
            div.actions {
                form.inline method="post" action={ (href) "/unlink" } {
                    (csrf::field(&signed))
                    button.btn.danger.solid type="submit" { "Unlink " (row.name) }
                }
                a.btn href=(href) { "Cancel" }
            }
        }
    };
    page(&signed, &format!("Unlink {}", row.name), body).into_response()
}

/// `POST /accounts/{name}/unlink`: unlinks, then back to the list.
pub async fn unlink(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(input): Form<CsrfOnly>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let request = Request::UnlinkAccount {
        account: name.clone(),
        reason: None,
    };
    match run(&state, &signed, request).await {
        Ok(_) => Redirect::to(&format!(
            "/?unlinked={}",
            crate::api::callbacks::url_segment(&name)
        ))
        .into_response(),
        Err(e) => {
            account::render(
                &state,
                &signed,
                &name,
                View::error(e.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
