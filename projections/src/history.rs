//! The audit history of one account: every event of its stream as a sentence a person can read,
//! with its structured fields, and the account's state as of a time or a position (the stream
//! replayed up to it and folded with the dashboard's own fold).

use crate::account::{AccountRow, FoldError};
use crate::runner::Projection;
use crate::sentence::sentence;
use crate::status::AccountStatus;
use crate::{Dashboard, ProjectionError};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use forgelink_events::{EventStore, LogError, Selected, StreamId};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Errors reading a history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("history of account {account}: {source}")]
    Fold {
        account: Uuid,
        #[source]
        source: FoldError,
    },
    #[error("history of account {account}: replaying the log: {detail}")]
    Replay { account: Uuid, detail: String },
}

/// One event of an account's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub position: u64,
    pub stream_version: u64,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub event_type: &'static str,
    /// "2026-11-27 10:02:11 alice started linking GitHub account acme-infra".
    pub sentence: String,
    /// The account's status right after this event.
    pub status_after: AccountStatus,
}

/// A point in the log: a global position, or a moment (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AsOf {
    Position(u64),
    Time(DateTime<Utc>),
}

impl AsOf {
    /// True when an event at `position`, recorded at `at`, is at or before this point.
    pub fn includes(&self, position: u64, at: DateTime<Utc>) -> bool {
        match *self {
            AsOf::Position(p) => position <= p,
            AsOf::Time(t) => at <= t,
        }
    }
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Position(p) => write!(f, "position {p}"),
            AsOf::Time(t) => write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S UTC")),
        }
    }
}

/// An `--as-of` value that is neither a position nor a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither a position (a number) nor a time (e.g. 2026-11-27T10:02:11Z, `2026-11-27 10:02:11` in UTC, or 2026-11-27)")]
pub struct BadAsOf(pub String);

impl FromStr for AsOf {
    type Err = BadAsOf;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().map(AsOf::Position).map_err(|_| BadAsOf(s.into()));
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(AsOf::Time(dt.with_timezone(&Utc)));
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
                return Ok(AsOf::Time(n.and_utc()));
            }
        }
        // A bare date means the end of that day: "as of the 27th" includes the 27th.
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            if let Some(end) = d.and_hms_milli_opt(23, 59, 59, 999) {
                return Ok(AsOf::Time(end.and_utc()));
            }
        }
        Err(BadAsOf(s.into()))
    }
}

/// Every event of the account's stream, oldest first, each as a sentence with its fields.
pub fn account_history(
    log: &(impl EventStore + ?Sized),
    account: Uuid,
) -> Result<Vec<HistoryEntry>, HistoryError> {
    history_until(log, account, None).map(|(entries, _)| entries)
}

/// The history up to `as_of` (inclusive) and the account's state at that point (`None` when
/// the account did not exist yet), including the projects that used it then.
pub fn history_as_of(
    log: &(impl EventStore + ?Sized),
    account: Uuid,
    as_of: AsOf,
) -> Result<(Vec<HistoryEntry>, Option<AccountRow>), HistoryError> {
    let (entries, _) = history_until(log, account, Some(as_of))?;
    Ok((entries, state_as_of(log, account, as_of)?))
}

/// The account's state as of a time or a position: its own stream and every project stream,
/// replayed up to that point through the dashboard's own code, so the projects it had then
/// (and their repositories awaiting access) are counted as the dashboard counted them.
///
/// Reads the log from position 1 (projects name their account only in their first event, so
/// no index says which projects used an account in the past): for `--as-of`, not for a hot path.
pub fn state_as_of(
    log: &(impl EventStore + ?Sized),
    account: Uuid,
    as_of: AsOf,
) -> Result<Option<AccountRow>, HistoryError> {
    let own = StreamId::account(account);
    let mut dashboard = Dashboard::new();
    // Once one of the account's events is past the point, all later ones are too (a stream is
    // folded without gaps).
    let mut own_done = false;
    // Only the account's own events and project events are decoded (EventStore::read_selected).
    let reads = |stream: &str, _: &str| stream == own.as_str() || stream.starts_with("project-");
    for item in log.read_selected(1, &reads) {
        let Selected::Event(env) = item? else { continue };
        if let AsOf::Position(p) = as_of {
            if env.position > p {
                break;
            }
        }
        let included = as_of.includes(env.position, env.recorded_at);
        let wanted = if env.stream_id == own {
            own_done |= !included;
            !own_done
        } else {
            included
        };
        if wanted {
            dashboard.apply(&env).map_err(|e| match e {
                ProjectionError::Fold { source, .. } => HistoryError::Fold { account, source },
                other => HistoryError::Replay {
                    account,
                    detail: other.to_string(),
                },
            })?;
        }
    }
    Ok(dashboard.reader().get_by_id(account).map(|row| (*row).clone()))
}

fn history_until(
    log: &(impl EventStore + ?Sized),
    account: Uuid,
    as_of: Option<AsOf>,
) -> Result<(Vec<HistoryEntry>, Option<AccountRow>), HistoryError> {
    let mut row: Option<AccountRow> = None;
    let mut entries = Vec::new();
    for env in log.read_stream(&StreamId::account(account), 1)? {
        if as_of.is_some_and(|a| !a.includes(env.position, env.recorded_at)) {
            break;
        }
        let before = row.clone();
        match row.as_mut() {
            Some(r) => r
                .apply(&env)
                .map_err(|source| HistoryError::Fold { account, source })?,
            None => row = AccountRow::named(&env),
        }
        let Some(after) = row.as_ref() else { continue };
        entries.push(HistoryEntry {
            position: env.position,
            stream_version: env.stream_version,
            recorded_at: env.recorded_at,
            actor: env.actor.clone(),
            correlation_id: env.correlation_id,
            causation_id: env.causation_id,
            event_type: env.event_type(),
            sentence: sentence(&env, before.as_ref().unwrap_or(after)),
            status_after: after.status,
        });
    }
    Ok((entries, row))
}
