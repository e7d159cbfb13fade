//! Whole flows per second through the engine, and webhook deliveries per second through the
//! parser. Link flows: a GitHub account named, linked, approved on the loopback GitHub sandbox
//! and called back, timed until the saga has made it `active`; 1 flow at a time, 64 at once, and
//! 64 at once with the sandbox answering every call 50 ms late; each with the log's
//! `Durability::Flush` (the default) and `Async` for comparison. Webhooks: `verify_and_parse` of
//! every provider sample in `tests/fixtures/providers/`, signed as the provider signs.
//!
//! `cargo bench --bench flows` (about two minutes: small samples). Besides criterion's
//! throughput lines it prints one summary line per flow benchmark with the flow latency
//! percentiles it saw.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{callback_message, name_account, query, start_link, Harness};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use forgelink::engine::Engine;
use forgelink::saga::RetryPolicy;
use forgelink::secret::Secret;
use forgelink::webhooks::{self, Provider};
use forgelink_events::Durability;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest a single flow may take before the bench calls it stuck (fails loudly, never hangs).
const FLOW_LIMIT: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Waits until the account is `active`, waking on every append to the log rather than polling,
/// so the time measured ends with the append that activated it.
async fn wait_until_active(engine: &Engine, account_id: Uuid) {
    let mut head = engine.log().subscribe();
    let deadline = tokio::time::Instant::now() + FLOW_LIMIT;
    loop {
        let state = engine.account_state(account_id).expect("the account's state");
        match state.status().as_str() {
            "active" => return,
            "failed" => panic!("a bench flow failed instead of reaching active"),
            _ => {}
        }
        match tokio::time::timeout_at(deadline, head.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the log closed during a bench flow"),
            Err(_) => panic!("a bench flow was not active within {FLOW_LIMIT:?}"),
        }
    }
}

/// One whole link flow on its own organization (GitHub allows one installation per org).
async fn link_flow(h: &Harness, n: u64) -> Duration {
    let name = format!("bench-{n}");
    let org = format!("org-{n}");
    let start = Instant::now();
    let id = name_account(&h.engine, &name).await;
    let state = start_link(&h.engine, &name).await;
    let redirect = h
        .sandbox
        .approve(&state, &org, &["infra"])
        .await
        .expect("the sandbox accepts the installation");
    let reply = h
        .engine
        .execute(callback_message(&query(&redirect)))
        .await
        .expect("the callback is accepted");
    assert_eq!(reply.events, ["AuthorizationReceived"]);
    wait_until_active(&h.engine, id).await;
    start.elapsed()
}

/// One engine over one sandbox, kept for every iteration of one benchmark; flows never reuse a
/// name or an organization.
struct FlowBench {
    harness: Arc<Harness>,
    next: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    flows: AtomicU64,
    busy: Mutex<Duration>,
}

impl FlowBench {
    fn start(rt: &tokio::runtime::Runtime, durability: Durability, delay: Duration) -> FlowBench {
        let harness = rt.block_on(Harness::start_with(|c| {
            c.durability = durability;
            // The engine's own retry policy, not the tests' impatient one.
            c.retry = RetryPolicy::default();
        }));
        harness.sandbox.faults.set_delay(delay);
        FlowBench {
            harness: Arc::new(harness),
            next: AtomicU64::new(0),
            latencies: Mutex::new(Vec::new()),
            flows: AtomicU64::new(0),
            busy: Mutex::new(Duration::ZERO),
        }
    }

    /// `batches` times, `at_once` flows started together; the time until the last is active.
    fn run(&self, rt: &tokio::runtime::Runtime, batches: u64, at_once: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..batches {
            let first = self.next.fetch_add(at_once, Ordering::Relaxed);
            // Seeding is set-up, not part of the flow: outside the timed part.
            for n in first..first + at_once {
                self.harness.sandbox.seed_org(&format!("org-{n}"), &["infra"]);
            }
            let start = Instant::now();
            let seen = rt.block_on(async {
                let tasks: Vec<_> = (first..first + at_once)
                    .map(|n| {
                        let h = self.harness.clone();
                        tokio::spawn(async move { link_flow(&h, n).await })
                    })
                    .collect();
                let mut seen = Vec::with_capacity(tasks.len());
                for t in tasks {
                    seen.push(t.await.expect("a bench flow panicked"));
                }
                seen
            });
            total += start.elapsed();
            self.latencies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(seen);
        }
        self.flows.fetch_add(batches * at_once, Ordering::Relaxed);
        *self.busy.lock().unwrap_or_else(|p| p.into_inner()) += total;
        total
    }

    /// One line a person can paste: flows, flows per second, latency percentiles.
    fn summary(&self, label: &str) {
        let mut l = self.latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
        l.sort();
        let flows = self.flows.load(Ordering::Relaxed);
        let busy = *self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let pct = |p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)));
        println!(
            "SUMMARY {label}: {flows} flows in {:.2?} = {:.1} flows/s; flow latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            busy,
            flows as f64 / busy.as_secs_f64().max(f64::EPSILON),
            pct(0.50).copied().unwrap_or_default(),
            pct(0.99).copied().unwrap_or_default(),
            l.last().copied().unwrap_or_default(),
        );
    }
}

