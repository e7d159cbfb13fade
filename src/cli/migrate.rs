//! `forgelink migrate --from SOURCE --to TARGET`: copies an event log between a data folder and a
//! PostgreSQL database, either way (`--from DATA_DIR --to postgres://…`, or back with
//! `--from postgres://… --to DATA_DIR`): export, then import into the empty target (which checks
//! every line), then the target's export must be byte for byte the source's. The vault, the
//! webhook inbox and the projections stay in the data folder, where a server started with
//! `store = "postgres://…"` and the same data folder uses them.

use super::data::{CliError, DataDir};
use super::replay::progress_bar;
use forgelink_events::{LogOptions, Store, StoreLocation};
use sha2::{Digest, Sha256};
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the log is now: a data folder or postgres://user@host:5432/db [default:
    /// --data-dir]. Stop the servers that use it first.
    #[arg(long, value_name = "DIR|STORE")]
    pub from: Option<String>,
    /// Where to copy it, which must hold no events yet: a data folder or
    /// postgres://user@host:5432/db.
    #[arg(long, value_name = "DIR|STORE")]
    pub to: String,
}

/// One side of a migration.
enum Side {
    Folder(DataDir),
    Database(String),
}

impl Side {
    fn parse(s: &str) -> Side {
        match StoreLocation::parse(s) {
            StoreLocation::Postgres(url) => Side::Database(url),
            StoreLocation::Folder(dir) => Side::Folder(DataDir::new(dir)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Side::Folder(d) => d.log_dir().display().to_string(),
            Side::Database(url) => forgelink_events::redact_store_address(url),
        }
    }

    /// The source: it must exist.
    fn open_source(&self) -> Result<Store, CliError> {
        match self {
            Side::Folder(d) => Ok(d.open_folder_log(false)?.into()),
            Side::Database(url) => Ok(Store::open(
                &StoreLocation::Postgres(url.clone()),
                LogOptions::default(),
            )?),
        }
    }

    /// The target: created when it is a folder.
    fn open_target(&self) -> Result<Store, CliError> {
        match self {
            Side::Folder(d) => Ok(d.open_folder_log(true)?.into()),
            Side::Database(url) => Ok(Store::open(
                &StoreLocation::Postgres(url.clone()),
                LogOptions::default(),
            )?),
        }
    }

    fn folder(&self) -> Option<PathBuf> {
        match self {
            Side::Folder(d) => Some(d.root().to_path_buf()),
            Side::Database(_) => None,
        }
    }
}

pub fn run(dir: &DataDir, args: Args) -> Result<(), CliError> {
    let from = match args.from.as_deref() {
        Some(s) => Side::parse(s),
        None => Side::Folder(dir.clone()),
    };
    let to = Side::parse(&args.to);
    // Back from a database, the vault comes too: into a folder that has none yet.
    let vault_back = match (&from, &to) {
        (Side::Database(url), Side::Folder(d)) => Some((url.clone(), d.root().join("vault"))),
        _ => None,
    };
    if let Some((_, folder)) = &vault_back {
        if folder.exists() {
            return Err(CliError::Message(format!(
                "{} holds a vault already; migrate the database into a data folder without one",
                folder.display()
            )));
        }
    }
    if from.describe() == to.describe() {
        return Err(CliError::Message(format!(
            "--from and --to are the same log ({}); give another target",
            to.describe()
        )));
    }
    // The export goes through a file (next to a folder's log when there is one, so that it
    // stays on the data's own disk), so that a large log is never in memory.
    let staging_dir = from
        .folder()
        .or_else(|| to.folder())
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&staging_dir).map_err(CliError::Write)?;
    let staging = staging_dir.join(format!(".migrate-export-{}.jsonl", std::process::id()));
    let source = from.open_source()?;
    let write_err = |e: std::io::Error| CliError::Message(format!("cannot write {}: {e}", staging.display()));
    let mut out = BufWriter::new(std::fs::File::create(&staging).map_err(write_err)?);
    let mut hash = Hashing(Sha256::new());
    let exported = source.export(&mut Tee(&mut out, &mut hash));
    let flushed = out.flush().map_err(write_err);
    drop(out);
    drop(source);
    let result = exported
        .map_err(CliError::from)
        .and_then(|n| flushed.map(|_| n))
        .and_then(|n| copy_into(&to, &staging, n, hash.0.finalize().to_vec()));
    let _ = std::fs::remove_file(&staging);
    let n = result?;
    if let Some((url, folder)) = vault_back {
        let secrets = forgelink::vault::copy_postgres_vault_to_folder(&url, &folder)
            .map_err(|e| CliError::Message(format!("the log was copied, the vault not: {e}")))?;
        println!(
            "copied the vault's {secrets} sealed secrets and its data keys into {} (open it with the same vault key)",
            folder.display()
        );
    }
    let what = match (&from, &to) {
        (Side::Folder(_), Side::Folder(_)) => "the new folder's export is byte for byte the old one's",
        (Side::Database(_), Side::Database(_)) => "the new database's export is byte for byte the old one's",
        (Side::Database(_), Side::Folder(_)) => "the folder's export is byte for byte the database's",
        (Side::Folder(_), Side::Database(_)) => "the database's export is byte for byte the folder's",
    };
    println!(
        "copied {n} events from {} to {}; {what}",
        from.describe(),
        to.describe()
    );
    Ok(())
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

fn copy_into(to: &Side, staging: &std::path::Path, exported: u64, digest: Vec<u8>) -> Result<u64, CliError> {
    let target = to.open_target()?;
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
        let hint = match to {
            Side::Database(_) => "drop the database's forgelink_* tables before trying again",
            Side::Folder(_) => "remove the target folder's log before trying again",
        };
        return Err(CliError::Verify(format!(
            "the target's export differs from the source's ({back} events against {exported}); {hint}"
        )));
    }
    target.flush()?;
    Ok(n)
}
