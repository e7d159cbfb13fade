//! Shared by the webhook fixture tests: reading a provider sample from
//! `tests/fixtures/providers/` and delivering it, signed, with the headers its provider sends.
#![allow(dead_code)]

use forgelink::secret::Secret;
use forgelink::webhooks::{self, Change, Delivery, Provider};
use serde_json::Value;

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn json_fixture(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

/// Signs `body` as the provider would and runs it through verify + parse.
pub fn deliver(provider: Provider, event: &str, body: &[u8]) -> Delivery {
    let secret = Secret::new("It's a Secret to Everybody");
    let sig = webhooks::sha256_signature(&secret, body);
    let headers: Vec<(String, String)> = match provider {
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
    };
    webhooks::verify_and_parse(provider, body, &headers, &secret).expect("a real payload is accepted")
}

pub fn only(d: &Delivery) -> &Change {
    assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
    &d.changes[0]
}

pub fn with(mut v: Value, edits: &[(&str, Value)]) -> Vec<u8> {
    for (k, val) in edits {
        v[*k] = val.clone();
    }
    serde_json::to_vec(&v).unwrap()
}
