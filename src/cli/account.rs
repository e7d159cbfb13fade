//! `forgelink account NAME [--json] [--server URL --token T]`: everything the dashboard knows
//! about one account, from the data folder or a running server (`GET /v1/accounts/{name}`).
//! `--json` prints the account object as that route answers it.

use super::data::{print_json, CliError, DataDir};
use super::remote::{self, Remote};
use forgelink_projections::AccountRow;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account's unique name (case-insensitive).
    pub name: String,
    /// JSON for machines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let found = match args.remote.client()? {
        Some(client) => remote::block_on(client.account(&args.name))?,
        None => {
            let (_log, runner) = dir.dashboard()?;
            let row = runner.projection().reader().get_by_name(&args.name);
            row.map(|r| (*r).clone())
        }
    };
    let row = found.ok_or(CliError::NoSuchAccount(args.name))?;
    if args.json {
        return print_json(&row.to_json());
    }
    print!("{}", describe(&row));
    Ok(())
}

/// The row as `field: value` lines.
pub fn describe(row: &AccountRow) -> String {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let repos: Vec<&str> = row.repositories.iter().map(|r| r.full_name.as_str()).collect();
    let lines = [
        ("name", row.name.to_string()),
        ("id", row.id.to_string()),
        ("provider", row.provider.display_name().to_string()),
        ("status", row.status.to_string()),
        ("scope", or_dash(row.scope.as_ref().map(ToString::to_string))),
        (
            "installation",
            or_dash(row.installation_id.map(|i| i.to_string())),
        ),
        (
            "repository selection",
            or_dash(row.repository_selection.as_deref().map(Into::into)),
        ),
        (
            "repositories",
            format!("{} {}", repos.len(), repos.join(", "))
                .trim_end()
                .to_string(),
        ),
        ("projects", row.projects.to_string()),
        ("repos awaiting access", row.repos_awaiting_access.to_string()),
        ("blueprints", row.blueprints.to_string()),
        (
            "linked",
            or_dash(
                row.linked_at
                    .map(|t| format!("{} by {}", time(t), row.linked_by.as_deref().unwrap_or("?"))),
            ),
        ),
        ("last activity", time(row.last_activity)),
        ("last error", or_dash(row.last_error.as_deref().map(Into::into))),
        (
            "next action",
            or_dash(row.next_action().map(|n| n.text(row.provider))),
        ),
    ];
    lines
        .iter()
        .map(|(k, v)| format!("{k:<22} {}\n", super::table::escape(v)))
        .collect()
}
