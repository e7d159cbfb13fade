//! Deliveries the engine must refuse, and refuse clearly: unsigned, badly signed, tampered,
//! missing headers, bad JSON, missing fields; unknown events are acknowledged as `Ignored`, not
//! errors. No error message ever shows the secret or the body. Arbitrary input never panics.

use forgelink::secret::Secret;
use forgelink::webhooks::{self, Change, Provider, WebhookError};
use proptest::prelude::*;

const SECRET: &str = "webhook-s3cret-value";
const BODY: &[u8] = br#"{"action":"deleted","installation":{"id":2,"account":{"login":"octocat"}}}"#;

fn secret() -> Secret {
    Secret::new(SECRET)
}

fn github_headers(sig: &str) -> Vec<(String, String)> {
    vec![
        ("x-github-event".into(), "installation".into()),
        ("x-github-delivery".into(), "d-1".into()),
        ("x-hub-signature-256".into(), sig.into()),
    ]
}

#[test]
fn a_correctly_signed_github_delivery_is_accepted_with_any_header_case() {
    let sig = webhooks::sha256_signature(&secret(), BODY);
    let d = webhooks::verify_and_parse(Provider::GitHub, BODY, &github_headers(&sig), &secret()).unwrap();
    assert_eq!(
        d.changes,
        vec![Change::InstallationDeleted { installation_id: 2 }]
    );
}

#[test]
fn a_tampered_body_or_a_wrong_secret_is_a_bad_signature() {
    let sig = webhooks::sha256_signature(&secret(), BODY);
    let tampered = BODY
        .to_vec()
        .into_iter()
        .map(|b| if b == b'2' { b'3' } else { b })
        .collect::<Vec<_>>();
    let err = webhooks::verify(Provider::GitHub, &tampered, &github_headers(&sig), &secret()).unwrap_err();
    assert_eq!(
        err,
        WebhookError::BadSignature {
            header: "X-Hub-Signature-256"
        }
    );
    let other = webhooks::sha256_signature(&Secret::new("another"), BODY);
    let err = webhooks::verify(
        Provider::Bitbucket,
        BODY,
        &[("X-Hub-Signature", other.as_str())],
        &secret(),
    )
    .unwrap_err();
    assert!(matches!(err, WebhookError::BadSignature { .. }), "{err:?}");
}

