//! Webhook deliveries from GitHub, GitLab and Bitbucket Cloud: checking that a delivery really
//! comes from the provider (constant-time signature or token checks over the raw body) and
//! turning its payload into provider-neutral [`Change`]s the engine acts on. Pure functions: no
//! HTTP server, no events, no I/O; the HTTP edge calls [`verify`] then [`parse`].
//!
//! What identifies a repository (`repo_id` below, and [`RepoRef::id`]) differs per provider, and
//! is always the one thing that survives renames and transfers:
//! - GitHub: the repository's numeric `id`, as a decimal string (`"1296269"`);
//! - GitLab: the project's numeric `project_id`, as a decimal string (`"73"`);
//! - Bitbucket Cloud: the repository `uuid`, in Bitbucket's braces (`"{673a6070-...}"`), exactly
//!   as the REST API returns it.
//!
//! Full names (`owner/repo`, `group/sub/project`, `workspace/slug`) change with renames and are
//! carried only to be shown and recorded.

pub mod bitbucket;
mod fields;
pub mod github;
pub mod gitlab;
mod shape;

use crate::secret::Secret;
use chrono::{DateTime, Utc};
pub use forgelink_events::{Provider, RepoRef};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a delivery was refused. Messages name the header or field at fault and never echo the
/// secret, the signature or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No webhook secret is configured: every delivery is refused rather than accepted unsigned.
    #[error("no webhook secret is configured for {provider}; set one before accepting deliveries")]
    NoSecretConfigured { provider: &'static str },
    #[error("the delivery has no {header} header")]
    MissingHeader { header: &'static str },
    #[error("the {header} header is malformed: {reason}")]
    MalformedHeader {
        header: &'static str,
        reason: &'static str,
    },
    /// The signature (or GitLab token) does not match the configured secret.
    #[error("the {header} header does not match the configured webhook secret")]
    BadSignature { header: &'static str },
    /// The body is not a JSON object.
    #[error("the body is not a JSON object ({detail}); webhooks must be sent as application/json")]
    BadJson { detail: String },
    /// The header naming the event does not match the body's shape: a body relabelled as
    /// another event (the header is not covered by the signature).
    #[error("the {header} header says `{event}`, but the body is not that event's payload: {detail}")]
    EventMismatch {
        header: &'static str,
        event: String,
        detail: String,
    },
    /// A field the engine relies on is absent, null or of the wrong type.
    #[error("the {event} payload has no valid `{field}` ({expected})")]
    InvalidField {
        event: String,
        field: String,
        expected: &'static str,
    },
}

/// Read access to a delivery's HTTP headers, by case-insensitive name.
pub trait HeaderLookup {
    /// The value of header `name`, if present and visible ASCII.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderLookup for axum::http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

impl HeaderLookup for [(&str, &str)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl<const N: usize> HeaderLookup for [(&str, &str); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl HeaderLookup for Vec<(String, String)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One webhook delivery, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub provider: Provider,
    /// The provider's delivery id: the key for "only once per delivery".
    pub delivery_id: String,
    /// The event name as the provider sent it (GitLab system hooks: `System Hook/<event_name>`).
    pub event: String,
    /// GitHub: the app installation the delivery belongs to, when the payload names one.
    pub installation_id: Option<u64>,
    /// What changed; at least one entry (an [`Change::Ignored`] when nothing concerns us).
    pub changes: Vec<Change>,
}

/// A change on the provider's side, in the engine's terms. `repo_id` is the provider's stable
/// repository id (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// GitHub: the app was installed.
    InstallationCreated {
        installation_id: u64,
        account_login: String,
        /// `all` or `selected`, when the payload says.
        repository_selection: Option<String>,
        repositories: Vec<RepoRef>,
        /// Who asked for the install when an owner approved someone's installation request
        /// (`requester.login`; `null` for a direct install).
        requester: Option<String>,
    },
    /// GitHub: the app was uninstalled.
    InstallationDeleted {
        installation_id: u64,
    },
    InstallationSuspended {
        installation_id: u64,
        /// Who suspended it, when the payload says.
        by: Option<String>,
    },
    InstallationUnsuspended {
        installation_id: u64,
    },
    NewPermissionsAccepted {
        installation_id: u64,
    },
    RepositoriesAdded {
        installation_id: u64,
        repositories: Vec<RepoRef>,
        repository_selection: Option<String>,
    },
    RepositoriesRemoved {
        installation_id: u64,
        repositories: Vec<RepoRef>,
        repository_selection: Option<String>,
    },
    /// GitHub: the account the app is installed on was renamed.
    InstallationTargetRenamed {
        installation_id: u64,
        from: Option<String>,
        to: String,
    },
    /// GitLab (system hook): a group was renamed or moved.
    GroupRenamed {
        group_id: u64,
        from_full_path: String,
        to_full_path: String,
    },
    /// GitHub: a person revoked their authorization of the app.
    AuthorizationRevoked {
        user_login: String,
    },
    RepoRenamed {
        repo_id: String,
        from_full_name: String,
        to_full_name: String,
    },
    /// The repository moved to another owner, group or workspace.
    RepoTransferred {
        repo_id: String,
        from_full_name: Option<String>,
        to_full_name: String,
    },
    RepoDeleted {
        repo_id: String,
        full_name: String,
    },
    /// New commits on a branch or tag (`git_ref` is always the full ref, `refs/heads/main`).
    Pushed {
        repo_id: String,
        full_name: String,
        git_ref: String,
        /// The commit the ref points at after the push.
        commit: String,
        /// The head commit's author (login where the provider gives one, else name), or the
        /// person who pushed.
        author: String,
        /// The head commit's time, when the payload carries it.
        at: Option<DateTime<Utc>>,
        /// The commit the ref pointed at before the push (absent for a new branch, or when the
        /// payload does not say).
        before: Option<String>,
    },
    /// Nothing the engine acts on; `reason` says why (for the delivery log).
    Ignored {
        reason: String,
    },
}

impl Change {
    pub(crate) fn ignored(reason: impl Into<String>) -> Change {
        Change::Ignored {
            reason: reason.into(),
        }
    }
}

/// Checks a delivery's signature or token against `secret`, in constant time.
pub fn verify(
    provider: Provider,
    body: &[u8],
    headers: &(impl HeaderLookup + ?Sized),
    secret: &Secret,
) -> Result<(), WebhookError> {
    match provider {
        Provider::GitHub => github::verify(body, headers, secret),
        Provider::GitLab => gitlab::verify(headers, secret),
        Provider::Bitbucket => bitbucket::verify(body, headers, secret),
    }
}

/// Parses a delivery (already verified) into its [`Change`]s.
pub fn parse(
    provider: Provider,
    body: &[u8],
    headers: &(impl HeaderLookup + ?Sized),
) -> Result<Delivery, WebhookError> {
    match provider {
        Provider::GitHub => github::parse(body, headers),
        Provider::GitLab => gitlab::parse(body, headers),
        Provider::Bitbucket => bitbucket::parse(body, headers),
    }
}

/// [`verify`], then [`parse`]: nothing of an unverified body is read.
pub fn verify_and_parse(
    provider: Provider,
    body: &[u8],
    headers: &(impl HeaderLookup + ?Sized),
    secret: &Secret,
) -> Result<Delivery, WebhookError> {
    verify(provider, body, headers, secret)?;
    parse(provider, body, headers)
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`: the value of GitHub's `X-Hub-Signature-256` and
/// Bitbucket's `X-Hub-Signature`. For the sandboxes' webhook senders and for tests.
pub fn sha256_signature(secret: &Secret, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret, body)))
}

fn hmac_sha256(secret: &Secret, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a `sha256=<hex>` header against the HMAC of `body`, in constant time.
pub(crate) fn verify_sha256_header(
    provider: &'static str,
    header: &'static str,
    body: &[u8],
    headers: &(impl HeaderLookup + ?Sized),
    secret: &Secret,
) -> Result<(), WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::NoSecretConfigured { provider });
    }
    let value = headers
        .header(header)
        .ok_or(WebhookError::MissingHeader { header })?;
    let hex_part = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(WebhookError::MalformedHeader {
            header,
            reason: "it does not start with sha256=",
        })?;
    let given = hex::decode(hex_part).map_err(|_| WebhookError::MalformedHeader {
        header,
        reason: "the signature is not hexadecimal",
    })?;
    if given.len() != 32 {
        return Err(WebhookError::MalformedHeader {
            header,
            reason: "the signature is not 32 bytes long",
        });
    }
    let expected = hmac_sha256(secret, body);
    if bool::from(expected.ct_eq(&given)) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature { header })
    }
}

/// Compares a shared token in constant time; hashing both first keeps the comparison's time
/// independent of the secret's length too.
pub(crate) fn tokens_match(given: &str, secret: &Secret) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(secret.expose().as_bytes());
    bool::from(a.ct_eq(&b))
}

/// A required header, trimmed and non-empty.
pub(crate) fn required_header<'h>(
    headers: &'h (impl HeaderLookup + ?Sized),
    header: &'static str,
) -> Result<&'h str, WebhookError> {
    let v = headers
        .header(header)
        .ok_or(WebhookError::MissingHeader { header })?
        .trim();
    if v.is_empty() {
        return Err(WebhookError::MalformedHeader {
            header,
            reason: "it is empty",
        });
    }
    if v.len() > 200 {
        return Err(WebhookError::MalformedHeader {
            header,
            reason: "it is longer than 200 characters",
        });
    }
    Ok(v)
}
