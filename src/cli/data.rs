//! The data folder as the CLI sees it: opening the log (`DIR/log`, or the PostgreSQL database
//! `FORGELINK_STORE` names) and the dashboard (`DIR/projections`, caught up before any query),
//! and the CLI's errors.

use forgelink_events::{EventLog, LogError, LogOptions, Store, StoreLocation};
use forgelink_projections::{Dashboard, ProjectionError, ProjectionStore, Runner};
use std::path::PathBuf;

/// Everything a subcommand can fail with; the message is what the user sees.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(
        "no forgelink data in {0}; pass --data-dir DIR (or import an export with `forgelink import FILE`)"
    )]
    NoData(PathBuf),
    #[error("no account named `{0}`; `forgelink accounts` lists them")]
    NoSuchAccount(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write: {0}")]
    Write(#[from] std::io::Error),
    #[error("{0}")]
    Verify(String),
    /// A message from a subcommand (serve, demo, send) that says what to fix.
    #[error("{0}")]
    Message(String),
    /// The command line itself is wrong (exit status 2, as for what clap refuses).
    #[error("{0}")]
    Usage(String),
}

/// The data folder given with `--data-dir`, and where its event log is.
#[derive(Clone)]
pub struct DataDir {
    root: PathBuf,
    /// The log's place when it is not `DIR/log`: a database (`FORGELINK_STORE`).
    store: Option<String>,
}

impl DataDir {
    pub fn new(root: PathBuf) -> Self {
        DataDir { root, store: None }
    }

    /// The data folder with its log where `store` says (`postgres://…`, or a folder).
    pub fn with_store(root: PathBuf, store: Option<String>) -> Self {
        let store = store.filter(|s| !s.trim().is_empty());
        DataDir { root, store }
    }

    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }

    pub fn projections_dir(&self) -> PathBuf {
        self.root.join("projections")
    }

    fn location(&self) -> StoreLocation {
        match &self.store {
            Some(s) => StoreLocation::parse(s),
            None => StoreLocation::Folder(self.log_dir()),
        }
    }

    /// Opens the existing log; a missing folder is an error, not a new empty log.
    pub fn open_log(&self) -> Result<Store, CliError> {
        match self.location() {
            StoreLocation::Folder(dir) if !dir.exists() => Err(CliError::NoData(self.root.clone())),
            location => Ok(Store::open(&location, LogOptions::default())?),
        }
    }

    /// Opens the log, creating the folder when needed.
    pub fn open_or_create_log(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.location(), LogOptions::default())?)
    }

    /// The sled log of the folder itself, whatever `FORGELINK_STORE` says (for `migrate`).
    pub fn open_folder_log(&self, create: bool) -> Result<EventLog, CliError> {
        if !create && !self.log_dir().exists() {
            return Err(CliError::NoData(self.root.clone()));
        }
        Ok(EventLog::open(self.log_dir(), LogOptions::default())?)
    }

    pub fn open_store(&self) -> Result<ProjectionStore, CliError> {
        Ok(ProjectionStore::open(self.projections_dir())?)
    }

    /// The log and the dashboard caught up with it.
    pub fn dashboard(&self) -> Result<(Store, Runner<Dashboard>), CliError> {
        let log = self.open_log()?;
        let store = self.open_store()?;
        let mut runner = Runner::open(&store, Dashboard::new())?;
        // A long catch-up (after an import, or a server that wrote much) shows a bar.
        let head = log.head();
        let behind = head.saturating_sub(runner.checkpoint());
        let bar = super::replay::progress_bar(if behind >= 10_000 { head } else { 0 });
        runner.catch_up_to(&log, head, &mut |done, _| bar.set_position(done))?;
        bar.finish_and_clear();
        Ok((log, runner))
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Write(e.into()))?;
    println!("{text}");
    Ok(())
}
