//! The components of the OpenAPI document: the command messages (one schema per message type,
//! from [`message_schemas`], the same the edge checks against), the reply of a command and the
//! problem details (derived from their Rust types), and the shapes of the query answers.
//! The query answers are built as JSON in their handlers; their shapes are stated here and held
//! to the live answers by schemathesis in CI (`.ci/run`).

use crate::api::command_json::message_schemas;
use crate::api::error::Problem;
use crate::engine::CommandReply;
use crate::inbox::DeliveryState;
use forgelink_events::Provider;
use forgelink_projections::AccountStatus;
use serde_json::{json, Map, Value};

/// `StartLink`'s field that only the HTTP API takes (see `api::commands`).
const START_LINK_FOR: &str = "The person who must complete the link (HTTP only); the reply's \
    `authorize_url` is then a one-time address for that person. The message's `actor` when absent.";

fn names<T>(all: &[T], name: impl Fn(&T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(name).collect()
}

fn provider_names() -> Vec<&'static str> {
    names(&Provider::ALL, |p| p.as_str())
}

/// Every named schema, for `components.schemas`; the derived ones bring their own definitions.
pub fn components() -> Map<String, Value> {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas/".into();
    let mut generator = settings.into_generator();
    let mut out = Map::new();
    // Each derived type lands in the generator's definitions, with the types it refers to.
    generator.subschema_for::<Problem>();
    generator.subschema_for::<CommandReply>();
    for (name, schema) in generator.take_definitions(true) {
        out.insert(name, schema);
    }
    let mut messages = Vec::new();
    for m in message_schemas() {
        let mut schema = m.schema.clone();
        if m.name == "StartLink" {
            if let Some(Value::Object(p)) = schema.get_mut("properties") {
                p.insert(
                    "for".into(),
                    json!({"description": START_LINK_FOR, "type": "string", "examples": ["alice"]}),
                );
            }
        }
        let name = format!("{}Message", m.name);
        messages.push(json!({"$ref": format!("#/components/schemas/{name}")}));
        out.insert(name, Value::Object(schema));
    }
    let mapping: Map<String, Value> = message_schemas()
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                json!(format!("#/components/schemas/{}Message", m.name)),
            )
        })
        .collect();
    out.insert(
        "CommandMessage".into(),
        json!({
            "description": "One command message; `type` names what it asks for.",
            "oneOf": messages,
            "discriminator": {"propertyName": "type", "mapping": mapping},
        }),
    );
    out.extend(replies());
    out
}

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

