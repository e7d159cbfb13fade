//! The edges' promise, checked through the real entry points of a running server on loopback:
//! any webhook delivery (`POST /webhooks/{provider}`, any body, any headers, signed or not) and
//! any callback query (`GET /callback/{provider}?...`) is answered without a panic or a 5xx, and
//! one that is refused (or a repeated delivery) leaves the log's head where it was. The server
//! holds an active GitHub account (so well-signed deliveries about its installation do apply)
//! and a link waiting for approval (so a callback can carry a state the engine knows).
//!
//! Cases are few (`CASES`) so the suite stays fast; `PROPTEST_CASES=2000` runs more.

#[path = "common/mod.rs"]
mod common;

use forgelink::api::{callback_request, Server, ServerConfig, WebhookSecrets};
use forgelink::inbox::DeliveryState;
use forgelink::secret::Secret;
use forgelink::webhooks;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const CASES: u32 = 96;
const GITLAB_TOKEN: &str = "the gitlab webhook token";
const BITBUCKET_SECRET: &str = "the bitbucket webhook secret";

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

/// A server over a log with `acme-infra` active (installation `installation`) and `beta-site`
/// waiting for approval (`state`).
struct World {
    rt: tokio::runtime::Runtime,
    server: Server,
    http: reqwest::Client,
    github_secret: Secret,
    installation: u64,
    repo_id: u64,
    state: String,
    _sandbox: forgelink_sandbox::github::GitHubSandbox,
    _dir: tempfile::TempDir,
}

impl World {
    fn start() -> World {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let (server, sandbox, dir, state, github_secret, installation) = rt.block_on(async {
            let h = common::Harness::start().await;
            let id = h.link("acme-infra", "acme", &["infra", "apps"]).await;
            let status = common::wait_for_status(&h.engine, id, "active", Duration::from_secs(20)).await;
            assert_eq!(status, "active");
            let installation = match h.engine.account_state(id).expect("the account").grant {
                Some(forgelink_events::Grant::GithubInstallation { installation_id, .. }) => installation_id,
                other => panic!("not a GitHub installation: {other:?}"),
            };
            // GitHub suspends the installation (its own delivery dropped): a generated
            // `suspend` delivery is then true and confirmed, so one does reach the account.
            h.sandbox.drop_webhooks(true);
            h.sandbox.suspend(installation).expect("the sandbox suspends it");
            h.name("beta-site").await;
            let state = h.start_link("beta-site").await;
            let common::Harness {
                sandbox,
                dir,
                config,
                engine,
                ..
            } = h;
            engine.shutdown().await;
            drop(engine);
            // The saga loop stays on: it keeps the installation index webhooks are routed by.
            // Whatever it appends after an applied delivery is waited out (`settle`).
            let github_secret = config
                .github
                .as_ref()
                .expect("GitHub configured")
                .webhook_secret
                .clone();
            let mut server_config = ServerConfig::new(config);
            server_config.webhook_secrets = WebhookSecrets {
                github: Some(github_secret.clone()),
                gitlab: Some(Secret::new(GITLAB_TOKEN)),
                bitbucket: Some(Secret::new(BITBUCKET_SECRET)),
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port");
            let server = Server::start_on(listener, server_config)
                .await
                .expect("the server starts");
            (server, sandbox, dir, state, github_secret, installation)
        });
        let repo_id = sandbox.repo_id("acme", "infra").expect("acme/infra");
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client");
        World {
            rt,
            server,
            http,
            github_secret,
            installation,
            repo_id,
            state,
            _sandbox: sandbox,
            _dir: dir,
        }
    }

    fn head(&self) -> u64 {
        self.server.engine().log().head()
    }

    /// Waits until the log has not moved for a moment (the saga's reactions to an applied
    /// delivery are done), so the next case's "before" is not taken mid-reaction.
    fn settle(&self) {
        let mut last = self.head();
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(150));
            let now = self.head();
            if now == last {
                return;
            }
            last = now;
        }
    }

    /// Waits until the inbox holds no pending delivery: one held behind an earlier delivery
    /// about the same subject is answered `pending` and applied later, so the log is read
    /// only once nothing is owed (or a refused case would see a held one land).
    fn drain(&self) {
        let inbox = &self.server.state().inner.deliveries;
        for _ in 0..400 {
            if inbox.count(DeliveryState::Pending) == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the inbox kept a pending delivery for 20 s");
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    fn secret(&self, provider: &str) -> Secret {
        match provider {
            "github" => self.github_secret.clone(),
            "gitlab" => Secret::new(GITLAB_TOKEN),
            _ => Secret::new(BITBUCKET_SECRET),
        }
    }

    /// Still serving after everything it was sent.
    fn healthy(&self) -> bool {
        self.rt
            .block_on(async { self.http.get(self.url("/healthz")).send().await })
            .is_ok_and(|r| r.status().is_success())
    }
}

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))).expect("JSON")
}

