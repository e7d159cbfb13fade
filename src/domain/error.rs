//! `DomainError`: why the decider refused a command, in words that tell a person what to do
//! next. `kind()` lets the edge pick a status code and `field()` names the input at fault.
//! Messages never carry a secret (commands hold none) and quote outside input only shortened.

use super::status::AccountStatus;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The broad class of a refusal, for the edge's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input itself is wrong (400/422).
    InvalidInput,
    /// The account or attempt does not exist (404).
    NotFound,
    /// The account is not in a state that allows this (409).
    Conflict,
    /// The OAuth state is wrong, spent or expired (403).
    Refused,
}

/// A command the account refused. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("`{name}` cannot be an account name: {reason}")]
    InvalidName {
        field: &'static str,
        name: String,
        reason: String,
    },
    #[error("`{field}` is required: {why}")]
    MissingField { field: &'static str, why: String },
    #[error("`{field}` is not valid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("no such account; name it first with NameAccount")]
    NoSuchAccount,
    #[error(
        "this account is already named {name} on {provider}; choose another account id for a new account"
    )]
    AccountExists { name: String, provider: &'static str },
    #[error("account {name} was unlinked; name a new account to link again")]
    Unlinked { name: String },
    #[error("cannot {action}: account {name} {situation}")]
    NotAllowed {
        action: &'static str,
        name: String,
        status: AccountStatus,
        /// Where the account stands and what to do instead.
        situation: String,
    },
    #[error("cannot {action}: {reason}")]
    WrongProvider { action: &'static str, reason: String },
    #[error("no link was started for account {name}; start a link first")]
    NoLinkAttempt { name: String },
    #[error("link attempt {attempt_id} does not belong to account {name}")]
    UnknownAttempt { name: String, attempt_id: Uuid },
    #[error("link attempt {attempt_id} was superseded by a newer link of account {name}")]
    AttemptSuperseded { name: String, attempt_id: Uuid },
    #[error("state does not match the current link attempt; use the link you started last")]
    StateMismatch,
    #[error("this state was already used; start a new link")]
    StateAlreadyUsed,
    #[error("this link attempt expired at {expires_at}; start a new link")]
    LinkAttemptExpired { expires_at: DateTime<Utc> },
    #[error("this link attempt failed ({reason}); start a new link")]
    LinkAttemptFailed { reason: String },
    #[error("this link attempt expires only at {expires_at}")]
    NotYetExpired { expires_at: DateTime<Utc> },
    #[error("no authorization was received for link attempt {attempt_id}; the person must approve on {provider} first")]
    NoAuthorization {
        attempt_id: Uuid,
        provider: &'static str,
    },
    #[error("link attempt {attempt_id} was already approved")]
    AlreadyApproved { attempt_id: Uuid },
    #[error("the grant does not match what {provider} sent back: {reason}")]
    GrantMismatch { provider: &'static str, reason: String },
    #[error("{0}")]
    SelectionMissing(&'static str),
}

impl DomainError {
    /// The broad class, for the edge's status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DomainError::InvalidName { .. }
            | DomainError::MissingField { .. }
            | DomainError::InvalidField { .. }
            | DomainError::GrantMismatch { .. } => ErrorKind::InvalidInput,
            DomainError::NoSuchAccount | DomainError::UnknownAttempt { .. } => ErrorKind::NotFound,
            DomainError::StateMismatch
            | DomainError::StateAlreadyUsed
            | DomainError::LinkAttemptExpired { .. }
            | DomainError::LinkAttemptFailed { .. } => ErrorKind::Refused,
            DomainError::AccountExists { .. }
            | DomainError::Unlinked { .. }
            | DomainError::NotAllowed { .. }
            | DomainError::WrongProvider { .. }
            | DomainError::NoLinkAttempt { .. }
            | DomainError::AttemptSuperseded { .. }
            | DomainError::NotYetExpired { .. }
            | DomainError::NoAuthorization { .. }
            | DomainError::AlreadyApproved { .. }
            | DomainError::SelectionMissing(_) => ErrorKind::Conflict,
        }
    }

    /// The input field at fault, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::InvalidName { field, .. }
            | DomainError::MissingField { field, .. }
            | DomainError::InvalidField { field, .. } => Some(field),
            DomainError::StateMismatch
            | DomainError::StateAlreadyUsed
            | DomainError::LinkAttemptExpired { .. }
            | DomainError::LinkAttemptFailed { .. } => Some("state"),
            DomainError::UnknownAttempt { .. } | DomainError::AttemptSuperseded { .. } => Some("attempt_id"),
            DomainError::GrantMismatch { .. } => Some("grant"),
            _ => None,
        }
    }
}