/// The shapes of the query answers.
fn replies() -> Map<String, Value> {
    let statuses = names(&AccountStatus::ALL, |s| s.as_str());
    let states = names(
        &[DeliveryState::Pending, DeliveryState::Done, DeliveryState::Parked],
        |s| s.as_str(),
    );
    let account = json!({
        "description": "One account as the dashboard shows it.",
        "type": "object",
        "required": ["id", "name", "provider", "status", "repositories", "projects", "last_activity", "verifying", "version"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string", "description": "The account's unique name."},
            "provider": {"type": "string", "enum": provider_names()},
            "status": {"type": "string", "enum": statuses},
            "scope": {"type": ["object", "null"], "description": "Where new repositories go: `kind` is github_account, gitlab_group or bitbucket_workspace."},
            "installation_id": {"type": ["integer", "null"], "minimum": 0},
            "repository_selection": nullable("string"),
            "repositories": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "full_name": {"type": "string"}}}},
            "projects": {"type": "integer", "minimum": 0},
            "repos_awaiting_access": {"type": "integer", "minimum": 0},
            "blueprints": {"type": "integer", "minimum": 0},
            "linked_at": {"type": ["string", "null"], "format": "date-time"},
            "linked_by": nullable("string"),
            "last_activity": {"type": "string", "format": "date-time"},
            "last_error": nullable("string"),
            "verifying": {"type": "boolean"},
            "version": {"type": "integer", "minimum": 0},
            "next_action": nullable("string"),
            "next_action_text": nullable("string"),
        },
    });
    let envelope = json!({
        "description": "One event of the log in its envelope.",
        "type": "object",
        "required": ["position", "stream_id", "stream_version", "event_id", "type", "recorded_at", "actor", "data"],
        "properties": {
            "position": {"type": "integer", "minimum": 1},
            "stream_id": {"type": "string"},
            "stream_version": {"type": "integer", "minimum": 1},
            "event_id": {"type": "string", "format": "uuid"},
            "type": {"type": "string", "description": "The event type, e.g. `AccountNamed`."},
            "schema_version": {"type": "integer"},
            "command_id": {"type": "string", "format": "uuid"},
            "correlation_id": {"type": "string", "format": "uuid"},
            "causation_id": {"type": ["string", "null"], "format": "uuid"},
            "recorded_at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string"},
            "data": {"type": "object"},
        },
    });
    let delivery = json!({
        "description": "One webhook delivery in the inbox (its body and headers stay there).",
        "type": "object",
        "required": ["id", "provider", "state", "attempts", "received_at", "source"],
        "properties": {
            "id": {"type": "integer", "minimum": 0, "description": "The delivery's number, for retry."},
            "provider": {"type": "string", "enum": provider_names()},
            "delivery_id": nullable("string"),
            "event": nullable("string"),
            "state": {"type": "string", "enum": states},
            "attempts": {"type": "integer", "minimum": 0},
            "last_error": nullable("string"),
            "outcome": nullable("string"),
            "received_at": {"type": "string", "format": "date-time"},
            "processed_at": {"type": ["string", "null"], "format": "date-time"},
            "source": {"type": "string"},
        },
    });
    let count = json!({"type": "integer", "minimum": 0});
    let counts = json!({
        "type": "object",
        "required": ["pending", "done", "parked"],
        "properties": {"pending": count, "done": count, "parked": count},
    });
    let list = |key: &str, item: Value, extra: Value| {
        let mut props = json!({ key: {"type": "array", "items": item}, "account_id": {"type": "string", "format": "uuid"} });
        if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        json!({"type": "object", "required": ["account_id", key], "properties": props})
    };
    let mut m = Map::new();
    m.insert("Account".into(), account);
    m.insert(
        "AccountList".into(),
        json!({
            "type": "object",
            "required": ["accounts", "count", "total"],
            "properties": {
                "accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}},
                "count": count, "total": count,
                "next_offset": {"type": "integer", "minimum": 0, "description": "The `offset` of the next page, when there is one."},
            },
        }),
    );
    m.insert(
        "History".into(),
        list(
            "history",
            json!({"type": "object", "required": ["position", "event_type", "sentence", "status_after"], "properties": {
                "position": {"type": "integer"}, "stream_version": {"type": "integer"},
                "recorded_at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
                "correlation_id": {"type": "string", "format": "uuid"},
                "causation_id": {"type": ["string", "null"], "format": "uuid"},
                "event_type": {"type": "string"}, "sentence": {"type": "string"},
                "status_after": {"type": "string", "enum": names(&AccountStatus::ALL, |s| s.as_str())},
            }}),
            json!({
                "name": {"type": "string", "description": "The account's unique name."},
                "as_of": {"description": "The point asked for with `as_of`, or null.",
                    "oneOf": [{"type": "null"},
                        {"type": "object", "required": ["position"], "properties": {"position": {"type": "integer"}}},
                        {"type": "object", "required": ["time"], "properties": {"time": {"type": "string", "format": "date-time"}}}]},
                "state": {"description": "The account at that point (now without `as_of`); null when it did not exist yet.",
                    "oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Account"}]},
            }),
        ),
    );
    m.insert(
        "Verification".into(),
        json!({
            "description": "The live dashboard compared with a rebuild from the log at one position.",
            "type": "object",
            "required": ["position", "differences"],
            "properties": {
                "position": {"type": "integer", "description": "The log position both were compared at."},
                "differences": {"type": "array", "description": "Empty when they agree.", "items": {
                    "type": "object", "required": ["key", "field", "live", "rebuilt"], "properties": {
                        "key": {"type": "string", "description": "The account (name and id) or project."},
                        "field": {"type": "string"}, "live": {"type": "string"}, "rebuilt": {"type": "string"},
                    }}},
            },
        }),
    );
    m.insert(
        "Groups".into(),
        list(
            "groups",
            json!({"type": "object", "required": ["id", "full_path", "name"], "properties": {
                "id": {"type": "integer"}, "full_path": {"type": "string"}, "name": {"type": "string"},
                "project_creation_level": nullable("string"),
            }}),
            json!({}),
        ),
    );
    m.insert(
        "Workspaces".into(),
        list(
            "workspaces",
            json!({"type": "object", "required": ["slug"], "properties": {
                "slug": {"type": "string"}, "name": nullable("string"), "uuid": {"type": "string"},
            }}),
            json!({}),
        ),
    );
    m.insert("Envelope".into(), envelope);
    m.insert(
        "EventPage".into(),
        json!({
            "type": "object",
            "required": ["events", "next", "head"],
            "properties": {
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Envelope"}},
                "next": {"type": "integer", "description": "The `from` of the next page."},
                "head": {"type": "integer", "description": "The log's last position."},
            },
        }),
    );
    m.insert("Delivery".into(), delivery);
    m.insert(
        "DeliveryList".into(),
        json!({
            "type": "object",
            "required": ["deliveries", "count", "counts"],
            "properties": {
                "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
                "count": count,
                "counts": counts,
            },
        }),
    );
    m.insert(
        "Retried".into(),
        json!({
            "type": "object",
            "required": ["retried", "count"],
            "properties": {"retried": {"type": "array", "items": {"type": "integer"}}, "count": count},
        }),
    );
    m.insert(
        "LoginLinkRequest".into(),
        json!({
            "type": "object",
            "required": ["for"],
            "additionalProperties": false,
            "properties": {
                "for": {"type": "string", "minLength": 1, "description": "The person the link is for.", "examples": ["alice"]},
                "role": {"type": "string", "enum": ["admin", "viewer"], "default": "admin"},
            },
        }),
    );
    m.insert(
        "LoginLink".into(),
        json!({
            "type": "object",
            "required": ["url", "for", "role", "expires_in_secs"],
            "properties": {
                "url": {"type": "string", "description": "The one-time login link."},
                "for": {"type": "string"},
                "role": {"type": "string", "enum": ["admin", "viewer"]},
                "expires_in_secs": {"type": "integer"},
            },
        }),
    );
    m.insert(
        "WebhookAnswer".into(),
        json!({
            "description": "The delivery was stored (or had been before: `duplicate`).",
            "type": "object",
            "required": ["duplicate", "stored"],
            "properties": {
                "delivery": nullable("string"),
                "duplicate": {"type": "boolean"},
                "stored": {"type": "integer", "description": "The delivery's number in the inbox."},
                "state": {"type": "string", "enum": ["done", "pending"]},
                "ignored": {"type": "boolean", "description": "It concerned nothing forgelink knows."},
                "applied": {"type": "array", "items": {"$ref": "#/components/schemas/CommandReply"}},
            },
        }),
    );
    m.insert(
        "Health".into(),
        json!({
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "not ok"]},
                "head": {"type": "integer", "description": "With a credential: the log's last position."},
                "dashboard_checkpoint": {"type": "integer"},
            },
        }),
    );
    m
}
