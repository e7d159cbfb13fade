//! `forgelink export > log.jsonl`: the whole log as JSON Lines on stdout, byte for byte as stored.

use super::data::{CliError, DataDir};
use std::io::Write;

pub fn run(dir: &DataDir) -> Result<(), CliError> {
    let log = dir.open_log()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let n = log.export(&mut out)?;
    out.flush()?;
    eprintln!("exported {n} events");
    Ok(())
}
