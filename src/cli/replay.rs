//! `forgelink replay [--verify]`: rebuilds the dashboard from position 1, or with `--verify`
//! rebuilds it into a scratch store and prints every difference from the live one. Long
//! replays show a progress bar on stderr. `--verify --server URL --token ADMIN` asks a running
//! server to compare its live dashboard (`GET /v1/projections/verify`); `--json` prints
//! `{"position": P, "differences": [{"key", "field", "live", "rebuilt"}]}`, and differences
//! end the command with status 1.

use super::data::{print_json, CliError, DataDir};
use super::remote::{self, Remote};
use forgelink_events::Store;
use forgelink_projections::{verify, Dashboard, Runner};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::time::Instant;

/// Replays shorter than this finish before a bar is worth drawing.
const BAR_FROM_EVENTS: u64 = 10_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Compare the live projections with a fresh rebuild instead of replacing them.
    #[arg(long)]
    pub verify: bool,
    /// JSON for machines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    if let Some(client) = args.remote.client()? {
        if !args.verify {
            return Err(CliError::Usage(
                "a running server keeps its dashboard current itself: with --server only \
                 `replay --verify` is offered (stop the server to rebuild a folder)"
                    .into(),
            ));
        }
        let result = remote::block_on(client.verify())?;
        return report(&result, args.json);
    }
    let log = dir.open_log()?;
    let started = Instant::now();
    if !args.verify {
        let accounts = rebuild(dir, &log)?;
        if args.json {
            return print_json(&serde_json::json!({
                "events": log.head(),
                "accounts": accounts,
                "seconds": started.elapsed().as_secs_f64(),
            }));
        }
        println!(
            "rebuilt the dashboard from {} events ({accounts} accounts) in {:.2?}",
            log.head(),
            started.elapsed()
        );
        return Ok(());
    }
    let store = dir.open_store()?;
    let mut live = Runner::open(&store, Dashboard::new())?;
    let bar = progress_bar(log.head());
    let result = verify(&mut live, &log, &mut |done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    let result = serde_json::to_value(&result).map_err(|e| CliError::Write(e.into()))?;
    report(&result, args.json)
}

/// Prints a comparison (`{"position", "differences"}`); differences are a failure.
fn report(result: &Value, json: bool) -> Result<(), CliError> {
    let position = result["position"].as_u64().unwrap_or(0);
    let differences = result["differences"].as_array().cloned().unwrap_or_default();
    if json {
        print_json(result)?;
    } else if differences.is_empty() {
        println!("the dashboard matches a rebuild from the log (position {position})");
    } else {
        let text = |d: &Value, k: &str| d[k].as_str().unwrap_or_default().to_string();
        for d in &differences {
            // As `Difference` displays itself.
            let line = format!(
                "{} {}: live {} but rebuilt {}",
                text(d, "key"),
                text(d, "field"),
                text(d, "live"),
                text(d, "rebuilt")
            );
            println!("{}", super::table::escape(&line));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(CliError::Verify(format!(
        "{} differences between the live dashboard and a rebuild at position {position}; run `forgelink replay` to rebuild it",
        differences.len(),
    )))
}

/// Drops the dashboard and rebuilds it from the log; returns how many accounts it holds.
pub fn rebuild(dir: &DataDir, log: &Store) -> Result<usize, CliError> {
    let store = dir.open_store()?;
    // `open_empty`, not `open`: a replay must also work when the stored state is unreadable.
    let mut runner = Runner::open_empty(&store, Dashboard::new())?;
    let bar = progress_bar(log.head());
    runner.rebuild(log, &mut |done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    Ok(runner.projection().reader().len())
}

/// A bar on stderr for `total` events; hidden for short runs (and when stderr is no terminal).
pub fn progress_bar(total: u64) -> ProgressBar {
    if total < BAR_FROM_EVENTS {
        return ProgressBar::hidden();
    }
    if total == u64::MAX {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} events {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        return bar;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
