//! The durable webhook inbox. A delivery whose signature and shape check out is stored (its
//! id, event, the headers the parser reads, and the body) before it is acknowledged, then
//! processed by workers with retries and backoff; one that keeps failing is parked with its
//! reason and shown (API, CLI, dashboard, metrics) until someone retries it. Nothing a provider
//! sent is dropped because the provider (or we) had a bad moment while handling it.
//!
//! Deduplication follows what each provider documents (see [`dedupe_key`]); the store checks
//! the key in its single writer, so two copies arriving together are stored once.

mod commit;
mod journal;
pub mod order;
mod record;
pub mod redeliver;
mod store;
pub mod workers;

pub use record::Progress;
pub use redeliver::InboxHealer;
pub use store::{Accepted, InboxStore};
pub use workers::{InboxWorkers, Submitter, WorkerConfig};

use crate::webhooks::{self, HeaderLookup, WebhookError};
use chrono::{DateTime, Utc};
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Stored, not yet processed (or waiting for its next attempt).
    #[default]
    Pending,
    /// Processed: what it said changed is recorded (or it concerned nothing we know).
    Done,
    /// Failed too many times; waits for a person to retry it.
    Parked,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Done => "done",
            DeliveryState::Parked => "parked",
        }
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "done" => Ok(DeliveryState::Done),
            "parked" => Ok(DeliveryState::Parked),
            other => Err(format!(
                "unknown delivery state `{other}`; use pending, done or parked"
            )),
        }
    }
}

/// One stored delivery. The body is the JSON payload (GitHub's form-encoded `payload=` already
/// decoded); the headers are those a parser may read, never a signature or token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDelivery {
    /// The inbox's own number for it (assigned when stored).
    pub seq: u64,
    pub provider: Provider,
    /// The provider's delivery id.
    pub delivery_id: String,
    pub event: String,
    pub received_at: DateTime<Utc>,
    pub state: DeliveryState,
    /// Processing attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed (pending again or parked), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// What processing did (`done`): the events recorded, or why nothing was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// When processing last ended (done or parked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<DateTime<Utc>>,
    /// Where it came from: `webhook`, or `redelivery` when reconciliation fetched it.
    #[serde(default = "webhook_source")]
    pub source: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

fn webhook_source() -> String {
    "webhook".into()
}

/// Why a delivery was not taken into the inbox (before anything was stored).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 415: a content type the provider does not send.
    #[error("content type `{0}` is not accepted; send application/json (GitHub also sends application/x-www-form-urlencoded with a `payload` field)")]
    ContentType(String),
    /// 401: the signature or token does not hold.
    #[error(transparent)]
    Signature(WebhookError),
    /// 400: the payload is not what the provider documents.
    #[error(transparent)]
    Shape(WebhookError),
}

/// The JSON payload of a delivery, by its content type: `application/json` as is, and GitHub's
/// `application/x-www-form-urlencoded` form (the JSON in its `payload` field); any other type
/// is refused. Call after the signature was checked over the raw body.
pub fn payload_of(provider: Provider, content_type: Option<&str>, raw: &[u8]) -> Result<Vec<u8>, Refusal> {
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok(raw.to_vec()),
        "application/x-www-form-urlencoded" if provider == Provider::GitHub => {
            let payload = url::form_urlencoded::parse(raw)
                .find(|(k, _)| k == "payload")
                .map(|(_, v)| v.into_owned().into_bytes());
            payload.ok_or_else(|| {
                Refusal::Shape(WebhookError::BadJson {
                    detail: "the form has no `payload` field".into(),
                })
            })
        }
        // Providers always name the type; a sender that names none is read as JSON (the body
        // must then parse as JSON, as with `application/json`).
        "" => Ok(raw.to_vec()),
        other => Err(Refusal::ContentType(other.chars().take(80).collect())),
    }
}

/// The key a repeated delivery is recognised by, as each provider documents it:
/// - GitHub: the `X-GitHub-Delivery` GUID, which a redelivery keeps;
/// - GitLab: `Idempotency-Key` (the same across retries) when sent, else `X-Gitlab-Event-UUID`
///   with the event kind and a hash of the body: one UUID is shared by every event a request
///   triggered (recursive webhooks), so the UUID alone would drop different events;
/// - Bitbucket Cloud: `X-Request-UUID`.
///
/// GitHub and Bitbucket keys carry the body hash too, so an id reused for a different payload
/// is not mistaken for a repeat, while a true redelivery (same id, same body) is.
pub fn dedupe_key(
    delivery: &webhooks::Delivery,
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
) -> String {
    let hash = hex::encode(&Sha256::digest(body)[..16]);
    match delivery.provider {
        Provider::GitLab => match headers
            .header("Idempotency-Key")
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            Some(key) => format!("idempotency/{}", key.chars().take(200).collect::<String>()),
            None => format!("{}/{}/{hash}", delivery.delivery_id, delivery.event),
        },
        _ => format!("{}/{hash}", delivery.delivery_id),
    }
}

/// True for a header kept with a delivery (lowercase name): what a parser may read, never a
/// signature, token or cookie.
pub fn keep_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let secretish = ["token", "signature", "secret", "auth", "cookie"]
        .iter()
        .any(|s| n.contains(s));
    (n.starts_with("x-") || n == "idempotency-key" || n == "user-agent") && !secretish
}

/// The headers kept with a delivery (see [`keep_header`]).
pub fn kept_headers(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| keep_header(name.as_str()))
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}
