//! `EngineError`: why a command message was refused or could not be carried out, with the field
//! it concerns where there is one, so the HTTP edge can answer `{error, field, hint}`.

use crate::domain::DomainError;
use forgelink_events::LogError;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The command was refused by the account's rules.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The command was refused by the project's rules.
    #[error(transparent)]
    Project(#[from] crate::domain::ProjectError),
    #[error("no project with id `{0}`")]
    UnknownProject(String),
    #[error("no account named or with id `{0}`")]
    UnknownAccount(String),
    #[error("unknown or expired `state`: start a new link and use the URL it gives")]
    UnknownState,
    #[error("{provider} is not configured on this server; set its app credentials")]
    ProviderNotConfigured { provider: &'static str },
    #[error("invalid `{field}`: {message}")]
    Invalid { field: &'static str, message: String },
    /// The provider no longer accepts the account's credentials: the person must link again.
    #[error("`{name}` is disconnected: {reason}")]
    Disconnected { name: String, reason: String },
    #[error("the account changed while the command ran, {attempts} times in a row; try again")]
    Conflict { attempts: u32 },
    #[error(transparent)]
    Log(LogError),
    #[error("vault: {0}")]
    Vault(String),
    #[error("{0}")]
    Provider(#[from] crate::providers::ProviderError),
    #[error("{0}")]
    Io(String),
}

impl From<LogError> for EngineError {
    fn from(e: LogError) -> Self {
        EngineError::Log(e)
    }
}

impl From<crate::vault::VaultError> for EngineError {
    fn from(e: crate::vault::VaultError) -> Self {
        EngineError::Vault(e.to_string())
    }
}

impl EngineError {
    /// The input field the error is about, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            EngineError::Domain(e) => e.field(),
            EngineError::Project(e) => e.field(),
            EngineError::UnknownProject(_) => Some("project_id"),
            EngineError::UnknownAccount(_) => Some("account"),
            EngineError::UnknownState => Some("state"),
            EngineError::Invalid { field, .. } => Some(field),
            EngineError::Log(LogError::NameTaken { .. }) => Some("unique_name"),
            _ => None,
        }
    }

    /// True when the caller's input is at fault (a 4xx at the HTTP edge).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            EngineError::Log(LogError::Storage(_))
                | EngineError::Log(LogError::CorruptRecord { .. })
                | EngineError::Log(LogError::Closed)
                | EngineError::Vault(_)
                | EngineError::Io(_)
        )
    }
}

impl EngineError {
    /// A provider this server has no client for (no base URL or credentials configured).
    pub fn not_configured(provider: forgelink_events::Provider) -> EngineError {
        EngineError::ProviderNotConfigured {
            provider: provider.display_name(),
        }
    }
}