/// Real samples, with GitHub's pointed at the linked installation and repository so a
/// well-signed one changes the account: (provider, event header, body).
fn samples(installation: u64, repo_id: u64) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for (file, event) in [
        ("installation.json", "installation"),
        ("installation-repositories.json", "installation_repositories"),
        ("push.json", "push"),
        ("repository.json", "repository"),
        ("github-app-authorization.json", "github_app_authorization"),
    ] {
        let mut v = fixture(&format!("github/{file}"));
        if v.get("installation").is_some() {
            v["installation"]["id"] = json!(installation);
        }
        if v.get("repository").is_some() {
            v["repository"]["id"] = json!(repo_id);
            v["repository"]["full_name"] = json!("acme/infra");
        }
        out.push(("github", event, serde_json::to_vec(&v).expect("JSON")));
        // Suspending and unsuspending the linked installation: deliveries that do change it.
        if file == "installation.json" {
            for action in ["suspend", "unsuspend"] {
                v["action"] = json!(action);
                out.push(("github", event, serde_json::to_vec(&v).expect("JSON")));
            }
        }
    }
    for (file, event) in [
        ("gitlab/project_hook_push.json", "Push Hook"),
        ("gitlab/system_hook_project_rename.json", "System Hook"),
        ("bitbucket/repo-push.json", "repo:push"),
        ("bitbucket/repo-updated.json", "repo:updated"),
    ] {
        let provider = if file.starts_with("gitlab") {
            "gitlab"
        } else {
            "bitbucket"
        };
        out.push((provider, event, serde_json::to_vec(&fixture(file)).expect("JSON")));
    }
    out
}

/// One generated delivery: which sample (or none), how its body is damaged, how it is signed,
/// which delivery id it carries, and extra headers.
#[derive(Debug, Clone)]
struct Delivery {
    provider: &'static str,
    event: String,
    body: Vec<u8>,
    sign: Sign,
    delivery_id: String,
    extra: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy)]
enum Sign {
    Right,
    WrongSecret,
    Missing,
}

fn delivery(samples: Vec<(&'static str, &'static str, Vec<u8>)>) -> impl Strategy<Value = Delivery> {
    // Weighted so that about a third of the cases are intact, well-signed, fresh deliveries
    // (which may change the account) and the rest are damaged in one way or another.
    let damage = prop_oneof![
        3 => Just(Damage::None),
        1 => (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Damage::Flip(at, x)),
        1 => any::<usize>().prop_map(Damage::Cut),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Damage::Raw),
    ];
    let event = prop_oneof![
        4 => Just(None),
        1 => prop::sample::select(vec!["", "push", "installation", "System Hook", "repo:push", "\u{0}"])
            .prop_map(Some),
    ];
    (
        prop::sample::select(samples),
        damage,
        prop_oneof![4 => Just(Sign::Right), 1 => Just(Sign::WrongSecret), 1 => Just(Sign::Missing)],
        prop_oneof![
            3 => "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{12}",
            1 => Just("11111111-2222-3333-4444-555555555555".to_string()),
            1 => "\\PC{0,20}",
        ],
        prop::collection::vec(("[A-Za-z-]{1,20}", "[ -~]{0,30}"), 0..3),
        event,
    )
        .prop_map(
            |((provider, event, sample), damage, sign, delivery_id, extra, other_event)| {
                let body = match damage {
                    Damage::None => sample,
                    Damage::Flip(at, x) => {
                        let mut b = sample;
                        let i = at % b.len();
                        b[i] ^= x;
                        b
                    }
                    Damage::Cut(at) => sample[..at % sample.len()].to_vec(),
                    Damage::Raw(b) => b,
                };
                Delivery {
                    provider,
                    event: other_event.unwrap_or(event).to_string(),
                    body,
                    sign,
                    delivery_id,
                    extra,
                }
            },
        )
}

#[derive(Debug, Clone)]
enum Damage {
    None,
    Flip(usize, u8),
    Cut(usize),
    Raw(Vec<u8>),
}

fn headers_for(d: &Delivery, secret: &Secret) -> Vec<(String, String)> {
    let secret = match d.sign {
        Sign::WrongSecret => Secret::new("not the secret"),
        _ => secret.clone(),
    };
    let sig = webhooks::sha256_signature(&secret, &d.body);
    let mut h: Vec<(String, String)> = match d.provider {
        "github" => vec![
            ("X-GitHub-Event".into(), d.event.clone()),
            ("X-GitHub-Delivery".into(), d.delivery_id.clone()),
            ("X-Hub-Signature-256".into(), sig),
        ],
        "gitlab" => vec![
            ("X-Gitlab-Event".into(), d.event.clone()),
            ("X-Gitlab-Event-UUID".into(), d.delivery_id.clone()),
            ("X-Gitlab-Token".into(), secret.expose().to_string()),
        ],
        _ => vec![
            ("X-Event-Key".into(), d.event.clone()),
            ("X-Request-UUID".into(), d.delivery_id.clone()),
            ("X-Hub-Signature".into(), sig),
        ],
    };
    if matches!(d.sign, Sign::Missing) {
        h.remove(2);
    }
    h.extend(d.extra.iter().cloned());
    h
}

