//! What the edges promise about input from outside, checked on generated input: a command
//! message in any shape is either refused by the JSON parser, refused by the engine without a
//! single event appended, or carried out, and never panics; a webhook delivery with any body and
//! any headers never panics, and one whose signature or token is wrong is never parsed.
//!
//! Cases are few (`CASES`) so the suite stays fast; `PROPTEST_CASES=5000` runs more.

#[path = "common/mod.rs"]
mod common;

use forgelink::engine::{CommandMessage, Engine};
use forgelink::secret::Secret;
use forgelink::webhooks::{self, Provider, WebhookError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const CASES: u32 = 128;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ----- command messages ---------------------------------------------------------------------

/// Field names and message types the parser knows, so generated objects often get past serde.
const KEYS: &[&str] = &[
    "type",
    "command_id",
    "correlation_id",
    "actor",
    "provider",
    "unique_name",
    "account_id",
    "account",
    "state",
    "installation_id",
    "setup_action",
    "code",
    "error",
    "group_id",
    "workspace",
    "project_key",
    "to",
    "reason",
    "project_id",
    "name",
    "repository",
];
const TYPES: &[&str] = &[
    "NameAccount",
    "StartLink",
    "CompleteAuthorization",
    "SelectGroup",
    "SelectWorkspace",
    "SaveDetails",
    "RenameAccount",
    "UnlinkAccount",
    "CreateProject",
    "ImportProject",
    "DetachProject",
    "Reconcile",
];

/// Strings an attacker or a broken client would send: names of the seeded accounts, ids,
/// providers, empty, huge, control characters, anything.
fn edge_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "acme-infra",
            "ACME-INFRA",
            "beta-site",
            "github",
            "gitlab",
            "bitbucket",
            "",
            "00000000-0000-0000-0000-000000000000",
            "acme/infra",
            "install",
            "created",
        ])
        .prop_map(String::from),
        prop::sample::select(TYPES.to_vec()).prop_map(String::from),
        "\\PC{0,24}",
        any::<String>(),
        Just("x".repeat(5000)),
        Just(uuid::Uuid::new_v4().to_string()),
    ]
}

/// Any JSON value, leaning towards objects with the keys a command message has.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        edge_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..8)
                .prop_map(|kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }),
        ]
    })
}

/// One valid message of each kind, naming the seeded accounts.
fn valid_messages() -> Vec<Value> {
    let id = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    vec![
        json!({"type": "NameAccount", "provider": "github", "unique_name": "new-one"}),
        json!({"type": "StartLink", "account": "beta-site", "actor": "alice"}),
        json!({"type": "CompleteAuthorization", "state": "abc", "installation_id": 7, "setup_action": "install", "code": "c0de"}),
        json!({"type": "CompleteAuthorization", "error": "access_denied", "state": "abc"}),
        json!({"type": "SelectGroup", "account": "acme-infra", "group_id": 12}),
        json!({"type": "SelectWorkspace", "account": "acme-infra", "workspace": "acme", "project_key": "INF"}),
        json!({"type": "SaveDetails", "account": "acme-infra"}),
        json!({"type": "RenameAccount", "account": "acme-infra", "to": "acme-platform"}),
        json!({"type": "UnlinkAccount", "account": "beta-site", "reason": "gone"}),
        json!({"type": "CreateProject", "name": "web", "account": "acme-infra"}),
        json!({"type": "ImportProject", "name": "web", "account": "acme-infra", "repository": "acme/infra"}),
        json!({"type": "DetachProject", "project_id": id}),
        json!({"type": "Reconcile", "account": "acme-infra", "command_id": id, "correlation_id": id}),
    ]
}

/// A valid message changed the way a broken client changes it.
#[derive(Debug, Clone)]
enum Mutation {
    SetField(String, Value),
    DropField(usize),
    FlipByte(usize, u8),
    Truncate(usize),
    InsertText(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (prop::sample::select(KEYS.to_vec()), json_value()).prop_map(|(k, v)| Mutation::SetField(k.into(), v)),
        1 => any::<usize>().prop_map(Mutation::DropField),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), "[{}\\[\\]\":,\\\\0-9a-z -]{1,8}").prop_map(|(i, s)| Mutation::InsertText(i, s)),
    ]
}

