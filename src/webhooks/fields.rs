//! Reading the fields the engine relies on out of a webhook payload, tolerantly (absent and null
//! are the same, numbers and numeric strings are both ids) and with errors that name the field by
//! its dotted path, never its value.

use super::{RepoRef, WebhookError};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Every object key any parser reads, at any depth (sorted: looked up by binary search). The
/// payload keeps only these keys, so a large delivery (a push lists every commit and file) is
/// read without building the parts nobody looks at. A parser reading a new field must add its
/// keys here; `at` checks that in debug builds.
const KEPT_KEYS: &[&str] = &[
    "account",
    "action",
    "actor",
    "added",
    "after",
    "approval",
    "author",
    "before",
    "changes",
    "comment",
    "commit_status",
    "commits",
    "date",
    "deleted",
    "display_name",
    "event_name",
    "fork",
    "from",
    "full_name",
    "full_path",
    "group_id",
    "hash",
    "head_commit",
    "id",
    "installation",
    "login",
    "name",
    "new",
    "nickname",
    "object_kind",
    "old",
    "old_full_path",
    "old_path_with_namespace",
    "organization",
    "owner",
    "path_with_namespace",
    "previous_owner",
    "previous_workspace",
    "project",
    "project_id",
    "pullrequest",
    "push",
    "pusher",
    "raw",
    "ref",
    "repositories",
    "repositories_added",
    "repositories_removed",
    "repository",
    "repository_selection",
    "requester",
    "sender",
    "slug",
    "suspended_by",
    "target",
    "timestamp",
    "type",
    "user",
    "user_name",
    "user_username",
    "username",
    "uuid",
];

fn kept(key: &str) -> bool {
    kept_key(key).is_some()
}

/// The longest kept key.
const LONGEST_KEPT: usize = 24;

/// The kept key equal to `key`, if any. This runs for every key of every payload, and most
/// keys of a large payload are not kept, so the keys are grouped by length (a key of a length no
/// kept key has costs one lookup) and compared by their first eight bytes as one number before
/// the rest is.
fn kept_key(key: &str) -> Option<&'static str> {
    type Groups = Vec<Vec<(u64, &'static str)>>;
    static BY_LENGTH: std::sync::OnceLock<Groups> = std::sync::OnceLock::new();
    fn head(b: &[u8]) -> u64 {
        let mut x = [0u8; 8];
        let n = b.len().min(8);
        x[..n].copy_from_slice(&b[..n]);
        u64::from_le_bytes(x)
    }
    let groups = BY_LENGTH.get_or_init(|| {
        let mut groups = vec![Vec::new(); LONGEST_KEPT + 1];
        for k in KEPT_KEYS {
            groups[k.len()].push((head(k.as_bytes()), *k));
        }
        groups
    });
    let b = key.as_bytes();
    let h = head(b);
    groups
        .get(b.len())?
        .iter()
        .find(|(kh, k)| *kh == h && (b.len() <= 8 || k.as_bytes()[8..] == b[8..]))
        .map(|(_, k)| *k)
}

/// Builds a [`Value`] of the kept keys only; the rest is skipped without being built.
struct Pruned;

impl<'de> serde::de::DeserializeSeed<'de> for Pruned {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// An object key: whether it is kept, without allocating it.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = Option<&'static str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for Key {
    type Value = Option<&'static str>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(kept_key(v))
    }
}

impl<'de> serde::de::Visitor<'de> for Pruned {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(Pruned)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Pruned)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                Some(key) => {
                    let v = map.next_value_seed(Pruned)?;
                    object.insert(key.to_string(), v);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// The body as a JSON object of the keys the parsers read (see [`KEPT_KEYS`]), or
/// [`WebhookError::BadJson`] saying where it broke (not what it held). The whole body is still
/// checked to be valid JSON.
pub(crate) fn parse_object(body: &[u8]) -> Result<Value, WebhookError> {
    let bad = |e: serde_json::Error| WebhookError::BadJson {
        detail: match e.classify() {
            serde_json::error::Category::Eof => "it ends too early".to_string(),
            serde_json::error::Category::Io => "it could not be read".to_string(),
            _ => format!("syntax error at line {} column {}", e.line(), e.column()),
        },
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = serde::de::DeserializeSeed::deserialize(Pruned, &mut de).map_err(bad)?;
    de.end().map_err(bad)?;
    if !v.is_object() {
        return Err(WebhookError::BadJson {
            detail: "it is JSON, but not an object".to_string(),
        });
    }
    Ok(v)
}

/// A payload of one event, for reading fields by dotted path (`installation.account.login`).
pub(crate) struct Payload<'a> {
    pub event: &'a str,
    pub root: &'a Value,
}

impl<'a> Payload<'a> {
    pub fn new(event: &'a str, root: &'a Value) -> Self {
        Payload { event, root }
    }

    /// The value at `path`, unless absent or null.
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        at(self.root, path)
    }

    pub fn opt_str(&self, path: &str) -> Option<String> {
        self.get(path).and_then(Value::as_str).map(str::to_string)
    }

