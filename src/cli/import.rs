//! `forgelink import FILE`: reads a JSON Lines export into an empty data folder, then rebuilds
//! the projections from it (any old projection state belonged to another log).

use super::data::{CliError, DataDir};
use super::replay::{progress_bar, rebuild};
use std::io::BufReader;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export to read (from `forgelink export`).
    pub file: PathBuf,
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let read_err = |source| CliError::Read {
        path: args.file.clone(),
        source,
    };
    let file = std::fs::File::open(&args.file).map_err(read_err)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let log = dir.open_or_create_log()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    // A rough bar: events are not counted ahead, so show the count only.
    let bar = progress_bar(if size > 4 << 20 { u64::MAX } else { 0 });
    let n = runtime.block_on(log.import(BufReader::new(file), |n| bar.set_position(n)))?;
    bar.finish_and_clear();
    let accounts = rebuild(dir, &log)?;
    println!("imported {n} events ({accounts} accounts)");
    Ok(())
}
