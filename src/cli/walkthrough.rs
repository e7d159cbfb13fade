//! `forgelink demo --walkthrough`: the three seed walkthroughs, driven the way a platform and a
//! person would: command messages and queries over the HTTP API (admin token), and the
//! sandboxes' approval pages over HTTP like a browser (open the authorize URL, submit the
//! approval form, follow the redirect back through our callback). Then one project on each
//! account and one imported blueprint (`walkthrough_projects`). Prints each step, the projects,
//! the dashboard table and one account's history; succeeds only if all three accounts end
//! active and their projects ready.

use super::data::CliError;
use super::table;
use forgelink::api::demo::{seed, DemoHandle};
use forgelink::api::pages::visitor::{form_action, hidden_inputs, Page, Visitor};
use forgelink_projections::AccountRow;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long one account may take to reach a status (the sandboxes answer in milliseconds).
pub(super) const STATUS_WAIT: Duration = Duration::from_secs(30);

pub(super) fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Message(format!("walkthrough: {what}: {e}"))
}

/// The API as a platform calls it.
pub(super) struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path: &str) -> Result<(u16, Value), CliError> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| fail(path, e))?;
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    pub(super) async fn command(&self, message: Value) -> Result<Value, CliError> {
        let kind = message["type"].as_str().unwrap_or("command").to_string();
        let resp = self
            .http
            .post(format!("{}/v1/commands", self.base))
            .bearer_auth(&self.token)
            .json(&message)
            .send()
            .await
            .map_err(|e| fail(&kind, e))?;
        let ok = resp.status().is_success();
        let body = resp.json::<Value>().await.map_err(|e| fail(&kind, e))?;
        if !ok {
            return Err(fail(&kind, body["error"].as_str().unwrap_or("refused")));
        }
        println!(
            "  {kind:<16} -> {} ({})",
            body["status"].as_str().unwrap_or("?"),
            body["events"].as_array().map_or(0, Vec::len)
        );
        Ok(body)
    }

    /// Waits (bounded) until the account shows one of `wanted`; its row as JSON.
    async fn wait_for(&self, name: &str, wanted: &[&str]) -> Result<Value, CliError> {
        let deadline = Instant::now() + STATUS_WAIT;
        loop {
            let (_, row) = self.get(&format!("/v1/accounts/{name}")).await?;
            let status = row["status"].as_str().unwrap_or("").to_string();
            if wanted.contains(&status.as_str()) {
                return Ok(row);
            }
            if Instant::now() > deadline {
                let why = row["last_error"].as_str().unwrap_or("no error recorded");
                return Err(fail(
                    name,
                    format!("still {status} after {STATUS_WAIT:?} ({why})"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Approves on the provider's page as the person would; the page we are sent back to.
async fn approve(person: &Visitor, page: &Page) -> Result<Page, CliError> {
    let mut fields = hidden_inputs(&page.body);
    let path = page.url.path();
    let (what, extra): (&str, Vec<(&str, &str)>) = if path.ends_with("/installations/new") {
        (
            "install the GitHub App",
            vec![("org", seed::GITHUB_ORG), ("repository_selection", "all")],
        )
    } else if path == "/oauth/authorize" {
        ("authorize on GitLab", vec![("decision", "authorize")])
    } else if path == "/site/oauth2/authorize" {
        ("grant access on Bitbucket", vec![("decision", "grant")])
    } else {
        return Err(fail("approval", format!("not an approval page: {}", page.url)));
    };
    fields.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let action = form_action(&page.body).ok_or_else(|| fail(what, "the page has no form"))?;
    let url = page.resolve(&action).map_err(|e| fail(what, e))?;
    let back = person.submit(&url, &fields).await.map_err(|e| fail(what, e))?;
    println!("  {what:<24} -> back at {}", back.url.path());
    if !back.status.is_success() {
        let said = back.body.chars().take(900).collect::<String>();
        return Err(fail(
            what,
            format!("answer {} at {}: {said}", back.status, back.url.path()),
        ));
    }
    Ok(back)
}

/// One seed walkthrough; the account's final status. On a data folder that has the account
/// already, an active one is kept as it is, and any other is linked again.
async fn link(api: &Api, person: &Visitor, provider: &str, name: &str) -> Result<String, CliError> {
    println!("{provider}: linking `{name}`");
    let (code, existing) = api.get(&format!("/v1/accounts/{name}")).await?;
    let status = if code == 404 {
        "unlinked"
    } else {
        existing["status"].as_str().unwrap_or("")
    };
    match status {
        "active" => {
            println!("  already active in this data folder\n");
            return Ok(status.to_string());
        }
        "pending"
        | "awaiting_approval"
        | "awaiting_owner_approval"
        | "failed"
        | "expired"
        | "disconnected" => {}
        "unlinked" => {
            api.command(json!({"type": "NameAccount", "provider": provider, "unique_name": name}))
                .await?;
        }
        _ => {
            let reason = "the demo walkthrough links it again";
            api.command(json!({"type": "UnlinkAccount", "account": name, "reason": reason}))
                .await?;
            api.command(json!({"type": "NameAccount", "provider": provider, "unique_name": name}))
                .await?;
        }
    }
    // Started for the person signed in to the dashboard (its login link names them "admin"):
    // the reply's URL is the one-time continuation that binds their browser.
    let started = api
        .command(json!({"type": "StartLink", "account": name, "for": "admin"}))
        .await?;
    let url = started["authorize_url"]
        .as_str()
        .ok_or_else(|| fail("StartLink", "no authorize_url in the answer"))?;
    let page = person.get(url).await.map_err(|e| fail("the approval page", e))?;
    approve(person, &page).await?;
    let row = api
        .wait_for(name, &["active", "awaiting_details", "failed"])
        .await?;
    match (provider, row["status"].as_str()) {
        ("gitlab", Some("awaiting_details")) => {
            let (_, groups) = api.get(&format!("/v1/accounts/{name}/groups")).await?;
            let groups = groups["groups"].as_array().cloned().unwrap_or_default();
            let wanted = seed::GITLAB_GROUPS.last().copied().unwrap_or("acme");
            let group = groups
                .iter()
                .find(|g| g["full_path"] == wanted)
                .or(groups.first())
                .ok_or_else(|| fail("groups", "GitLab lists no group"))?;
            println!("  choosing group {}", group["full_path"]);
            api.command(json!({"type": "SelectGroup", "account": name, "group_id": group["id"]}))
                .await?;
            api.command(json!({"type": "SaveDetails", "account": name}))
                .await?;
        }
        ("bitbucket", Some("awaiting_details")) => {
            let (_, ws) = api.get(&format!("/v1/accounts/{name}/workspaces")).await?;
            let workspaces = ws["workspaces"].as_array().cloned().unwrap_or_default();
            let workspace = workspaces
                .iter()
                .find(|w| w["slug"] == seed::BITBUCKET_WORKSPACE)
                .or(workspaces.first())
                .ok_or_else(|| fail("workspaces", "Bitbucket lists no workspace"))?;
            let key = &workspace["projects"][0]["key"];
            println!("  choosing workspace {} and project {key}", workspace["slug"]);
            api.command(json!({"type": "SelectWorkspace", "account": name,
                "workspace": workspace["slug"], "project_key": key}))
                .await?;
            api.command(json!({"type": "SaveDetails", "account": name}))
                .await?;
        }
        _ => {}
    }
    let row = api
        .wait_for(name, &["active", "failed", "awaiting_details"])
        .await?;
    let status = row["status"].as_str().unwrap_or("?").to_string();
    println!("  {name} is {status}\n");
    Ok(status)
}

fn print_dashboard(accounts: &Value) {
    let rows: Vec<AccountRow> = accounts["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| serde_json::from_value(v.clone()).ok())
        .collect();
    let header = [
        "NAME",
        "PROVIDER",
        "STATUS",
        "SCOPE",
        "REPOS",
        "PROJECTS",
        "NEXT ACTION",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.to_string(),
                r.provider.to_string(),
                r.status.to_string(),
                r.scope.as_ref().map_or_else(|| "-".into(), ToString::to_string),
                r.repositories.len().to_string(),
                r.projects.to_string(),
                r.next_action().map_or_else(|| "-".into(), |n| n.text(r.provider)),
            ]
        })
        .collect();
    println!("Dashboard:");
    print!("{}", table::render(&header, &cells));
}

/// Drives the three walkthroughs on a started demo.
pub async fn run(handle: &DemoHandle) -> Result<(), CliError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail("HTTP client", e))?;
    let api = Api {
        http,
        base: handle.base_url.clone(),
        token: handle.admin_token.expose().to_string(),
    };
    let mut person = Visitor::new(&handle.base_url).map_err(|e| fail("browser", e))?;
    // The person is signed in to the dashboard, where the provider sends them back.
    person
        .sign_in(&handle.login_link())
        .await
        .map_err(|e| fail("sign in", e))?;
    println!("forgelink demo walkthrough on {}\n", handle.base_url);
    let mut outcomes = Vec::new();
    for (provider, name) in [
        ("github", "acme-github"),
        ("gitlab", "acme-gitlab"),
        ("bitbucket", "acme-bitbucket"),
    ] {
        let status = match link(&api, &person, provider, name).await {
            Ok(s) => s,
            Err(e) => {
                println!("  {e}\n");
                "not active".to_string()
            }
        };
        outcomes.push((name, status));
    }
    let active: Vec<&str> = outcomes
        .iter()
        .filter(|(_, s)| s == "active")
        .map(|(n, _)| *n)
        .collect();
    let projects = super::walkthrough_projects::run(&api, handle, &active).await;
    if let Err(e) = &projects {
        println!("  {e}\n");
    }
    let (_, accounts) = api.get("/v1/accounts").await?;
    print_dashboard(&accounts);
    // The GitLab walkthrough has the most steps; show its history.
    if let Some((name, _)) = outcomes.get(1) {
        let (_, history) = api.get(&format!("/v1/accounts/{name}/history")).await?;
        println!("\nHistory of {name}:");
        for e in history["history"].as_array().into_iter().flatten() {
            println!(
                "  #{:<5} {}",
                e["position"].as_u64().unwrap_or(0),
                e["sentence"].as_str().unwrap_or("")
            );
        }
    }
    let inactive: Vec<String> = outcomes
        .iter()
        .filter(|(_, s)| s != "active")
        .map(|(n, s)| format!("{n} ({s})"))
        .collect();
    if inactive.is_empty() {
        println!("\nAll three accounts are active.");
        projects
    } else {
        Err(CliError::Message(format!(
            "walkthrough: not active: {}",
            inactive.join(", ")
        )))
    }
}
