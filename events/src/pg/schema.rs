//! The tables of the PostgreSQL store, created at open (under an advisory lock, so that several
//! processes opening one empty database at once do not race on `CREATE TABLE`).
//!
//! | table                | holds                                                              |
//! |----------------------|--------------------------------------------------------------------|
//! | `forgelink_head`     | ONE row: the last global position. Every append batch locks it first |
//! | `forgelink_events`   | one row per event: position, stream, version, type, the record bytes |
//! | `forgelink_names`    | unique names and claim keys (lowercase) and the stream holding each |
//! | `forgelink_commands` | every command id appended, with its first outcome                   |
//!
//! The `record` column holds the very bytes the sled log stores (log/record.rs), so export is
//! byte-identical across the two backends and an import is verbatim.

/// The advisory lock key that serializes schema creation (any constant; "forgelnk" in ASCII).
const SCHEMA_LOCK: i64 = 0x666f_7267_656c_6e6b;

pub(crate) fn create_sql() -> String {
    format!(
        "BEGIN;
SELECT pg_advisory_xact_lock({SCHEMA_LOCK});
CREATE TABLE IF NOT EXISTS forgelink_head (
    id smallint PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL
);
INSERT INTO forgelink_head (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS forgelink_events (
    position bigint PRIMARY KEY,
    stream_id text NOT NULL,
    stream_version bigint NOT NULL,
    event_type text NOT NULL,
    record bytea NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE TABLE IF NOT EXISTS forgelink_names (
    name text PRIMARY KEY,
    owner text NOT NULL
);
CREATE TABLE IF NOT EXISTS forgelink_commands (
    command_id uuid PRIMARY KEY,
    stream_id text NOT NULL,
    first_position bigint NOT NULL,
    last_position bigint NOT NULL,
    stream_version bigint NOT NULL
);
COMMIT;"
    )
}

/// Takes the head row's lock (held to the end of the transaction) and returns the head.
pub(crate) const LOCK_HEAD: &str =
    "UPDATE forgelink_head SET position = position WHERE id = 1 RETURNING position";
pub(crate) const SET_HEAD: &str = "UPDATE forgelink_head SET position = $1 WHERE id = 1";
pub(crate) const HEAD: &str = "SELECT position FROM forgelink_head WHERE id = 1";
pub(crate) const COMMANDS: &str =
    "SELECT command_id, stream_id, first_position, last_position, stream_version \
     FROM forgelink_commands WHERE command_id = ANY($1)";
pub(crate) const STREAM_VERSIONS: &str = "SELECT stream_id, max(stream_version) FROM forgelink_events \
     WHERE stream_id = ANY($1) GROUP BY stream_id";
pub(crate) const NAMES: &str = "SELECT name, owner FROM forgelink_names WHERE name = ANY($1)";
pub(crate) const INSERT_EVENTS: &str =
    "INSERT INTO forgelink_events (position, stream_id, stream_version, event_type, record) \
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bytea[])";
pub(crate) const INSERT_COMMANDS: &str = "INSERT INTO forgelink_commands \
     (command_id, stream_id, first_position, last_position, stream_version) \
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
     ON CONFLICT (command_id) DO UPDATE SET last_position = excluded.last_position, \
     stream_version = excluded.stream_version";
// (A conflict happens only on import, for a command whose events an import chunk boundary
// cut in two; an append's ids are checked under the head lock before.)
pub(crate) const UPSERT_NAMES: &str = "INSERT INTO forgelink_names (name, owner) \
     SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner";
pub(crate) const DELETE_NAMES: &str = "DELETE FROM forgelink_names WHERE name = ANY($1)";
pub(crate) const NOTIFY: &str = "SELECT pg_notify('forgelink_log', $1)";
pub(crate) const LISTEN: &str = "LISTEN forgelink_log";
pub(crate) const READ_RANGE: &str = "SELECT position, record FROM forgelink_events \
     WHERE position >= $1 AND position <= $2 ORDER BY position LIMIT $3";
pub(crate) const READ_STREAM: &str = "SELECT position, record FROM forgelink_events \
     WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version";
pub(crate) const STREAM_VERSION: &str =
    "SELECT coalesce(max(stream_version), 0) FROM forgelink_events WHERE stream_id = $1";
pub(crate) const NAME_OWNER: &str = "SELECT owner FROM forgelink_names WHERE name = $1";
pub(crate) const COMMAND: &str = "SELECT stream_id, first_position, last_position, stream_version \
     FROM forgelink_commands WHERE command_id = $1";

/// The key a unique name is stored under: names are unique case-insensitively.
pub(crate) fn name_key(unique_name: &str) -> String {
    unique_name.to_lowercase()
}
