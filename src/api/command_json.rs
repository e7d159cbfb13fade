//! Reading a command message from JSON at the edge, so every refusal names the field at fault:
//! malformed JSON, an unknown `type`, an unknown, missing or mistyped field. serde's own errors
//! for tagged and flattened enums lose the field name, so the shape is checked against a small
//! table first, and serde then only builds the value.

use super::error::ApiError;
use crate::engine::{CommandMessage, Request};
use serde_json::{Map, Value};

/// What a field must hold.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Uuid,
    Unsigned,
    Provider,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Uuid => "a UUID string",
            Kind::Unsigned => "a non-negative integer",
            Kind::Provider => "one of \"github\", \"gitlab\", \"bitbucket\"",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::Text => v.is_string(),
            Kind::Uuid => v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
            Kind::Unsigned => v.is_u64(),
            Kind::Provider => v
                .as_str()
                .is_some_and(|s| s.parse::<crate::webhooks::Provider>().is_ok()),
        }
    }
}

/// (field, kind, required)
type Field = (&'static str, Kind, bool);

const COMMON: &[Field] = &[
    ("command_id", Kind::Uuid, false),
    ("correlation_id", Kind::Uuid, false),
    ("actor", Kind::Text, false),
];

/// Every message type and its own fields.
const TYPES: &[(&str, &[Field])] = &[
    (
        "NameAccount",
        &[
            ("provider", Kind::Provider, true),
            ("unique_name", Kind::Text, true),
            ("account_id", Kind::Uuid, false),
        ],
    ),
    ("StartLink", &[("account", Kind::Text, true)]),
    (
        "CompleteAuthorization",
        &[
            ("state", Kind::Text, false),
            ("installation_id", Kind::Unsigned, false),
            ("setup_action", Kind::Text, false),
            ("code", Kind::Text, false),
            ("error", Kind::Text, false),
        ],
    ),
    (
        "SelectGroup",
        &[("account", Kind::Text, true), ("group_id", Kind::Unsigned, true)],
    ),
    (
        "SelectWorkspace",
        &[
            ("account", Kind::Text, true),
            ("workspace", Kind::Text, true),
            ("project_key", Kind::Text, true),
        ],
    ),
    ("SaveDetails", &[("account", Kind::Text, true)]),
    (
        "RenameAccount",
        &[("account", Kind::Text, true), ("to", Kind::Text, true)],
    ),
    (
        "UnlinkAccount",
        &[("account", Kind::Text, true), ("reason", Kind::Text, false)],
    ),
    (
        "CreateProject",
        &[
            ("project_id", Kind::Uuid, false),
            ("name", Kind::Text, true),
            ("account", Kind::Text, true),
        ],
    ),
    (
        "ImportProject",
        &[
            ("project_id", Kind::Uuid, false),
            ("name", Kind::Text, true),
            ("account", Kind::Text, true),
            ("repository", Kind::Text, true),
        ],
    ),
    (
        "DetachProject",
        &[("project_id", Kind::Uuid, true), ("reason", Kind::Text, false)],
    ),
    ("Reconcile", &[("account", Kind::Text, false)]),
];

/// The message types, for hints.
pub fn message_types() -> Vec<&'static str> {
    TYPES.iter().map(|(t, _)| *t).collect()
}

/// Parses and checks a command message.
pub fn parse_command(body: &[u8]) -> Result<CommandMessage, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body is not valid JSON: {e}"))
            .hint("send one JSON object, e.g. {\"type\": \"StartLink\", \"account\": \"acme-infra\"}")
    })?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object")
            .hint("e.g. {\"type\": \"StartLink\", \"account\": \"acme-infra\"}"));
    };
    check_shape(&map)?;
    // `CommandMessage` flattens `Request` and denies unknown fields, a pair serde cannot
    // deserialize; the envelope fields are taken out here and the rest is the request.
    let mut map = map;
    let uuid = |v: Option<Value>| v.and_then(|v| v.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()));
    let command_id = uuid(map.remove("command_id"));
    let correlation_id = uuid(map.remove("correlation_id"));
    let actor = map.remove("actor").and_then(|v| v.as_str().map(str::to_string));
    let request = serde_json::from_value::<Request>(Value::Object(map))
        .map_err(|e| ApiError::bad_request(format!("invalid command message: {e}")))?;
    let mut message = CommandMessage::new(request);
    message.command_id = command_id;
    message.correlation_id = correlation_id;
    if let Some(actor) = actor {
        message.actor = actor;
    }
    Ok(message)
}

