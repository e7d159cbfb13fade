//! Helpers the project tests share: sending project requests, waiting for a project to reach a
//! status, and reading its events.
#![allow(dead_code)]

use forgelink::domain::ProjectState;
use forgelink::engine::{CommandMessage, CommandReply, Engine, EngineError, Request};
use forgelink_events::StreamId;
use std::time::Duration;
use uuid::Uuid;

pub async fn create_project(engine: &Engine, account: &str, name: &str) -> Result<CommandReply, EngineError> {
    let request = Request::CreateProject {
        project_id: None,
        name: name.into(),
        account: account.into(),
    };
    engine.execute(CommandMessage::new(request).by("alice")).await
}

pub async fn import_project(
    engine: &Engine,
    account: &str,
    name: &str,
    repository: &str,
) -> Result<CommandReply, EngineError> {
    let request = Request::ImportProject {
        project_id: None,
        name: name.into(),
        account: account.into(),
        repository: repository.into(),
    };
    engine.execute(CommandMessage::new(request).by("alice")).await
}

/// Polls (at most 5 s) until `check` holds for the project, and returns its state then.
pub async fn wait_project(engine: &Engine, id: Uuid, check: impl Fn(&ProjectState) -> bool) -> ProjectState {
    for _ in 0..200 {
        let s = engine.project_state(id).unwrap();
        if check(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    engine.project_state(id).unwrap()
}

/// Polls until the project has `status` and returns the status it has then.
pub async fn wait_status(engine: &Engine, id: Uuid, status: &str) -> String {
    wait_project(engine, id, |s| s.status.as_str() == status)
        .await
        .status
        .as_str()
        .to_string()
}

/// The project's event types, in order.
pub fn project_events(engine: &Engine, id: Uuid) -> Vec<String> {
    engine
        .log()
        .read_stream(&StreamId::project(id), 1)
        .unwrap()
        .iter()
        .map(|e| e.event_type().to_string())
        .collect()
}

/// Polls until the account records blueprints (or 5 s pass) and returns their full names.
pub async fn wait_blueprints(engine: &Engine, account_id: Uuid, n: usize) -> Vec<String> {
    let names = || {
        let mut v: Vec<String> = engine
            .account_state(account_id)
            .unwrap()
            .blueprints
            .iter()
            .map(|b| b.repository.full_name.clone())
            .collect();
        v.sort();
        v
    };
    for _ in 0..200 {
        if names().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    names()
}
