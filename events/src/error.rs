//! The event log's errors, each with a message a user can act on.

use crate::StreamId;
use std::path::PathBuf;

/// What an append expects of the stream's current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version (1 = one event).
    Exact(u64),
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Errors of the event log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("wrong expected version on stream {stream}: expected {expected}, but the stream is at version {actual}; read the stream again and retry")]
    WrongExpectedVersion {
        stream: StreamId,
        expected: ExpectedVersion,
        actual: u64,
    },

    #[error("the name `{name}` is already taken by {owner}; choose another name")]
    NameTaken { name: String, owner: StreamId },

    #[error("invalid append: {0}")]
    InvalidAppend(String),

    #[error("the data folder {path} is in use by another forgelink process; stop it, or talk to it with --server URL")]
    Locked { path: PathBuf },

    #[error("storage error: {0}")]
    Storage(String),

    #[error("corrupt record at position {position}: {detail}")]
    CorruptRecord { position: u64, detail: String },

    #[error("unknown event type `{event_type}` at position {position}: it was written by a newer forgelink; upgrade this one")]
    UnknownEventType { position: u64, event_type: String },

    #[error("import: {0}")]
    Import(String),

    #[error("the event log has shut down")]
    Closed,
}

impl From<sled::Error> for LogError {
    fn from(e: sled::Error) -> Self {
        LogError::Storage(e.to_string())
    }
}

impl From<std::io::Error> for LogError {
    fn from(e: std::io::Error) -> Self {
        LogError::Storage(e.to_string())
    }
}