#[test]
fn no_webhook_delivery_panics_the_server_and_a_refused_one_appends_nothing() {
    let w = World::start();
    let strategy = delivery(samples(w.installation, w.repo_id));
    let refused = std::cell::Cell::new(0);
    let applied = std::cell::Cell::new(0);
    TestRunner::new(config())
        .run(&strategy, |d| {
            let before = w.head();
            let (status, body) = post(&w, &d).map_err(TestCaseError::fail)?;
            prop_assert!(!status.is_server_error(), "{:?} answered {} {}", d, status, body);
            w.drain();
            if !status.is_success() || body["duplicate"] == json!(true) {
                refused.set(refused.get() + 1);
                prop_assert_eq!(w.head(), before, "refused ({}) yet appended: {:?}", status, d);
            } else if w.head() > before {
                applied.set(applied.get() + 1);
                w.settle();
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(w.healthy(), "the server stopped answering");
    // Guards the generator: both sides of the promise were exercised. A run whose random
    // cases happened to change nothing still shows the samples apply: the intact, well-signed
    // `suspend` of the linked installation (true on GitHub's side) must change the account.
    assert!(refused.get() > 0, "no generated delivery was refused");
    if applied.get() == 0 {
        let (provider, event, suspend) = samples(w.installation, w.repo_id).swap_remove(1);
        let action: Value = serde_json::from_slice(&suspend).expect("JSON");
        assert_eq!(action["action"], "suspend", "the second sample is the suspend");
        let d = Delivery {
            provider,
            event: event.to_string(),
            body: suspend,
            sign: Sign::Right,
            delivery_id: uuid::Uuid::new_v4().to_string(),
            extra: vec![],
        };
        let before = w.head();
        let (status, body) = post(&w, &d).expect("an answer");
        assert!(status.is_success(), "{status} {body}");
        w.drain();
        assert!(
            w.head() > before,
            "no delivery reached the account: the samples do not apply ({body})"
        );
    }
}

/// Posts `d` as its provider would (headers HTTP cannot carry are left out): the answer.
fn post(w: &World, d: &Delivery) -> Result<(reqwest::StatusCode, Value), String> {
    let headers = headers_for(d, &w.secret(d.provider));
    let mut req = w
        .http
        .post(w.url(&format!("/webhooks/{}", d.provider)))
        .body(d.body.clone());
    for (k, v) in &headers {
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(k.as_bytes()),
            reqwest::header::HeaderValue::from_str(v),
        ) {
            req = req.header(k, v);
        }
    }
    let r =
        w.rt.block_on(async { req.send().await })
            .map_err(|e| format!("no answer (a panic?): {e}"))?;
    let status = r.status();
    let body: Value = w.rt.block_on(async { r.json().await }).unwrap_or(Value::Null);
    Ok((status, body))
}

/// Callback query keys the edge reads, and others.
fn query_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["state", "installation_id", "setup_action", "code", "error", "error_description"])
            .prop_map(String::from),
        1 => "\\PC{0,12}",
    ]
}

fn query_value(state: String, installation: u64) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(state),
        Just(installation.to_string()),
        prop::sample::select(vec![
            "install",
            "update",
            "request",
            "access_denied",
            "",
            "0",
            "-1",
            "18446744073709551616"
        ])
        .prop_map(String::from),
        "[0-9]{1,22}",
        "\\PC{0,40}",
    ]
}

#[test]
fn no_callback_query_panics_the_server_and_a_refused_one_appends_nothing() {
    let w = World::start();
    let pairs = prop::collection::vec((query_key(), query_value(w.state.clone(), w.installation)), 0..6);
    let strategy = (
        prop::sample::select(vec!["github", "gitlab", "bitbucket", "svn"]),
        pairs,
    );
    let refused = std::cell::Cell::new(0);
    let parsed = std::cell::Cell::new(0);
    TestRunner::new(config())
        .run(&strategy, |(provider, pairs)| {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter())
                .finish();
            let map: HashMap<String, String> = pairs.iter().cloned().collect();
            if callback_request(&map).is_ok() {
                parsed.set(parsed.get() + 1);
            }
            let before = w.head();
            let answer = w.rt.block_on(async {
                w.http
                    .get(w.url(&format!("/callback/{provider}?{query}")))
                    .send()
                    .await
            });
            let r = answer.map_err(|e| TestCaseError::fail(format!("no answer (a panic?): {e}")))?;
            let status = r.status();
            prop_assert!(!status.is_server_error(), "?{} answered {}", query, status);
            if status != reqwest::StatusCode::SEE_OTHER {
                refused.set(refused.get() + 1);
                prop_assert_eq!(w.head(), before, "refused ({}) yet appended: ?{}", status, query);
            } else {
                // The saga verifies an accepted callback: let it finish before the next case.
                w.settle();
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let (refused, parsed) = (refused.get(), parsed.get());
    assert!(w.healthy(), "the server stopped answering");
    assert!(
        refused > 0 && parsed > 0,
        "the generator missed a side: {refused} refused, {parsed} parsed"
    );
}