fn link_flows(c: &mut Criterion) {
    let rt = runtime();
    let cases: [(&str, u64, Duration); 3] = [
        ("1_at_once", 1, Duration::ZERO),
        ("64_at_once", 64, Duration::ZERO),
        ("64_at_once_50ms_sandbox", 64, Duration::from_millis(50)),
    ];
    let mut group = c.benchmark_group("github_link_flow");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    let mut summaries = Vec::new();
    for (durability, dname) in [(Durability::Flush, "flush"), (Durability::Async, "async")] {
        for (case, at_once, delay) in cases {
            let bench = FlowBench::start(&rt, durability, delay);
            group.throughput(Throughput::Elements(at_once));
            group.bench_function(format!("{case}/{dname}"), |b| {
                b.iter_custom(|batches| bench.run(&rt, batches, at_once))
            });
            summaries.push((format!("github_link_flow/{case}/{dname}"), bench));
        }
    }
    group.finish();
    for (label, bench) in &summaries {
        bench.summary(label);
    }
    rt.block_on(async {
        for (_, bench) in summaries {
            bench.harness.engine.shutdown().await;
        }
    });
}

/// Each provider sample with the event header its provider sends with it.
const FIXTURES: &[(Provider, &str, &str)] = &[
    (Provider::GitHub, "installation", "github/installation.json"),
    (
        Provider::GitHub,
        "installation_repositories",
        "github/installation-repositories.json",
    ),
    (
        Provider::GitHub,
        "github_app_authorization",
        "github/github-app-authorization.json",
    ),
    (Provider::GitHub, "repository", "github/repository.json"),
    (Provider::GitHub, "push", "github/push.json"),
    (Provider::GitLab, "System Hook", "gitlab/system_hook_project_create.json"),
    (Provider::GitLab, "System Hook", "gitlab/system_hook_project_rename.json"),
    (Provider::GitLab, "System Hook", "gitlab/system_hook_project_transfer.json"),
    (Provider::GitLab, "System Hook", "gitlab/system_hook_project_destroy.json"),
    (Provider::GitLab, "System Hook", "gitlab/system_hook_group_rename.json"),
    (Provider::GitLab, "System Hook", "gitlab/system_hook_push.json"),
    (Provider::GitLab, "Push Hook", "gitlab/project_hook_push.json"),
    (Provider::Bitbucket, "repo:push", "bitbucket/repo-push.json"),
    (Provider::Bitbucket, "repo:updated", "bitbucket/repo-updated.json"),
];

/// A signed delivery as its provider sends it: the body and its headers.
fn signed(provider: Provider, event: &str, body: Vec<u8>, secret: &Secret) -> (Vec<u8>, Vec<(String, String)>) {
    let sig = webhooks::sha256_signature(secret, &body);
    let id = Uuid::new_v4().to_string();
    let headers = match provider {
        Provider::GitHub => vec![
            ("X-GitHub-Event".into(), event.into()),
            ("X-GitHub-Delivery".into(), id),
            ("X-Hub-Signature-256".into(), sig),
        ],
        Provider::GitLab => vec![
            ("X-Gitlab-Event".into(), event.into()),
            ("X-Gitlab-Event-UUID".into(), id),
            ("X-Gitlab-Token".into(), secret.expose().into()),
        ],
        Provider::Bitbucket => vec![
            ("X-Event-Key".into(), event.into()),
            ("X-Request-UUID".into(), id),
            ("X-Hub-Signature".into(), sig),
        ],
    };
    (body, headers)
}

fn webhook_parsing(c: &mut Criterion) {
    let secret = Secret::new("bench webhook secret");
    let mut group = c.benchmark_group("webhook_verify_and_parse");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for provider in [Provider::GitHub, Provider::GitLab, Provider::Bitbucket] {
        let deliveries: Vec<_> = FIXTURES
            .iter()
            .filter(|(p, _, _)| *p == provider)
            .map(|(p, event, path)| {
                let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
                let body = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
                signed(*p, event, body, &secret)
            })
            .collect();
        // A bench of deliveries that are refused measures nothing useful: check first.
        for (body, headers) in &deliveries {
            webhooks::verify_and_parse(provider, body, headers, &secret).expect("a real sample is accepted");
        }
        let bytes: usize = deliveries.iter().map(|(b, _)| b.len()).sum();
        group.throughput(Throughput::Elements(deliveries.len() as u64));
        group.bench_function(format!("{provider:?}/{}_samples_{bytes}_bytes", deliveries.len()), |b| {
            b.iter(|| {
                for (body, headers) in &deliveries {
                    let d = webhooks::verify_and_parse(provider, body, headers, &secret);
                    std::hint::black_box(d.map(|d| d.changes.len()).unwrap_or(0));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, link_flows, webhook_parsing);
criterion_main!(benches);