    pub fn str(&self, path: &str) -> Result<String, WebhookError> {
        self.opt_str(path)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid(path, "a non-empty string"))
    }

    /// The first of `paths` that holds a non-empty string.
    pub fn first_str(&self, paths: &[&str]) -> Option<String> {
        paths
            .iter()
            .find_map(|p| self.opt_str(p).filter(|s| !s.is_empty()))
    }

    pub fn u64(&self, path: &str) -> Result<u64, WebhookError> {
        self.get(path)
            .and_then(as_u64)
            .ok_or_else(|| self.invalid(path, "a positive number"))
    }

    /// A numeric id as a decimal string (GitHub repository ids, GitLab project ids).
    pub fn id(&self, path: &str) -> Result<String, WebhookError> {
        self.u64(path).map(|n| n.to_string())
    }

    pub fn time(&self, path: &str) -> Option<DateTime<Utc>> {
        self.opt_str(path).and_then(|s| parse_time(&s))
    }

    /// The repositories listed at `path` (`[{id, full_name}]`); absent or null is none.
    pub fn repos(&self, path: &str) -> Result<Vec<RepoRef>, WebhookError> {
        let Some(list) = self.get(path) else {
            return Ok(Vec::new());
        };
        let items = list
            .as_array()
            .ok_or_else(|| self.invalid(path, "a list of repositories"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let one = Payload::new(self.event, item);
                let field = |f: &str| format!("{path}[{i}].{f}");
                let id = item
                    .get("id")
                    .and_then(as_u64)
                    .ok_or_else(|| self.invalid(&field("id"), "a positive number"))?;
                let full_name = one
                    .str("full_name")
                    .map_err(|_| self.invalid(&field("full_name"), "a non-empty string"))?;
                Ok(RepoRef {
                    id: id.to_string(),
                    full_name,
                })
            })
            .collect()
    }

    pub fn invalid(&self, field: &str, expected: &'static str) -> WebhookError {
        WebhookError::InvalidField {
            event: self.event.chars().take(64).collect(),
            field: field.to_string(),
            expected,
        }
    }
}

/// The value at a dotted `path`, treating null as absent.
pub(crate) fn at<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    debug_assert!(
        path.split('.').all(kept),
        "`{path}` reads a key missing from KEPT_KEYS"
    );
    let mut v = root;
    for key in path.split('.') {
        v = v.get(key)?;
    }
    (!v.is_null()).then_some(v)
}

/// A number, or a string of digits (some proxies re-encode ids as strings).
fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse::<u64>().ok()))
        .filter(|n| *n > 0)
}

/// RFC 3339 (`2015-06-09T03:34:49+00:00`), also with GitLab's space-separated
/// `2013-05-13 18:18:08 UTC` form.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let trimmed = s.strip_suffix(" UTC").unwrap_or(s);
    chrono::NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// A provider-chosen string, bounded for the delivery log.
pub(crate) fn short(s: &str) -> String {
    s.chars().take(100).collect()
}

/// A ref that points nowhere: a deleted branch or tag.
pub(crate) fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_treat_null_as_absent_and_name_the_field_on_error() {
        let v = json!({"installation": null, "repository": {"id": "42", "name": ""}});
        let p = Payload::new("installation", &v);
        assert!(p.get("installation").is_none());
        assert_eq!(p.u64("repository.id").unwrap(), 42);
        let err = p.u64("installation.id").unwrap_err();
        assert!(err.to_string().contains("`installation.id`"), "{err}");
        assert!(p.str("repository.name").is_err(), "an empty string is not a name");
    }

    #[test]
    fn times_read_rfc3339_and_gitlabs_utc_form() {
        let a = parse_time("2018-06-29T19:34:13+05:30").unwrap();
        assert_eq!(a.to_rfc3339(), "2018-06-29T14:04:13+00:00");
        let b = parse_time("2013-05-13 18:18:08 UTC").unwrap();
        assert_eq!(b.to_rfc3339(), "2013-05-13T18:18:08+00:00");
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn kept_keys_are_sorted_and_unread_keys_are_dropped_but_still_checked() {
        assert!(
            KEPT_KEYS.windows(2).all(|w| w[0] < w[1])
                && KEPT_KEYS
                    .iter()
                    .all(|k| k.len() <= LONGEST_KEPT && kept_key(k) == Some(*k)),
            "binary search needs them sorted"
        );
        let v = parse_object(
            br#"{"id": 7, "blob": {"x": [1, 2, {"id": 3}]}, "repository": {"id": 9, "size": 1.5}}"#,
        )
        .unwrap();
        assert_eq!(v, serde_json::json!({"id": 7, "repository": {"id": 9}}));
        assert!(
            parse_object(br#"{"blob": [1, }"#).is_err(),
            "a dropped part must still be JSON"
        );
        assert!(
            parse_object(br#"{"id": 1} x"#).is_err(),
            "nothing may follow the object"
        );
    }

    #[test]
    fn bad_json_errors_say_where_not_what() {
        let err = parse_object(b"{\"secret\": tru").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = parse_object(b"[1,2]").unwrap_err();
        assert!(err.to_string().contains("not an object"), "{err}");
    }
}