fn mutate(mut msg: Value, mutations: &[Mutation]) -> String {
    let mut text = None::<Vec<u8>>;
    for m in mutations {
        match (m, text.as_mut()) {
            (Mutation::SetField(k, v), None) => msg[k.as_str()] = v.clone(),
            (Mutation::DropField(i), None) => {
                if let Some(obj) = msg.as_object_mut() {
                    if let Some(k) = obj.keys().nth(i % obj.len().max(1)).cloned() {
                        obj.remove(&k);
                    }
                }
            }
            (Mutation::SetField(..) | Mutation::DropField(_), Some(_)) => {}
            (byte_level, _) => {
                let t = text.get_or_insert_with(|| msg.to_string().into_bytes());
                let at = |i: &usize| i % (t.len() + 1);
                match byte_level {
                    Mutation::FlipByte(i, b) if !t.is_empty() => {
                        let i = i % t.len();
                        t[i] ^= b | 1;
                    }
                    Mutation::Truncate(i) => t.truncate(at(i)),
                    Mutation::InsertText(i, s) => {
                        let i = at(i);
                        t.splice(i..i, s.bytes());
                    }
                    _ => {}
                }
            }
        }
    }
    match text {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => msg.to_string(),
    }
}

/// Either strategy's input: free text, a generated object, a mutated valid message.
fn command_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => "\\PC{0,80}",
        1 => "[{}\\[\\]\":, a-zA-Z0-9_.-]{0,120}",
        3 => json_value().prop_map(|v| v.to_string()),
        5 => (prop::sample::select(valid_messages()), prop::collection::vec(mutation(), 0..4))
            .prop_map(|(m, muts)| mutate(m, &muts)),
    ]
}

/// An engine over the GitHub sandbox with no saga loop, so the log changes only through the
/// commands this test sends: `acme-infra` waits for approval, `beta-site` is only named.
async fn seeded_engine() -> common::Harness {
    let h = common::Harness::start_with(|c| {
        c.run_sagas = false;
        c.durability = forgelink_events::Durability::Async;
    })
    .await;
    h.name("acme-infra").await;
    h.start_link("acme-infra").await;
    h.name("beta-site").await;
    h
}

/// What became of one generated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NotParsed,
    Carried,
    Refused,
}

/// Feeds `text` to the parsers and, where it parses, to the engine; a refusal must append nothing.
fn check_command(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    text: &str,
) -> Result<Outcome, TestCaseError> {
    // Both ways in: the HTTP edge's parser (`POST /v1/commands`) and serde's (`forgelink send`,
    // library callers). The outcome reported is the HTTP one when it parsed.
    let from_http = forgelink::api::parse_command(text.as_bytes()).ok();
    let from_serde = serde_json::from_str::<CommandMessage>(text).ok();
    let mut outcome = Outcome::NotParsed;
    for msg in [from_serde, from_http].into_iter().flatten() {
        let before = engine.log().head();
        outcome = match rt.block_on(engine.execute(msg)) {
            Ok(_) => Outcome::Carried,
            Err(e) => {
                prop_assert_eq!(
                    engine.log().head(),
                    before,
                    "refused with `{}` yet appended; message: {}",
                    e,
                    text
                );
                Outcome::Refused
            }
        };
    }
    Ok(outcome)
}

#[test]
fn no_command_message_panics_the_engine_and_a_refused_one_appends_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let h = rt.block_on(seeded_engine());
    let seen = std::cell::RefCell::new(Vec::new());
    TestRunner::new(config())
        .run(&command_text(), |text| {
            let outcome = check_command(&rt, &h.engine, &text)?;
            seen.borrow_mut().push(outcome);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // Guards the generator: the engine must have been reached, and must have refused some.
    let seen = seen.into_inner();
    let count = |o| seen.iter().filter(|s| **s == o).count();
    assert!(
        count(Outcome::Refused) > 0,
        "no generated message reached the engine and was refused"
    );
    assert!(
        count(Outcome::NotParsed) > 0,
        "every generated message parsed: the generator is too tame"
    );
    rt.block_on(h.engine.shutdown());
}

#[test]
fn every_valid_template_still_parses_so_mutations_start_from_real_messages() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let h = rt.block_on(seeded_engine());
    for m in valid_messages() {
        let text = m.to_string();
        let outcome = check_command(&rt, &h.engine, &text).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(outcome, Outcome::NotParsed, "{text}");
    }
    rt.block_on(h.engine.shutdown());
}

