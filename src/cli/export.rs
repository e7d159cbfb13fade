//! `forgelink export > log.jsonl`: the whole log as JSON Lines on stdout, byte for byte as
//! stored; from the data folder, or with `--server URL --token T` from a running server
//! (`GET /v1/export`), identical either way. The count goes to stderr.

use super::data::{CliError, DataDir};
use super::remote::{self, Remote};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: Remote,
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let n = match args.remote.client()? {
        Some(client) => remote::block_on(client.export(&mut out))?,
        None => {
            let log = dir.open_log()?;
            log.export(&mut out)?
        }
    };
    out.flush()?;
    eprintln!("exported {n} events");
    Ok(())
}
