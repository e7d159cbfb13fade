//! The details step: the GitLab group picker and the Bitbucket workspace + project key pickers,
//! filled from what the provider lists for the account's user now, and `POST
//! /accounts/{name}/details`, which selects the choice and saves the details (-> active).

use super::layout::{account_href, alert};
use super::{account, csrf, refused, run};
use crate::api::auth::Signed;
use crate::api::AppState;
use crate::engine::Request;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use forgelink_events::Provider;
use forgelink_projections::{AccountRow, Scope};
use maud::{html, Markup};
use serde::Deserialize;

/// The picker card for an account awaiting its details.
pub async fn render(state: &AppState, signed: &Signed, row: &AccountRow) -> Markup {
    let engine = &state.inner.engine;
    let fields = match row.provider {
        Provider::GitLab => match engine.gitlab_groups(row.id).await {
            Ok(groups) => {
                let chosen = match &row.scope {
                    Some(Scope::GitlabGroup { group_id, .. }) => Some(*group_id),
                    _ => None,
                };
                html! {
                    div.field {
                        label for="group_id" { "GitLab group" }
                        select #group_id name="group_id" required aria-describedby="group-hint" {
                            @for g in &groups {
                                option value=(g.id) selected[chosen == Some(g.id)] {
                                    (g.full_path)
                                    // The name only where the path does not already end with it.
                                    @if g.full_path.rsplit('/').next() != Some(g.name.as_str()) { " — " (g.name) }
                                }
                            }
                        }
                        p.hint #group-hint { "New projects' repositories are created in this group." }
                    }
                }
            }
            Err(e) => return unavailable(&e.to_string()),
        },
        Provider::Bitbucket => match engine.bitbucket_workspaces(row.id).await {
            Ok(workspaces) => {
                let (ws_chosen, key_chosen) = match &row.scope {
                    Some(Scope::BitbucketWorkspace {
                        workspace,
                        project_key,
                    }) => (Some(workspace.to_string()), Some(project_key.to_string())),
                    _ => (None, None),
                };
                html! {
                    div.field {
                        label for="workspace" { "Bitbucket workspace" }
                        select #workspace name="workspace" required {
                            @for w in &workspaces {
                                option value=(w.slug) selected[ws_chosen.as_deref() == Some(&w.slug)] { (w.name) " (" (w.slug) ")" }
                            }
                        }
                    }
                    div.field {
                        label for="project_key" { "Project key" }
                        select #project_key name="project_key" required aria-describedby="key-hint" {
                            @for w in &workspaces {
                                optgroup label=(w.name) data-workspace=(w.slug) {
                                    @for p in &w.projects {
                                        option value=(p.key) selected[ws_chosen.as_deref() == Some(&w.slug) && key_chosen.as_deref() == Some(&p.key)] {
                                            (p.key) " — " (p.name)
                                        }
                                    }
                                }
                            }
                        }
                        p.hint #key-hint { "New repositories go into this project of the workspace." }
                    }
                }
            }
            Err(e) => return unavailable(&e.to_string()),
        },
        Provider::GitHub => html! { p { "The GitHub App installation is the scope; save to finish." } },
    };
    html! {
        section.card aria-labelledby="details" {
            h2 #details { "Details" }
            form method="post" action={ (account_href(&row.name)) "/details" } {
                (csrf::field(signed))
                (fields)
                button.btn.primary type="submit" { "Save Details" }
            }
        }
    }
}

fn unavailable(message: &str) -> Markup {
    html! {
        section.card aria-labelledby="details" {
            h2 #details { "Details" }
            (alert(Some(&format!("the choices could not be read from the provider: {message}. Reload the page to try again."))))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Details {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    workspace: Option<String>,
    #[serde(default)]
    project_key: Option<String>,
}

/// `POST /accounts/{name}/details`: select the choice, then save the details.
pub async fn save(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(input): Form<Details>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let fail = |m: String| {
        let (state, signed, name) = (state.clone(), signed.clone(), name.clone());
        async move {
            account::render(
                &state,
                &signed,
                &name,
                account::View::error(m),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let Some(row) = account::current_row(&state, &name) else {
        return account::not_found(&signed, &name);
    };
    let select = match row.provider {
        Provider::GitLab => {
            let id = input.group_id.as_deref().unwrap_or("").trim();
            match id.parse::<u64>() {
                Ok(group_id) => Some(Request::SelectGroup {
                    account: name.clone(),
                    group_id,
                }),
                Err(_) => return fail("choose a GitLab group".into()).await,
            }
        }
        Provider::Bitbucket => {
            let workspace = input.workspace.unwrap_or_default().trim().to_string();
            let project_key = input.project_key.unwrap_or_default().trim().to_string();
            if workspace.is_empty() || project_key.is_empty() {
                return fail("choose a Bitbucket workspace and a project key".into()).await;
            }
            Some(Request::SelectWorkspace {
                account: name.clone(),
                workspace,
                project_key,
            })
        }
        Provider::GitHub => None,
    };
    if let Some(select) = select {
        if let Err(e) = run(&state, &signed, select).await {
            return fail(e.to_string()).await;
        }
    }
    let saved = run(
        &state,
        &signed,
        Request::SaveDetails {
            account: name.clone(),
        },
    )
    .await;
    match saved {
        Ok(_) => Redirect::to(&account_href(&row.name)).into_response(),
        Err(e) => fail(e.to_string()).await,
    }
}
