//! Whole flows per second through the engine, and webhook deliveries per second through the
//! parser. Link flows: a GitHub account named, linked, approved on the loopback GitHub sandbox
//! and called back, timed until the saga has made it `active`; 1 flow at a time, 64 at once, and
//! 64 at once with the sandbox answering every call 50 ms late; each with the log's
//! `Durability::Flush` (the default) and `Async` for comparison. Webhooks: `verify_and_parse` of
//! every provider sample in `tests/fixtures/providers/`, signed as the provider signs.
//!
//! `cargo bench --bench flows` (two to three minutes: small samples). One flow at a time is
//! measured by criterion; a batch of 64 takes seconds, so the 64-at-once cases are timed
//! directly (one warm-up batch, then `FORGELINK_BENCH_BATCHES`, default 3). Every flow case
//! prints a `SUMMARY` line: flows per second, flow latency percentiles and the median of each
//! step. `RUST_LOG=forgelink=info` shows the engine's log while it runs.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{callback_message, name_account, query, start_link, Harness};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
const FLOW_LIMIT: Duration = Duration::from_secs(120);

/// Timed batches of 64 flows per concurrent case; `FORGELINK_BENCH_BATCHES` overrides.
const DEFAULT_BATCHES: u64 = 3;

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

/// The steps of a link flow, as the summary names them.
const STEPS: [&str; 5] = ["name", "start_link", "approve", "callback", "saga_to_active"];

/// One whole link flow on its own organization (GitHub allows one installation per org); the
/// time each step took.
async fn link_flow(h: &Harness, n: u64) -> [Duration; 5] {
    let name = format!("bench-{n}");
    let org = format!("org-{n}");
    let mut lap = Instant::now();
    let mut step = || {
        let now = Instant::now();
        std::mem::replace(&mut lap, now).elapsed()
    };
    let id = name_account(&h.engine, &name).await;
    let named = step();
    let state = start_link(&h.engine, &name).await;
    let started = step();
    let redirect = h
        .sandbox
        .approve(&state, &org, &["infra"])
        .await
        .expect("the sandbox accepts the installation");
    let approved = step();
    let reply = h
        .engine
        .execute(callback_message(&query(&redirect)))
        .await
        .expect("the callback is accepted");
    assert_eq!(reply.events, ["AuthorizationReceived"]);
    let called_back = step();
    wait_until_active(&h.engine, id).await;
    [named, started, approved, called_back, step()]
}

/// One engine over one sandbox, kept for every iteration of one benchmark; flows never reuse a
/// name or an organization.
struct FlowBench {
    harness: Arc<Harness>,
    next: AtomicU64,
    latencies: Mutex<Vec<[Duration; 5]>>,
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

    /// The same engine and sandbox, with nothing counted yet.
    fn same_engine_counts_reset(&self) -> FlowBench {
        FlowBench {
            harness: self.harness.clone(),
            next: AtomicU64::new(self.next.load(Ordering::Relaxed)),
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

    /// One line a person can paste: flows, flows per second, latency percentiles, and the
    /// median of each step (to see where a slow flow waits).
    fn summary(&self, label: &str) {
        let steps = self.latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let flows = self.flows.load(Ordering::Relaxed);
        if flows == 0 {
            return; // filtered out of this run
        }
        let busy = *self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let pct = |mut l: Vec<Duration>, p: f64| {
            l.sort();
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let whole: Vec<Duration> = steps.iter().map(|s| s.iter().sum()).collect();
        let medians: Vec<String> = STEPS
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name} {:.1?}", pct(steps.iter().map(|s| s[i]).collect(), 0.5)))
            .collect();
        println!(
            "SUMMARY {label}: {flows} flows in {busy:.2?} = {:.1} flows/s; flow latency p50 {:.1?}, p99 {:.1?}, max {:.1?}; step medians: {}",
            flows as f64 / busy.as_secs_f64().max(f64::EPSILON),
            pct(whole.clone(), 0.50),
            pct(whole.clone(), 0.99),
            pct(whole, 1.0),
            medians.join(", "),
        );
    }
}

fn link_flows(c: &mut Criterion) {
    // `RUST_LOG=forgelink=info cargo bench --bench flows` shows what a slow flow waits on.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let rt = runtime();
    let mut summaries = Vec::new();
    // One flow at a time: quick enough for criterion's statistics.
    let mut group = c.benchmark_group("github_link_flow");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for (durability, dname) in [(Durability::Flush, "flush"), (Durability::Async, "async")] {
        let bench = FlowBench::start(&rt, durability, Duration::ZERO);
        group.bench_function(format!("1_at_once/{dname}"), |b| {
            b.iter_custom(|flows| bench.run(&rt, flows, 1))
        });
        summaries.push((format!("github_link_flow/1_at_once/{dname}"), bench));
    }
    group.finish();
    for (label, bench) in &summaries {
        bench.summary(label);
    }
    // 64 at once: one batch takes seconds, and criterion insists on at least 10 samples after
    // a warm-up, so these are timed directly: one untimed warm-up batch, then `batches`.
    let batches = std::env::var("FORGELINK_BENCH_BATCHES")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(DEFAULT_BATCHES);
    for (durability, dname) in [(Durability::Flush, "flush"), (Durability::Async, "async")] {
        for (case, delay) in [
            ("64_at_once", Duration::ZERO),
            ("64_at_once_50ms_sandbox", Duration::from_millis(50)),
        ] {
            if batches == 0 {
                continue;
            }
            let label = format!("github_link_flow/{case}/{dname}");
            println!("Running {label}: 1 warm-up batch, then {batches} batches of 64 flows");
            let warm = FlowBench::start(&rt, durability, delay);
            warm.run(&rt, 1, 64);
            // The timed batches run on the same engine and sandbox as the warm-up.
            let bench = warm.same_engine_counts_reset();
            bench.run(&rt, batches, 64);
            bench.summary(&label);
            summaries.push((label, bench));
        }
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
    (
        Provider::GitLab,
        "System Hook",
        "gitlab/system_hook_project_create.json",
    ),
    (
        Provider::GitLab,
        "System Hook",
        "gitlab/system_hook_project_rename.json",
    ),
    (
        Provider::GitLab,
        "System Hook",
        "gitlab/system_hook_project_transfer.json",
    ),
    (
        Provider::GitLab,
        "System Hook",
        "gitlab/system_hook_project_destroy.json",
    ),
    (
        Provider::GitLab,
        "System Hook",
        "gitlab/system_hook_group_rename.json",
    ),
    (Provider::GitLab, "System Hook", "gitlab/system_hook_push.json"),
    (Provider::GitLab, "Push Hook", "gitlab/project_hook_push.json"),
    (Provider::Bitbucket, "repo:push", "bitbucket/repo-push.json"),
    (Provider::Bitbucket, "repo:updated", "bitbucket/repo-updated.json"),
];

/// A signed delivery as its provider sends it: the body and its headers.
fn signed(
    provider: Provider,
    event: &str,
    body: Vec<u8>,
    secret: &Secret,
) -> (Vec<u8>, Vec<(String, String)>) {
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
        group.bench_function(
            format!("{provider:?}/{}_samples_{bytes}_bytes", deliveries.len()),
            |b| {
                b.iter(|| {
                    for (body, headers) in &deliveries {
                        let d = webhooks::verify_and_parse(provider, body, headers, &secret);
                        std::hint::black_box(d.map(|d| d.changes.len()).unwrap_or(0));
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, link_flows, webhook_parsing);
criterion_main!(benches);
