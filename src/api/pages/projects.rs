//! An account's projects on its page: the list (status, repository link, what to do next), the
//! "Create project" form (the repository is created in the account's scope), the blueprint
//! repositories found on the account with an "Import" action each, the repositories the account
//! sees, and the handlers: `POST /accounts/{name}/projects`, `POST /accounts/{name}/import`,
//! `POST /accounts/{name}/projects/{id}/detach`.

use super::account::{self, View};
use super::layout::{account_href, count, plain};
use super::{csrf, notes, refused, run};
use crate::api::auth::{Role, Signed};
use crate::api::AppState;
use crate::domain::{ProjectState, ProjectStatus};
use crate::engine::Request;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use forgelink_projections::{AccountRow, AccountStatus};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

/// The panel, and whether a project is still being made (the page keeps asking then).
pub struct Panel {
    pub markup: Markup,
    pub busy: bool,
}

fn status_words(s: ProjectStatus) -> (&'static str, &'static str) {
    match s {
        ProjectStatus::Ready => ("ready", "ok"),
        ProjectStatus::CreatingRepository => ("creating repository", "wait"),
        ProjectStatus::AwaitingAccess => ("awaiting access", "warn"),
        ProjectStatus::Failed => ("failed", "bad"),
        ProjectStatus::RepositoryDeleted => ("repository deleted", "bad"),
        ProjectStatus::Detached | ProjectStatus::None => ("detached", "off"),
    }
}