#[test]
fn malformed_and_missing_signatures_say_which_header() {
    for (sig, reason) in [
        ("sha1=abcdef", "sha256="),
        ("sha256=zz", "hexadecimal"),
        ("sha256=abcd", "32 bytes"),
    ] {
        let err = webhooks::verify(Provider::GitHub, BODY, &github_headers(sig), &secret()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("X-Hub-Signature-256") && msg.contains(reason),
            "{msg}"
        );
    }
    let err = webhooks::verify(
        Provider::Bitbucket,
        BODY,
        &[("X-Event-Key", "repo:push")],
        &secret(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        WebhookError::MissingHeader {
            header: "X-Hub-Signature"
        }
    );
}

#[test]
fn without_a_configured_secret_nothing_is_accepted() {
    let empty = Secret::new("");
    let sig = webhooks::sha256_signature(&empty, BODY);
    let err = webhooks::verify(Provider::GitHub, BODY, &github_headers(&sig), &empty).unwrap_err();
    assert!(matches!(err, WebhookError::NoSecretConfigured { .. }), "{err:?}");
    let err = webhooks::verify(Provider::GitLab, BODY, &[("X-Gitlab-Token", "")], &empty).unwrap_err();
    assert!(matches!(err, WebhookError::NoSecretConfigured { .. }), "{err:?}");
}

#[test]
fn gitlab_accepts_only_the_exact_token() {
    let ok = webhooks::verify(Provider::GitLab, b"", &[("X-Gitlab-Token", SECRET)], &secret());
    assert_eq!(ok, Ok(()));
    for wrong in [
        "",
        "webhook-s3cret-valu",
        "webhook-s3cret-value ",
        "WEBHOOK-S3CRET-VALUE",
    ] {
        let err =
            webhooks::verify(Provider::GitLab, b"", &[("X-Gitlab-Token", wrong)], &secret()).unwrap_err();
        assert_eq!(
            err,
            WebhookError::BadSignature {
                header: "X-Gitlab-Token"
            }
        );
    }
    let err = webhooks::verify(
        Provider::GitLab,
        b"",
        &[("X-Gitlab-Event", "Push Hook")],
        &secret(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        WebhookError::MissingHeader {
            header: "X-Gitlab-Token"
        }
    );
}

#[test]
fn errors_never_show_the_secret_or_the_body() {
    let body = br#"{"action": "created", "installation": {"id": "not-a-number-PRIVATE"}}"#;
    let headers = [
        ("X-Hub-Signature-256", "sha256=00"),
        ("X-GitHub-Event", "installation"),
    ];
    let errors = [
        webhooks::verify(Provider::GitHub, body, &headers, &secret()).unwrap_err(),
        webhooks::verify(
            Provider::GitLab,
            body,
            &[("X-Gitlab-Token", "PRIVATE")],
            &secret(),
        )
        .unwrap_err(),
        webhooks::parse(
            Provider::GitHub,
            body,
            &[("X-GitHub-Event", "installation"), ("X-GitHub-Delivery", "d")],
        )
        .unwrap_err(),
        webhooks::parse(
            Provider::GitHub,
            b"{\"PRIVATE\": [1, 2",
            &[("X-GitHub-Event", "installation"), ("X-GitHub-Delivery", "d")],
        )
        .unwrap_err(),
    ];
    for e in errors {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(SECRET) && !shown.contains("PRIVATE"), "{shown}");
    }
}

/// A provider, the headers sent, and the header the error must name.
type Case = (Provider, &'static [(&'static str, &'static str)], &'static str);

#[test]
fn missing_delivery_or_event_headers_are_refused_by_name() {
    let cases: [Case; 6] = [
        (
            Provider::GitHub,
            &[("X-GitHub-Event", "push")],
            "X-GitHub-Delivery",
        ),
        (Provider::GitHub, &[("X-GitHub-Delivery", "d")], "X-GitHub-Event"),
        (
            Provider::GitLab,
            &[("X-Gitlab-Event", "Push Hook")],
            "X-Gitlab-Event-UUID",
        ),
        (
            Provider::GitLab,
            &[("X-Gitlab-Event-UUID", "u")],
            "X-Gitlab-Event",
        ),
        (
            Provider::Bitbucket,
            &[("X-Event-Key", "repo:push")],
            "X-Request-UUID",
        ),
        (Provider::Bitbucket, &[("X-Request-UUID", "u")], "X-Event-Key"),
    ];
    for (provider, headers, missing) in cases {
        let err = webhooks::parse(provider, b"{}", headers).unwrap_err();
        assert_eq!(err, WebhookError::MissingHeader { header: missing }, "{provider}");
    }
    let err = webhooks::parse(
        Provider::GitHub,
        b"{}",
        &[("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "  ")],
    )
    .unwrap_err();
    assert!(matches!(err, WebhookError::MalformedHeader { .. }), "{err:?}");
}

#[test]
fn bad_json_is_refused_for_every_provider() {
    let headers: [(&str, &str); 6] = [
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Delivery", "d"),
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Event-UUID", "u"),
        ("X-Event-Key", "repo:push"),
        ("X-Request-UUID", "r"),
    ];
    for p in Provider::ALL {
        for body in [&b"payload=%7B%7D"[..], b"{\"ref\":", b"[]", b""] {
            let err = webhooks::parse(p, body, &headers).unwrap_err();
            assert!(matches!(err, WebhookError::BadJson { .. }), "{p}: {err:?}");
        }
    }
}

#[test]
fn missing_fields_the_engine_relies_on_are_named() {
    let gh = [("X-GitHub-Event", "installation"), ("X-GitHub-Delivery", "d")];
    let err = webhooks::parse(
        Provider::GitHub,
        br#"{"action":"deleted","installation":null}"#,
        &gh,
    )
    .unwrap_err();
    assert!(err.to_string().contains("`installation.id`"), "{err}");
    let push = [("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "d")];
    let err = webhooks::parse(
        Provider::GitHub,
        br#"{"ref":"refs/heads/main","after":"abc"}"#,
        &push,
    )
    .unwrap_err();
    assert!(err.to_string().contains("`repository.id`"), "{err}");
    let gl = [("X-Gitlab-Event", "System Hook"), ("X-Gitlab-Event-UUID", "u")];
    let err = webhooks::parse(
        Provider::GitLab,
        br#"{"event_name":"project_destroy","project_id":73}"#,
        &gl,
    )
    .unwrap_err();
    assert!(err.to_string().contains("`path_with_namespace`"), "{err}");
    let bb = [("X-Event-Key", "repo:push"), ("X-Request-UUID", "r")];
    let body =
        br#"{"repository":{"uuid":"{u}","full_name":"w/r"},"push":{"changes":[{"new":{"name":"main"}}]}}"#;
    let err = webhooks::parse(Provider::Bitbucket, body, &bb).unwrap_err();
    assert!(
        err.to_string().contains("`push.changes[0].new.target.hash`"),
        "{err}"
    );
}

#[test]
fn unknown_events_and_actions_are_ignored_not_errors() {
    let cases: [(Provider, [(&str, &str); 2]); 4] = [
        (
            Provider::GitHub,
            [("X-GitHub-Event", "star"), ("X-GitHub-Delivery", "d")],
        ),
        (
            Provider::GitHub,
            [("X-GitHub-Event", "installation"), ("X-GitHub-Delivery", "d")],
        ),
        (
            Provider::GitLab,
            [("X-Gitlab-Event", "Issue Hook"), ("X-Gitlab-Event-UUID", "u")],
        ),
        (
            Provider::Bitbucket,
            [("X-Event-Key", "pullrequest:created"), ("X-Request-UUID", "r")],
        ),
    ];
    for (p, headers) in cases {
        let d = webhooks::parse(p, br#"{"action":"some_future_action"}"#, &headers).unwrap();
        assert!(
            matches!(d.changes.as_slice(), [Change::Ignored { .. }]),
            "{p}: {d:?}"
        );
    }
}

fn any_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let names = prop::sample::select(vec![
        "X-GitHub-Event",
        "X-GitHub-Delivery",
        "X-Hub-Signature-256",
        "X-Hub-Signature",
        "X-Gitlab-Token",
        "X-Gitlab-Event",
        "X-Gitlab-Event-UUID",
        "X-Event-Key",
        "X-Request-UUID",
    ]);
    let values = prop_oneof![
        prop::sample::select(vec![
            "installation",
            "installation_repositories",
            "installation_target",
            "repository",
            "push",
            "github_app_authorization",
            "System Hook",
            "Push Hook",
            "repo:push",
            "repo:updated",
            "repo:transfer",
            "repo:deleted",
            "sha256=",
        ])
        .prop_map(String::from),
        ".{0,80}",
    ];
    prop::collection::vec((names.prop_map(String::from), values), 0..8)
}

fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        // Structured JSON reaches the field readers rather than stopping at the parser.
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "action",
                    "installation",
                    "repository",
                    "ref",
                    "after",
                    "commits",
                    "push",
                    "changes",
                    "project_id",
                    "event_name",
                    "object_kind",
                    "sender",
                    "project",
                ]),
                prop_oneof![
                    Just("null".to_string()),
                    Just("{}".to_string()),
                    Just("[{}]".to_string()),
                    Just(r#"{"id":1,"full_name":"a/b","uuid":"{x}","changes":[{"new":{}}]}"#.to_string()),
                    "[0-9]{1,20}",
                    "\"[a-z_/]{0,12}\"",
                ],
            ),
            0..8,
        )
        .prop_map(|kv| {
            let inner: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", inner.join(",")).into_bytes()
        }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bodies_and_headers_never_panic(body in any_body(), headers in any_headers(), secret in ".{0,20}") {
        let secret = Secret::new(secret);
        for p in Provider::ALL {
            let _ = webhooks::verify(p, &body, &headers, &secret);
            if let Ok(d) = webhooks::parse(p, &body, &headers) {
                prop_assert!(!d.changes.is_empty());
                prop_assert!(!d.delivery_id.is_empty());
            }
        }
    }
}
