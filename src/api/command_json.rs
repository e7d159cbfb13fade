//! Reading a command message from JSON at the edge, so every refusal names the field at fault:
//! malformed JSON, an unknown `type`, an unknown, missing or mistyped field. serde's own errors
//! for tagged and flattened enums lose the field name, so the shape is checked first, and serde
//! then only builds the value. The shape checked is THE description of the messages: the JSON
//! Schema derived from [`CommandMessage`] (its envelope fields and one shape per `Request`
//! variant), read once into one schema per message type ([`message_schemas`]); the OpenAPI
//! document shows the same schemas, so the check and the document cannot disagree.

use super::error::ApiError;
use crate::engine::{CommandMessage, Request};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// One message type's shape: `{"type": "object", "properties": ..., "required": [...],
/// "additionalProperties": false}`, its `type` field a `const`.
#[derive(Debug, Clone)]
pub struct MessageSchema {
    /// The message type, e.g. `StartLink`.
    pub name: String,
    pub schema: Map<String, Value>,
}

impl MessageSchema {
    fn properties(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    }

    fn required(&self, field: &str) -> bool {
        self.schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|f| f == field))
    }
}

/// Every message type's shape, in the order of `Request`, derived from the Rust types once.
pub fn message_schemas() -> &'static [MessageSchema] {
    static SCHEMAS: OnceLock<Vec<MessageSchema>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
        let root = generator.into_root_schema_for::<CommandMessage>().to_value();
        let envelope = root["properties"].as_object().cloned().unwrap_or_default();
        let variants = root["oneOf"].as_array().cloned().unwrap_or_default();
        variants
            .iter()
            .filter_map(|v| {
                let name = v["properties"]["type"]["const"].as_str()?.to_string();
                let mut properties = v["properties"].as_object().cloned().unwrap_or_default();
                properties.insert(
                    "type".into(),
                    json!({"description": "The message type.", "type": "string", "const": name}),
                );
                properties.extend(envelope.clone());
                let mut schema = Map::new();
                schema.insert("title".into(), json!(name));
                if let Some(d) = v.get("description") {
                    schema.insert("description".into(), d.clone());
                }
                schema.insert("type".into(), json!("object"));
                schema.insert("properties".into(), Value::Object(properties));
                schema.insert("required".into(), v["required"].clone());
                schema.insert("additionalProperties".into(), json!(false));
                Some(MessageSchema { name, schema })
            })
            .collect()
    })
}

/// The JSON type a field's schema names, other than `null`.
fn json_type(prop: &Value) -> Option<&str> {
    match &prop["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn nullable(prop: &Value) -> bool {
    prop["type"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t == "null"))
}

/// What a field must hold, in words; `None` for a shape this check does not know.
fn describe(prop: &Value) -> Option<String> {
    if let Some(values) = prop["enum"].as_array() {
        let names: Vec<String> = values.iter().map(Value::to_string).collect();
        return Some(format!("one of {}", names.join(", ")));
    }
    match (json_type(prop)?, prop["format"].as_str()) {
        ("string", Some("uuid")) => Some("a UUID string".into()),
        ("string", None) => Some("a string".into()),
        ("integer", _) if prop["minimum"] == json!(0) => Some("a non-negative integer".into()),
        _ => None,
    }
}

/// True when `v` fits the field's schema (null only where the schema allows it).
fn accepts(prop: &Value, v: &Value) -> bool {
    if v.is_null() {
        return nullable(prop);
    }
    if let Some(values) = prop["enum"].as_array() {
        return values.contains(v);
    }
    match (json_type(prop), prop["format"].as_str()) {
        (Some("string"), Some("uuid")) => v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
        (Some("string"), _) => v.is_string(),
        (Some("integer"), _) => v.is_u64(),
        _ => false,
    }
}

/// The message types, for hints.
pub fn message_types() -> Vec<&'static str> {
    message_schemas().iter().map(|m| m.name.as_str()).collect()
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
    let Some(message) = message_schemas().iter().find(|m| m.name == kind) else {
        return Err(
            ApiError::bad_request(format!("unknown command type `{}`", shorten(kind)))
                .field("type")
                .hint(types()),
        );
    };
    let known = |name: &str| message.properties().any(|(f, _)| f == name);
    if let Some(name) = map.keys().find(|name| !known(name)) {
        let allowed: Vec<&str> = message
            .properties()
            .map(|(f, _)| f.as_str())
            .filter(|f| *f != "type")
            .collect();
        return Err(
            ApiError::bad_request(format!("unknown field `{}` for {kind}", shorten(name)))
                .field(name.clone())
                .hint(format!("{kind} takes {}", allowed.join(", "))),
        );
    }
    for (name, prop) in message.properties().filter(|(f, _)| *f != "type") {
        let what = describe(prop).unwrap_or_else(|| "as described".into());
        match map.get(name) {
            None | Some(Value::Null) if message.required(name) => {
                return Err(
                    ApiError::bad_request(format!("missing field `{name}` for {kind}"))
                        .field(name.clone())
                        .hint(format!("`{name}` must be {what}")),
                )
            }
            None => {}
            Some(v) if !accepts(prop, v) => {
                return Err(ApiError::bad_request(format!("`{name}` must be {what}")).field(name.clone()))
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
    fn every_field_of_every_message_has_a_shape_the_check_understands() {
        assert_eq!(message_schemas().len(), 12, "one shape per Request variant");
        for m in message_schemas() {
            for (name, prop) in m.properties().filter(|(f, _)| *f != "type") {
                assert!(describe(prop).is_some(), "{}.{name}: {prop}", m.name);
            }
        }
        assert!(message_types().contains(&"CompleteAuthorization"));
    }

    #[test]
    fn a_null_is_refused_where_the_description_allows_none() {
        assert_eq!(
            field_of(r#"{"type":"StartLink","account":"a","actor":null}"#).as_deref(),
            Some("actor")
        );
        assert!(parse_command(br#"{"type":"Reconcile","account":null}"#).is_ok());
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