pub fn panel(state: &AppState, signed: &Signed, row: &AccountRow, view: &View) -> Panel {
    let engine = &state.inner.engine;
    let mut projects = engine.projects_of_account(row.id).unwrap_or_default();
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    let busy = projects
        .iter()
        .any(|p| p.status == ProjectStatus::CreatingRepository);
    let blueprints = engine
        .account_state(row.id)
        .map(|s| s.blueprints)
        .unwrap_or_default();
    let admin = signed.role >= Role::Admin;
    let active = row.status == AccountStatus::Active;
    let bound = |full_name: &str| {
        projects.iter().find(|p| {
            p.status != ProjectStatus::Detached
                && p.repository.as_ref().is_some_and(|r| r.full_name == full_name)
        })
    };
    let project_error = view.error.as_deref().filter(|_| view.field == Some("project"));
    let markup = html! {
        section.card aria-labelledby="projects" {
            h2 #projects { "Projects" }
            @if projects.is_empty() {
                p.muted #no-projects { "No project uses this account yet." }
            } @else {
                table #project-list .cards {
                    caption.skip { "Projects of this account" }
                    thead { tr { th scope="col" { "Project" } th scope="col" { "Status" } th scope="col" { "Repository" } th scope="col" { span.skip { "Actions" } } } }
                    tbody {
                        @for p in &projects { (project_row(signed, row, p, admin)) }
                    }
                }
            }
            @if admin && active {
                form.row-form method="post" action={ (account_href(&row.name)) "/projects" } {
                    (csrf::field(signed))
                    div.field {
                        label for="project-name" { "New project name" }
                        input type="text" id="project-name" name="name" required maxlength="100" autocomplete="off"
                            aria-invalid=[project_error.map(|_| "true")]
                            aria-describedby={ "project-hint" @if project_error.is_some() { " project-error" } };
                    }
                    button.btn.primary type="submit" { "Create project" }
                }
                p.hint #project-hint { "Its repository is created in " (row.scope.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "the account's scope".into())) "." }
                @if let Some(e) = project_error {
                    p.field-error #project-error role="alert" tabindex="-1" { (e) }
                }
            } @else if admin && row.status != AccountStatus::Unlinked {
                p.muted { "Projects can be created once the account is active." }
            }
        }
        section.card aria-labelledby="blueprints" {
            h2 #blueprints { "Blueprints" }
            p #blueprint-count { (count(blueprints.len(), "blueprint repository", "blueprint repositories")) " found on this account." }
            @if !blueprints.is_empty() {
                ul.plain #blueprint-list {
                    @for b in &blueprints {
                        li data-repository=(b.repository.full_name) {
                            code { (b.repository.full_name) }
                            " "
                            @match bound(&b.repository.full_name) {
                                Some(p) => span.muted { "imported as " (p.name) },
                                None => @if admin && active {
                                    form.inline method="post" action={ (account_href(&row.name)) "/import" } {
                                        (csrf::field(signed))
                                        input type="hidden" name="repository" value=(b.repository.full_name);
                                        button.btn.small type="submit" aria-label={ "Import " (b.repository.full_name) } { "Import" }
                                    }
                                },
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="repositories" {
            h2 #repositories { "Repositories" }
            p { (count(row.repositories.len(), "repository", "repositories")) " visible to forgelink." }
            @if !row.repositories.is_empty() {
                ul #repository-list {
                    @for r in &row.repositories { li { code { (r.full_name) } } }
                }
            }
        }
    };
    Panel { markup, busy }
}

fn project_row(signed: &Signed, row: &AccountRow, p: &ProjectState, admin: bool) -> Markup {
    let (words, tone) = status_words(p.status);
    let id = p.project_id.map(|i| i.to_string()).unwrap_or_default();
    html! {
        tr data-project=(p.name) {
            td data-label="Project" { strong { (p.name) } }
            td data-label="Status" {
                span class={ "badge " (tone) } data-status=(p.status.as_str()) { (words) }
                @if let Some(next) = p.next_action() { p.hint { (plain(&next)) } }
            }
            td data-label="Repository" {
                @match &p.repository {
                    Some(r) if !r.web_url.is_empty() => a.repo href=(r.web_url) { (r.full_name) },
                    Some(r) => code { (r.full_name) },
                    None => span.muted { "not yet" },
                }
            }
            td data-label="Actions" {
                @if admin && !matches!(p.status, ProjectStatus::Detached | ProjectStatus::None) {
                    form.inline method="post" action={ (account_href(&row.name)) "/projects/" (id) "/detach" } {
                        (csrf::field(signed))
                        button.btn.small.danger type="submit" aria-label={ "Detach " (p.name) } { "Detach" }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NewProject {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    repository: String,
}

async fn refuse(state: &AppState, signed: &Signed, name: &str, message: String) -> Response {
    let view = View::error(message).on_field("project");
    account::render(state, signed, name, view, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST /accounts/{name}/projects`: a new project; its repository is created by forgelink.
pub async fn create(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(input): Form<NewProject>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let project = input.name.trim().to_string();
    if project.is_empty() {
        return refuse(&state, &signed, &name, "Give the project a name.".into()).await;
    }
    let request = Request::CreateProject {
        project_id: None,
        name: project.clone(),
        account: name.clone(),
    };
    match run(&state, &signed, request).await {
        Ok(_) => Redirect::to(&notes::with_what(
            &account_href(&name),
            "project-created",
            &project,
        ))
        .into_response(),
        Err(e) => refuse(&state, &signed, &name, e.to_string()).await,
    }
}

/// `POST /accounts/{name}/import`: a project bound to a blueprint repository of the account,
/// named after the repository.
pub async fn import(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Form(input): Form<NewProject>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let repository = input.repository.trim().to_string();
    let project = match input.name.trim() {
        "" => repository.rsplit('/').next().unwrap_or("").to_string(),
        n => n.to_string(),
    };
    if repository.is_empty() || project.is_empty() {
        return refuse(&state, &signed, &name, "Choose a repository to import.".into()).await;
    }
    let request = Request::ImportProject {
        project_id: None,
        name: project.clone(),
        account: name.clone(),
        repository,
    };
    match run(&state, &signed, request).await {
        Ok(_) => Redirect::to(&notes::with_what(
            &account_href(&name),
            "project-imported",
            &project,
        ))
        .into_response(),
        Err(e) => refuse(&state, &signed, &name, e.to_string()).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /accounts/{name}/projects/{id}/detach`: the project stops using its repository.
pub async fn detach(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path((name, id)): Path<(String, String)>,
    Form(input): Form<CsrfOnly>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let Ok(project_id) = Uuid::parse_str(&id) else {
        return refuse(&state, &signed, &name, "That project does not exist.".into()).await;
    };
    let project = state
        .inner
        .engine
        .project_state(project_id)
        .map(|p| p.name)
        .unwrap_or_default();
    let request = Request::DetachProject {
        project_id,
        reason: Some(format!("detached by {}", signed.name)),
    };
    match run(&state, &signed, request).await {
        Ok(_) => Redirect::to(&notes::with_what(
            &account_href(&name),
            "project-detached",
            &project,
        ))
        .into_response(),
        Err(e) => refuse(&state, &signed, &name, e.to_string()).await,
    }
}