#[test]
fn a_command_message_with_fields_parses_from_json() {
    for text in [
        r#"{"type": "StartLink", "account": "acme-infra"}"#,
        r#"{"type": "StartLink", "account": "acme-infra", "actor": "alice"}"#,
    ] {
        serde_json::from_str::<CommandMessage>(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    // What deny_unknown_fields is there for: a misspelt field is still refused.
    assert!(serde_json::from_str::<CommandMessage>(r#"{"type": "StartLink", "acount": "x"}"#).is_err());
}

// ----- webhooks -----------------------------------------------------------------------------

const SECRET: &str = "the configured webhook secret";
const PROVIDERS: [Provider; 3] = [Provider::GitHub, Provider::GitLab, Provider::Bitbucket];

/// Every provider sample with the event header its provider sends with it.
fn samples() -> Vec<(Provider, String, Vec<u8>)> {
    let dir = |p: &str| format!("{}/tests/fixtures/providers/{p}", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for (provider, folder) in [
        (Provider::GitHub, "github"),
        (Provider::GitLab, "gitlab"),
        (Provider::Bitbucket, "bitbucket"),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(dir(folder))
            .unwrap_or_else(|e| panic!("{}: {e}", dir(folder)))
            .map(|f| f.expect("a readable folder").path())
            .collect();
        files.sort();
        for path in files {
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let event = match (provider, file) {
                (Provider::GitHub, "installation-repositories.json") => "installation_repositories",
                (Provider::GitHub, "github-app-authorization.json") => "github_app_authorization",
                (Provider::GitHub, "integration-installation.json") => "integration_installation",
                (Provider::GitHub, f) => f.trim_end_matches(".json"),
                (Provider::GitLab, f) if f.starts_with("system_hook") => "System Hook",
                // GitLab's group webhooks send project events as `Project Hook`.
                (Provider::GitLab, f) if f.starts_with("group_hook_project") => "Project Hook",
                (Provider::GitLab, _) => "Push Hook",
                (Provider::Bitbucket, "repo-push.json") => "repo:push",
                (Provider::Bitbucket, _) => "repo:updated",
            };
            let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((provider, event.to_string(), body));
        }
    }
    out
}

/// The headers `provider` sends with `body`, signed (or carrying the token) with `secret`.
fn signed_headers(provider: Provider, event: &str, body: &[u8], secret: &Secret) -> Vec<(String, String)> {
    let sig = webhooks::sha256_signature(secret, body);
    match provider {
        Provider::GitHub => vec![
            ("X-GitHub-Event".into(), event.into()),
            (
                "X-GitHub-Delivery".into(),
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
            ),
            ("X-Hub-Signature-256".into(), sig),
        ],
        Provider::GitLab => vec![
            ("X-Gitlab-Event".into(), event.into()),
            (
                "X-Gitlab-Event-UUID".into(),
                "13792a34-cac6-4fda-95a8-c58e00a3954e".into(),
            ),
            ("X-Gitlab-Token".into(), secret.expose().into()),
        ],
        Provider::Bitbucket => vec![
            ("X-Event-Key".into(), event.into()),
            (
                "X-Request-UUID".into(),
                "afe6a2b2-3a0b-4bd1-8b1a-8f1b1e6c1a11".into(),
            ),
            ("X-Hub-Signature".into(), sig),
        ],
    }
}

/// Header names the parsers read, and some they do not.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "X-GitHub-Event",
            "x-github-event",
            "X-GitHub-Delivery",
            "X-Hub-Signature-256",
            "X-Hub-Signature",
            "X-Gitlab-Event",
            "X-Gitlab-Token",
            "X-Gitlab-Event-UUID",
            "X-Event-Key",
            "X-Request-UUID",
            "Content-Type",
        ])
        .prop_map(String::from),
        "\\PC{0,20}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "push",
            "installation",
            "repository",
            "System Hook",
            "Push Hook",
            "repo:push",
            "repo:updated",
            "sha256=",
            "sha1=00",
            SECRET,
            "",
        ])
        .prop_map(String::from),
        "sha256=[0-9a-fA-F]{0,70}",
        any::<String>(),
    ]
}

