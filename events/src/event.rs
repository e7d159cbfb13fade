//! `Event`: the closed set of everything that can happen, each with its type tag and schema
//! version, and the decoding of stored payloads (upcasting older schema versions on the way).

use crate::account::*;
use crate::project::*;
use crate::upcast;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a stored payload could not become an [`Event`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "unknown event type `{event_type}` (schema v{schema_version}); it was written by a newer forgelink"
    )]
    UnknownType { event_type: String, schema_version: u32 },
    #[error("event type `{event_type}` has schema v{schema_version}, newer than the v{known} this forgelink knows")]
    NewerSchema {
        event_type: String,
        schema_version: u32,
        known: u32,
    },
    #[error("payload of `{event_type}` v{schema_version} does not parse: {source}")]
    Payload {
        event_type: String,
        schema_version: u32,
        source: serde_json::Error,
    },
}

macro_rules! events {
    ($( $variant:ident = $version:literal ),* $(,)?) => {
        /// Every event of the vocabulary. Serialized adjacently tagged:
        /// `{"type": "AccountNamed", "data": {...}}`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum Event {
            $( $variant($variant), )*
        }

        $(
            impl From<$variant> for Event {
                fn from(e: $variant) -> Self { Event::$variant(e) }
            }
        )*

        impl Event {
            /// Every event type tag with its current schema version.
            pub const TYPES: &'static [(&'static str, u32)] = &[ $( (stringify!($variant), $version), )* ];

            /// The type tag, e.g. `AccountNamed`.
            pub fn event_type(&self) -> &'static str {
                match self { $( Event::$variant(_) => stringify!($variant), )* }
            }

            /// The schema version this build writes for this event type.
            pub fn schema_version(&self) -> u32 {
                match self { $( Event::$variant(_) => $version, )* }
            }

            /// The payload alone as JSON (the `data` of the envelope).
            pub fn data_json(&self) -> String {
                let r = match self { $( Event::$variant(e) => serde_json::to_string(e), )* };
                r.expect("event payloads are plain data and always serialize")
            }

            /// The current schema version of a type tag, if this build knows it.
            pub fn current_version(event_type: &str) -> Option<u32> {
                match event_type { $( stringify!($variant) => Some($version), )* _ => None }
            }

            /// Decodes a stored payload, upcasting it when it was written with an older schema.
            pub fn decode(
                event_type: &str,
                schema_version: u32,
                data: &str,
                recorded_at: DateTime<Utc>,
            ) -> Result<Event, DecodeError> {
                let known = Event::current_version(event_type).ok_or_else(|| DecodeError::UnknownType {
                    event_type: event_type.to_string(),
                    schema_version,
                })?;
                let payload_err = |source| DecodeError::Payload {
                    event_type: event_type.to_string(),
                    schema_version,
                    source,
                };
                if schema_version > known {
                    return Err(DecodeError::NewerSchema { event_type: event_type.to_string(), schema_version, known });
                }
                if schema_version == known {
                    return match event_type {
                        $( stringify!($variant) => serde_json::from_str::<$variant>(data).map(Event::$variant).map_err(payload_err), )*
                        _ => unreachable!("current_version knew the type"),
                    };
                }
                let value: serde_json::Value = serde_json::from_str(data).map_err(payload_err)?;
                let value = upcast::upcast(event_type, schema_version, value, recorded_at);
                match event_type {
                    $( stringify!($variant) => serde_json::from_value::<$variant>(value).map(Event::$variant).map_err(payload_err), )*
                    _ => unreachable!("current_version knew the type"),
                }
            }
        }
    };
}

events! {
    // account stream
    AccountNamed = 1,
    LinkStarted = 2,
    AuthorizationReceived = 1,
    InstallRequested = 1,
    InstallRequestIdentified = 1,
    InstallApproved = 1,
    GroupSelected = 1,
    WorkspaceSelected = 1,
    DetailsSaved = 1,
    RepositoriesChanged = 1,
    InstallationSuspended = 1,
    InstallationUnsuspended = 1,
    InstallationRemoved = 1,
    CredentialsRefreshed = 1,
    CredentialsRevoked = 1,
    BlueprintsFound = 1,
    LinkExpired = 1,
    LinkFailed = 1,
    AccountRenamed = 1,
    AccountUnlinked = 1,
    ScopeRenamed = 1,
    // project stream
    ProjectCreated = 1,
    RepoCreated = 1,
    RepoAutoAdded = 1,
    ProjectImported = 1,
    RepoAccessPending = 1,
    RepoCreationFailed = 1,
    RepoRenamed = 1,
    RepoDeleted = 1,
    RepoPushed = 1,
    ProjectDetached = 1,
}

/// The claim key of a GitHub App installation in the writer's unique index. Account names are
/// letters, digits, `-` and `_` only, so a key with a space can never collide with one.
pub fn installation_claim(installation_id: u64) -> String {
    format!("github installation {installation_id}")
}

/// The installation id of a claim key made by [`installation_claim`], if it is one.
pub fn claimed_installation(key: &str) -> Option<u64> {
    key.strip_prefix("github installation ")?.parse().ok()
}

impl Event {
    /// The unique keys this event claims (reserved by the single writer in the same commit; a
    /// key another stream holds refuses the whole append): an account's unique name, and the
    /// GitHub installation an approval takes (one live account per installation).
    pub fn name_claim(&self) -> Vec<String> {
        match self {
            Event::AccountNamed(e) => vec![e.unique_name.clone()],
            Event::AccountRenamed(e) => vec![e.to.clone()],
            Event::InstallApproved(InstallApproved {
                grant: Grant::GithubInstallation { installation_id, .. },
                ..
            }) => vec![installation_claim(*installation_id)],
            _ => vec![],
        }
    }

    /// The unique keys this event gives up (released in the same commit, and only when the
    /// appending stream holds them). A `LinkFailed` releases nothing: only `InstallApproved`
    /// takes an installation, so a failed attempt never held one.
    pub fn name_release(&self) -> Vec<String> {
        match self {
            Event::AccountRenamed(e) => vec![e.from.clone()],
            Event::AccountUnlinked(e) => {
                let mut keys = vec![e.unique_name.clone()];
                keys.extend(e.installation_id.map(installation_claim));
                keys
            }
            Event::InstallationRemoved(e) => e.installation_id.map(installation_claim).into_iter().collect(),
            _ => vec![],
        }
    }
}
