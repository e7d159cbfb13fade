//! `forgelink migrate --from DATA_DIR --to postgres://…`: copies the event log of a data folder
//! into an empty PostgreSQL database byte for byte (export, then import, which checks every
//! line), and checks that the database's export is identical to the folder's. The vault, the
//! webhook inbox and the projections stay in the data folder, where a server started with
//! `store = "postgres://…"` and the same data folder uses them.

use super::data::{CliError, DataDir};
use super::replay::progress_bar;
use forgelink_events::{PgLog, PgOptions, StoreLocation};
use sha2::{Digest, Sha256};
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data folder whose event log to copy [default: --data-dir]. Stop the server first.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// The PostgreSQL database to copy it into, which must hold no events yet:
    /// postgres://user@host:5432/db.
    #[arg(long, value_name = "STORE")]
    pub to: String,
}

/// A writer that only hashes what it is given.
struct Hashing(Sha256);

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let from = args.from.map(DataDir::new).unwrap_or_else(|| dir.clone());
    let StoreLocation::Postgres(url) = StoreLocation::parse(&args.to) else {
        return Err(CliError::Message(format!(
            "--to {} is not a PostgreSQL address; give one like postgres://user@host:5432/db",
            args.to
        )));
    };
    let source = from.open_log()?;
    // The export goes through a file next to the log, so that a large log is never in memory.
    let staging = from.root().join(".migrate-export.jsonl");
    let write_err = |e: std::io::Error| CliError::Message(format!("cannot write {}: {e}", staging.display()));
    let mut out = BufWriter::new(std::fs::File::create(&staging).map_err(write_err)?);
    let mut hash = Hashing(Sha256::new());
    let exported = source.export(&mut Tee(&mut out, &mut hash))?;
    out.flush().map_err(write_err)?;
    drop(out);
    drop(source);
    let result = copy_into(&url, &staging, exported, hash.0.finalize().to_vec());
    let _ = std::fs::remove_file(&staging);
    let n = result?;
    println!(
        "copied {n} events from {} to {}; the database's export is byte for byte the folder's",
        from.log_dir().display(),
        forgelink_events::redact_store_address(&url)
    );
    Ok(())
}

/// Writes to both.
struct Tee<'a, A: Write, B: Write>(&'a mut A, &'a mut B);

impl<A: Write, B: Write> Write for Tee<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

fn copy_into(url: &str, staging: &std::path::Path, exported: u64, digest: Vec<u8>) -> Result<u64, CliError> {
    let target = PgLog::open(url, PgOptions::default())?;
    let file = std::fs::File::open(staging).map_err(|source| CliError::Read {
        path: staging.to_path_buf(),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    let bar = progress_bar(exported);
    let n = runtime.block_on(target.import(BufReader::new(file), |n| bar.set_position(n)))?;
    bar.finish_and_clear();
    let mut check = Hashing(Sha256::new());
    let back = target.export(&mut check)?;
    if back != exported || check.0.finalize().to_vec() != digest {
        return Err(CliError::Verify(format!(
            "the database's export differs from the folder's ({back} events against {exported}); \
             drop the database's forgelink_* tables before trying again"
        )));
    }
    Ok(n)
}