/// A body: arbitrary bytes, a generated JSON value, or a real sample cut or flipped.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let samples: Vec<Vec<u8>> = samples().into_iter().map(|(_, _, b)| b).collect();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (
            prop::sample::select(samples),
            any::<usize>(),
            any::<usize>(),
            any::<u8>()
        )
            .prop_map(|(mut b, cut, at, x)| {
                if !b.is_empty() {
                    let i = at % b.len();
                    b[i] ^= x;
                }
                b.truncate(cut % (b.len() + 1));
                b
            }),
    ]
}

#[test]
fn no_webhook_body_or_header_panics_the_parser() {
    let secret = Secret::new(SECRET);
    let strategy = (
        prop::sample::select(PROVIDERS.to_vec()),
        body(),
        prop::collection::vec((header_name(), header_value()), 0..6),
        any::<bool>(),
    );
    TestRunner::new(config())
        .run(&strategy, |(provider, body, mut headers, sign)| {
            // Half the time the signature is right, so the parser behind it sees the body too.
            if sign {
                let event = headers.first().map(|(_, v)| v.clone()).unwrap_or_default();
                let mut good = signed_headers(provider, &event, &body, &secret);
                good.append(&mut headers);
                headers = good;
            }
            let _ = webhooks::verify_and_parse(provider, &body, &headers, &secret);
            let _ = webhooks::parse(provider, &body, &headers);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// How a signature can be wrong.
#[derive(Debug, Clone)]
enum Forgery {
    /// Signed with another secret.
    OtherSecret(String),
    /// The real signature, one character changed.
    FlippedSignature(usize),
    /// The body changed after signing.
    ChangedBody(usize, u8),
}

fn forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        "\\PC{0,40}".prop_map(Forgery::OtherSecret),
        any::<usize>().prop_map(Forgery::FlippedSignature),
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Forgery::ChangedBody(i, x)),
    ]
}

#[test]
fn a_delivery_with_a_wrong_signature_or_token_is_never_parsed() {
    let secret = Secret::new(SECRET);
    let strategy = (prop::sample::select(samples()), forgery());
    TestRunner::new(config())
        .run(&strategy, |((provider, event, body), forgery)| {
            // The unforged delivery is accepted: what follows is refused for the forgery alone.
            let good = signed_headers(provider, &event, &body, &secret);
            prop_assert!(webhooks::verify_and_parse(provider, &body, &good, &secret).is_ok());
            let (body, headers) = match forgery {
                Forgery::OtherSecret(other) => {
                    prop_assume!(other != SECRET);
                    let other = Secret::new(other);
                    (body.clone(), signed_headers(provider, &event, &body, &other))
                }
                Forgery::FlippedSignature(at) => {
                    let mut headers = good;
                    let value = &mut headers[2].1;
                    let i = at % value.len();
                    let mut bytes = value.clone().into_bytes();
                    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
                    *value = String::from_utf8_lossy(&bytes).into_owned();
                    (body, headers)
                }
                Forgery::ChangedBody(at, x) => {
                    // GitLab's token does not cover the body: nothing to forge there.
                    prop_assume!(provider != Provider::GitLab);
                    let mut changed = body;
                    let i = at % changed.len();
                    changed[i] ^= x;
                    (changed, good)
                }
            };
            let result = webhooks::verify_and_parse(provider, &body, &headers, &secret);
            prop_assert!(
                matches!(
                    result,
                    Err(WebhookError::BadSignature { .. } | WebhookError::MalformedHeader { .. })
                ),
                "a forged {:?} delivery was not refused as forged: {:?}",
                provider,
                result.map(|d| d.changes.len())
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
