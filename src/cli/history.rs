//! `forgelink history NAME [--as-of TIME|POSITION] [--json]`: an account's audit history in
//! sentences, and with `--as-of` its state at that point.

use super::data::{print_json, CliError, DataDir};
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
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let (log, runner) = dir.dashboard()?;
    let account = runner
        .projection()
        .reader()
        .get_by_name(&args.name)
        .ok_or_else(|| CliError::NoSuchAccount(args.name.clone()))?;
    // Without --as-of the state is the dashboard's current row: no replay needed.
    let (entries, state) = match args.as_of {
        Some(as_of) => history_as_of(&log, account.id, as_of).map_err(ProjectionError::from)?,
        None => (
            account_history(&log, account.id).map_err(ProjectionError::from)?,
            Some((*account).clone()),
        ),
    };
    if args.json {
        return print_json(&json!({
            "account_id": account.id,
            "name": account.name,
            "as_of": args.as_of,
            "state": state.as_ref().map(|s| s.to_json()),
            "events": entries,
        }));
    }
    for e in &entries {
        println!("#{:<6} {}", e.position, super::table::escape(&e.sentence));
    }
    if let Some(point) = args.as_of {
        match state {
            Some(s) => {
                let next = s.next_action().map_or_else(|| "-".into(), |n| n.text(s.provider));
                println!(
                    "as of {point}: {} is {} with {} (next action: {next})",
                    super::table::escape(&s.name),
                    s.status,
                    projects(s.projects)
                );
            }
            None => println!("as of {point}: {} did not exist yet", account.name),
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
