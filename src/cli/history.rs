//! `forgelink history NAME [--as-of TIME|POSITION] [--json] [--server URL --token T]`: an
//! account's audit history in sentences, and with `--as-of` its state at that point; from the
//! data folder or a running server (`GET /v1/accounts/{name}/history?as_of=`), printed the
//! same way. `--json` prints `{"account_id", "name", "as_of", "state", "events": [...]}`.

use super::data::{print_json, CliError, DataDir};
use super::remote::{self, Remote};
use forgelink::client::History;
use forgelink_projections::{account_history, history_as_of, AsOf, ProjectionError};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account's unique name (case-insensitive).
    pub name: String,
    /// Stop at a global position (a number) or a time (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC).
    #[arg(long, value_name = "TIME|POSITION")]
    pub as_of: Option<AsOf>,
    /// JSON for machines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let history = match args.remote.client()? {
        Some(client) => {
            let point = args.as_of.map(|p| match p {
                AsOf::Position(n) => n.to_string(),
                AsOf::Time(t) => t.to_rfc3339(),
            });
            remote::block_on(client.history(&args.name, point.as_deref()))?
                .ok_or_else(|| CliError::NoSuchAccount(args.name.clone()))?
        }
        None => from_folder(dir, &args.name, args.as_of)?,
    };
    print(&history, args.as_of, args.json)
}

fn from_folder(dir: &DataDir, name: &str, as_of: Option<AsOf>) -> Result<History, CliError> {
    let (log, runner) = dir.dashboard()?;
    let account = runner
        .projection()
        .reader()
        .get_by_name(name)
        .ok_or_else(|| CliError::NoSuchAccount(name.to_string()))?;
    // Without --as-of the state is the dashboard's current row: no replay needed.
    let (entries, state) = match as_of {
        Some(point) => history_as_of(&log, account.id, point).map_err(ProjectionError::from)?,
        None => (
            account_history(&log, account.id).map_err(ProjectionError::from)?,
            Some((*account).clone()),
        ),
    };
    Ok(History {
        account_id: account.id,
        name: account.name.to_string(),
        history: entries.iter().map(value).collect(),
        as_of: as_of.as_ref().map(value),
        state,
    })
}

/// A value known to serialise (a history entry, a point in the log) as JSON.
fn value(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

fn print(h: &History, as_of: Option<AsOf>, as_json: bool) -> Result<(), CliError> {
    if as_json {
        return print_json(&json!({
            "account_id": h.account_id,
            "name": h.name,
            "as_of": h.as_of,
            "state": h.state.as_ref().map(|s| s.to_json()),
            "events": h.history,
        }));
    }
    for e in &h.history {
        let position = e["position"].as_u64().unwrap_or(0);
        let sentence = e["sentence"].as_str().unwrap_or_default();
        println!("#{position:<6} {}", super::table::escape(sentence));
    }
    if let Some(point) = as_of {
        match &h.state {
            Some(s) => {
                let next = s.next_action().map_or_else(|| "-".into(), |n| n.text(s.provider));
                println!(
                    "as of {point}: {} is {} with {} (next action: {next})",
                    super::table::escape(&s.name),
                    s.status,
                    projects(s.projects)
                );
            }
            None => println!(
                "as of {point}: {} did not exist yet",
                super::table::escape(&h.name)
            ),
        }
    }
    Ok(())
}

fn projects(n: u32) -> String {
    match n {
        1 => "1 project".into(),
        n => format!("{n} projects"),
    }
}
