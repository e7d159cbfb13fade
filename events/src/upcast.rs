//! Upcasting: stored payloads of an older schema version become the current shape when read.
//! A stored event is never rewritten; each upgrade is a pure function of the old payload and
//! the envelope's facts.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// How long a link attempt lives when nothing else was recorded (LinkStarted v1 had no expiry).
pub const DEFAULT_LINK_TTL: Duration = Duration::minutes(30);

/// Upgrades `value`, stored as `event_type` at `from_version`, one version at a time.
pub fn upcast(event_type: &str, from_version: u32, mut value: Value, recorded_at: DateTime<Utc>) -> Value {
    let mut version = from_version;
    loop {
        match (event_type, version) {
            // v1 -> v2: the attempt expires DEFAULT_LINK_TTL after it was recorded.
            ("LinkStarted", 1) => {
                if let Value::Object(map) = &mut value {
                    let expires = recorded_at + DEFAULT_LINK_TTL;
                    map.entry("expires_at")
                        .or_insert_with(|| Value::String(expires.to_rfc3339()));
                }
                version = 2;
            }
            _ => return value,
        }
    }
}