fn check_shape(map: &Map<String, Value>) -> Result<(), ApiError> {
    let types = || format!("one of {}", message_types().join(", "));
    let kind = match map.get("type") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("the command message has no `type`")
                .field("type")
                .hint(types()))
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(ApiError::bad_request("`type` must be a string")
                .field("type")
                .hint(types()))
        }
    };
    let Some((_, fields)) = TYPES.iter().find(|(t, _)| *t == kind) else {
        return Err(
            ApiError::bad_request(format!("unknown command type `{}`", shorten(kind)))
                .field("type")
                .hint(types()),
        );
    };
    for name in map.keys() {
        if name != "type" && !COMMON.iter().chain(fields.iter()).any(|(f, _, _)| f == name) {
            let allowed: Vec<&str> = COMMON.iter().chain(fields.iter()).map(|(f, _, _)| *f).collect();
            return Err(
                ApiError::bad_request(format!("unknown field `{}` for {kind}", shorten(name)))
                    .field(name.clone())
                    .hint(format!("{kind} takes {}", allowed.join(", "))),
            );
        }
    }
    for (name, field_kind, required) in COMMON.iter().chain(fields.iter()) {
        match map.get(*name) {
            None | Some(Value::Null) if *required => {
                return Err(
                    ApiError::bad_request(format!("missing field `{name}` for {kind}"))
                        .field(*name)
                        .hint(format!("`{name}` must be {}", field_kind.describe())),
                )
            }
            None | Some(Value::Null) => {}
            Some(v) if !field_kind.accepts(v) => {
                return Err(
                    ApiError::bad_request(format!("`{name}` must be {}", field_kind.describe())).field(*name),
                )
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Outside input quoted in an error, cut short.
fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(body: &str) -> Option<String> {
        parse_command(body.as_bytes()).err().and_then(|e| e.field)
    }

    #[test]
    fn each_bad_shape_names_its_field() {
        assert_eq!(field_of(r#"{"type":"Nope"}"#).as_deref(), Some("type"));
        assert_eq!(field_of(r#"{"account":"a"}"#).as_deref(), Some("type"));
        assert_eq!(field_of(r#"{"type":"StartLink"}"#).as_deref(), Some("account"));
        assert_eq!(
            field_of(r#"{"type":"StartLink","account":5}"#).as_deref(),
            Some("account")
        );
        assert_eq!(
            field_of(r#"{"type":"SelectGroup","account":"a","group_id":"x"}"#).as_deref(),
            Some("group_id")
        );
        assert_eq!(
            field_of(r#"{"type":"StartLink","account":"a","x":1}"#).as_deref(),
            Some("x")
        );
        assert_eq!(
            field_of(r#"{"type":"NameAccount","provider":"svn","unique_name":"a"}"#).as_deref(),
            Some("provider")
        );
    }

    #[test]
    fn a_good_message_parses() {
        let m = parse_command(br#"{"type":"CreateProject","name":"Payments","account":"a"}"#).unwrap();
        assert_eq!(m.request.message_type(), "CreateProject");
        let m = parse_command(br#"{"type":"Reconcile"}"#).unwrap();
        assert_eq!(m.request.message_type(), "Reconcile");
        assert_eq!(
            field_of(r#"{"type":"ImportProject","name":"P","account":"a"}"#).as_deref(),
            Some("repository")
        );
        let m = parse_command(br#"{"type":"NameAccount","provider":"gitlab","unique_name":"a"}"#).unwrap();
        assert_eq!(m.request.message_type(), "NameAccount");
        // The project commands and reconciliation arrive over HTTP like the account ones.
        let id = uuid::Uuid::new_v4();
        for (body, kind) in [
            (
                format!(r#"{{"type":"CreateProject","project_id":"{id}","name":"web","account":"a"}}"#),
                "CreateProject",
            ),
            (
                r#"{"type":"ImportProject","name":"web","account":"a","repository":"acme/web"}"#.to_string(),
                "ImportProject",
            ),
            (
                format!(r#"{{"type":"DetachProject","project_id":"{id}"}}"#),
                "DetachProject",
            ),
            (r#"{"type":"Reconcile"}"#.to_string(), "Reconcile"),
        ] {
            let parsed = parse_command(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {}", e.error));
            assert_eq!(parsed.request.message_type(), kind);
        }
        assert_eq!(
            field_of(r#"{"type":"DetachProject","project_id":"nope"}"#).as_deref(),
            Some("project_id")
        );
        assert!(parse_command(b"{not json")
            .unwrap_err()
            .error
            .contains("not valid JSON"));
    }
}
