//! The projects step of `forgelink demo --walkthrough`: once the three accounts are active, one
//! platform project on each (`CreateProject` over the API: the saga creates its repository in
//! the account's org, group or workspace project), one blueprint repository the account found
//! imported (`ImportProject` on the GitHub account: no repository is created), and the projects
//! printed with their repositories. A data folder whose account has projects already keeps them.

use super::data::CliError;
use super::table;
use super::walkthrough::{fail, Api, STATUS_WAIT};
use forgelink::api::demo::DemoHandle;
use forgelink::domain::{ProjectState, ProjectStatus};
use forgelink::engine::Engine;
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The project created on each account.
const PROJECT: &str = "Payments";
/// The project bound to the imported blueprint repository.
const IMPORTED: &str = "Service blueprint";

/// Creates the projects on the active accounts among `accounts`, imports one blueprint on the
/// first, and prints them all. Fails when a project does not become ready.
pub async fn run(api: &Api, handle: &DemoHandle, accounts: &[&str]) -> Result<(), CliError> {
    let engine = handle.server.engine();
    println!("Projects:");
    let mut waiting = Vec::new();
    for (i, name) in accounts.iter().enumerate() {
        let account_id = engine.resolve_account(name).map_err(|e| fail(name, e))?;
        if !engine
            .projects_of_account(account_id)
            .map_err(|e| fail(name, e))?
            .is_empty()
        {
            println!("  {name} has its projects already");
            continue;
        }
        let reply = api
            .command(json!({"type": "CreateProject", "name": PROJECT, "account": name}))
            .await?;
        waiting.extend(project_id(&reply));
        if i == 0 {
            let blueprint = wait_blueprint(engine, account_id).await?;
            println!("  {name} found blueprint {blueprint}");
            let reply = api
                .command(json!({"type": "ImportProject", "name": IMPORTED,
                    "account": name, "repository": blueprint}))
                .await?;
            waiting.extend(project_id(&reply));
        }
    }
    let mut not_ready = Vec::new();
    for id in waiting {
        let state = wait_settled(engine, id).await?;
        if state.status != ProjectStatus::Ready {
            not_ready.push(format!("{} ({})", state.name, state.status.as_str()));
        }
    }
    print_projects(engine, accounts)?;
    if not_ready.is_empty() {
        Ok(())
    } else {
        Err(fail("projects", format!("not ready: {}", not_ready.join(", "))))
    }
}

fn project_id(reply: &serde_json::Value) -> Option<Uuid> {
    reply["project_id"].as_str().and_then(|s| Uuid::parse_str(s).ok())
}

/// The full name of the first blueprint the account found (found after activation).
async fn wait_blueprint(engine: &Engine, account_id: Uuid) -> Result<String, CliError> {
    let deadline = Instant::now() + STATUS_WAIT;
    loop {
        let account = engine
            .account_state(account_id)
            .map_err(|e| fail("blueprints", e))?;
        if let Some(b) = account.blueprints.first() {
            return Ok(b.repository.full_name.clone());
        }
        if Instant::now() > deadline {
            return Err(fail("blueprints", format!("none found after {STATUS_WAIT:?}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the project is past creating its repository.
async fn wait_settled(engine: &Engine, id: Uuid) -> Result<ProjectState, CliError> {
    let deadline = Instant::now() + STATUS_WAIT;
    loop {
        let state = engine.project_state(id).map_err(|e| fail("project", e))?;
        if state.status != ProjectStatus::CreatingRepository || Instant::now() > deadline {
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_projects(engine: &Engine, accounts: &[&str]) -> Result<(), CliError> {
    let header = ["PROJECT", "ACCOUNT", "STATUS", "REPOSITORY", "URL"];
    let mut cells = Vec::new();
    for name in accounts {
        let account_id = engine.resolve_account(name).map_err(|e| fail(name, e))?;
        let mut projects = engine
            .projects_of_account(account_id)
            .map_err(|e| fail(name, e))?;
        projects.sort_by(|a, b| a.name.cmp(&b.name));
        for p in projects {
            let repo = p.repository.as_ref();
            cells.push(vec![
                p.name.clone(),
                name.to_string(),
                p.status.as_str().to_string(),
                repo.map_or_else(|| "-".into(), |r| r.full_name.clone()),
                // An imported repository is recorded by id and name only.
                repo.map(|r| r.web_url.clone())
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
    }
    print!("{}", table::render(&header, &cells));
    println!();
    Ok(())
}
