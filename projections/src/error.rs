//! The projections' errors, each with a message a user can act on.

use crate::account::FoldError;
use forgelink_events::LogError;
use std::path::PathBuf;

/// Errors of the projection runner, the dashboard and the history.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the log failed; an unknown event type (written by a newer forgelink) lands here
    /// with its position and type, and the projection stops rather than skip it.
    #[error("projection `{projection}` stopped: {source}")]
    Log {
        projection: &'static str,
        #[source]
        source: LogError,
    },

    #[error("projection `{projection}` stopped: {source}")]
    Fold {
        projection: &'static str,
        #[source]
        source: FoldError,
    },

    #[error("projection `{projection}` expected position {expected} next but the log gave {got}; run `forgelink replay`")]
    Gap {
        projection: &'static str,
        expected: u64,
        got: u64,
    },

    #[error("projection `{projection}` is at position {checkpoint} but the log ends at {head}: the projection folder belongs to another log; run `forgelink replay`")]
    AheadOfLog {
        projection: &'static str,
        checkpoint: u64,
        head: u64,
    },

    #[error("the projection folder {path} is in use by another forgelink process; stop it, or talk to it with --server URL")]
    Locked { path: PathBuf },

    #[error("projection storage error: {0}")]
    Storage(String),

    #[error("stored projection state is unreadable ({0}); run `forgelink replay` to rebuild it")]
    Corrupt(String),

    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
}

impl From<sled::Error> for ProjectionError {
    fn from(e: sled::Error) -> Self {
        ProjectionError::Storage(e.to_string())
    }
}
