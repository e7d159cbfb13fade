//! `forgelink accounts [--provider P] [--status S] [--json] [--server URL --token T]`: the
//! Account Management page, from the data folder or from a running server (`GET
//! /v1/accounts`), printed the same way. `--json` prints an array of account objects, each as
//! `GET /v1/accounts/{name}` answers it.

use super::data::{print_json, CliError, DataDir};
use super::remote::{self, Remote};
use super::table;
use forgelink::client::AccountsFilter;
use forgelink_events::Provider;
use forgelink_projections::{AccountFilter, AccountRow, AccountStatus};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only accounts on this provider: github, gitlab or bitbucket.
    #[arg(long)]
    pub provider: Option<Provider>,
    /// Only accounts with this status, e.g. active or awaiting_details.
    #[arg(long)]
    pub status: Option<AccountStatus>,
    /// JSON for machines instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let rows: Vec<AccountRow> = match args.remote.client()? {
        Some(client) => remote::block_on(client.accounts(AccountsFilter {
            provider: args.provider,
            status: args.status,
        }))?,
        None => {
            let (_log, runner) = dir.dashboard()?;
            let filter = AccountFilter {
                provider: args.provider,
                status: args.status,
            };
            let rows = runner.projection().reader().list(filter);
            rows.iter().map(|r| (**r).clone()).collect()
        }
    };
    print(&rows, args.json)
}

/// The table and its summary line, or the JSON array.
fn print(rows: &[AccountRow], json: bool) -> Result<(), CliError> {
    if json {
        let json: Vec<serde_json::Value> = rows.iter().map(|r| r.to_json()).collect();
        return print_json(&json);
    }
    if rows.is_empty() {
        println!("no accounts");
        return Ok(());
    }
    let header = [
        "NAME",
        "PROVIDER",
        "STATUS",
        "SCOPE",
        "REPOS",
        "PROJECTS",
        "LAST ACTIVITY",
        "NEXT ACTION",
    ];
    let cells: Vec<Vec<String>> = rows.iter().map(cells).collect();
    print!("{}", table::render(&header, &cells));
    let mut by_status: Vec<(AccountStatus, usize)> = Vec::new();
    for row in rows {
        match by_status.iter_mut().find(|(s, _)| *s == row.status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((row.status, 1)),
        }
    }
    by_status.sort();
    let summary: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("{} accounts: {}", rows.len(), summary.join(", "));
    Ok(())
}

fn cells(row: &AccountRow) -> Vec<String> {
    vec![
        row.name.to_string(),
        row.provider.to_string(),
        row.status.to_string(),
        row.scope.as_ref().map_or_else(|| "-".into(), ToString::to_string),
        row.repositories.len().to_string(),
        row.projects.to_string(),
        row.last_activity.format("%Y-%m-%d %H:%M:%S").to_string(),
        row.next_action()
            .map_or_else(|| "-".into(), |n| n.text(row.provider)),
    ]
}
