//! Whole flows per second through the engine, and webhook deliveries per second through the
//! parser. Link flows (see `flows_support`): GitHub (name, start, install, setup callback, saga
//! to `active`), GitLab and Bitbucket (name, start, OAuth approval, callback, saga to
//! `awaiting_details`, select group / workspace + project key, save details), each against its
//! loopback sandbox; 1 flow at a time, 64 at once, and 64 at once with the sandbox answering
//! every call 50 ms late. GitHub also with the log's `Durability::Async` for comparison, and a
//! growth case: 64 at once batch after batch on one engine, flows/s of the first batch against
//! the last, to show that a flow costs no more as accounts accumulate. Webhooks:
//! `verify_and_parse` of every provider sample in `tests/fixtures/providers/`, signed as the
//! provider signs.
//!
//! `cargo bench --bench flows` (a few minutes). One flow at a time is measured by criterion; a
//! batch of 64 takes longer, so the 64-at-once cases are timed directly (one warm-up batch,
//! then `FORGELINK_BENCH_BATCHES`, default 3; the growth case `FORGELINK_BENCH_GROWTH_BATCHES`,
//! default 12). `FORGELINK_BENCH_CASES=growth` (a substring) runs only the directly timed cases
//! whose label holds it. Every flow case prints a `SUMMARY` line: flows per second, flow latency
//! percentiles and the median of each step. `RUST_LOG=forgelink=info` shows the engine's log.

mod flows_support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flows_support::World;
use forgelink::secret::Secret;
use forgelink::webhooks::{self, Provider};
use forgelink_events::{Durability, Provider as Forge};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The allocator the `forgelink` binary runs with (see `src/main.rs`), so the figures are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Timed batches of 64 flows per concurrent case; `FORGELINK_BENCH_BATCHES` overrides.
const DEFAULT_BATCHES: u64 = 3;
/// Batches of the growth case; `FORGELINK_BENCH_GROWTH_BATCHES` overrides.
const DEFAULT_GROWTH_BATCHES: u64 = 12;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(default)
}

/// One engine over one sandbox, kept for every iteration of one benchmark; flows never reuse a
/// name or an organization.
struct FlowBench {
    world: Arc<World>,
    next: AtomicU64,
    latencies: Mutex<Vec<Vec<Duration>>>,
    /// Flows per second of each timed batch, in order.
    batches: Mutex<Vec<f64>>,
    flows: AtomicU64,
    busy: Mutex<Duration>,
    /// The log's group-commit flushes and the vault's fsyncs when counting started.
    fsyncs_at_start: (u64, u64),
}

impl FlowBench {
    fn start(
        rt: &tokio::runtime::Runtime,
        forge: Forge,
        durability: Durability,
        delay: Duration,
    ) -> FlowBench {
        FlowBench::over(Arc::new(rt.block_on(World::start(forge, durability, delay))), 0)
    }

    fn over(world: Arc<World>, next: u64) -> FlowBench {
        let fsyncs_at_start = (
            world.engine.log().as_sled().map_or(0, |l| l.flushes()),
            world.engine.vault().fsyncs(),
        );
        FlowBench {
            world,
            next: AtomicU64::new(next),
            latencies: Mutex::new(Vec::new()),
            batches: Mutex::new(Vec::new()),
            flows: AtomicU64::new(0),
            busy: Mutex::new(Duration::ZERO),
            fsyncs_at_start,
        }
    }

    /// The same engine and sandbox, with nothing counted yet.
    fn same_engine_counts_reset(&self) -> FlowBench {
        FlowBench::over(self.world.clone(), self.next.load(Ordering::Relaxed))
    }

    /// `batches` times, `at_once` flows started together; the time until the last is done.
    fn run(&self, rt: &tokio::runtime::Runtime, batches: u64, at_once: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..batches {
            let first = self.next.fetch_add(at_once, Ordering::Relaxed);
            // Seeding is set-up, not part of the flow: outside the timed part.
            for n in first..first + at_once {
                self.world.seed(n);
            }
            let start = Instant::now();
            let seen = rt.block_on(async {
                let tasks: Vec<_> = (first..first + at_once)
                    .map(|n| {
                        let w = self.world.clone();
                        tokio::spawn(async move { w.link_flow(n).await })
                    })
                    .collect();
                let mut seen = Vec::with_capacity(tasks.len());
                for t in tasks {
                    seen.push(t.await.expect("a bench flow panicked"));
                }
                seen
            });
            let took = start.elapsed();
            total += took;
            lock(&self.batches).push(at_once as f64 / took.as_secs_f64().max(f64::EPSILON));
            lock(&self.latencies).extend(seen);
        }
        self.flows.fetch_add(batches * at_once, Ordering::Relaxed);
        *lock(&self.busy) += total;
        total
    }

    /// One line a person can paste: flows, flows per second, latency percentiles, and the
    /// median of each step (to see where a slow flow waits).
    fn summary(&self, label: &str) {
        let steps = lock(&self.latencies).clone();
        let flows = self.flows.load(Ordering::Relaxed);
        if flows == 0 {
            return; // filtered out of this run
        }
        let busy = *lock(&self.busy);
        let pct = |mut l: Vec<Duration>, p: f64| {
            l.sort();
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let whole: Vec<Duration> = steps.iter().map(|s| s.iter().sum()).collect();
        let medians: Vec<String> = self
            .world
            .steps()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let each = steps.iter().filter_map(|s| s.get(i).copied()).collect();
                format!("{name} {:.1?}", pct(each, 0.5))
            })
            .collect();
        let log_fsyncs =
            self.world.engine.log().as_sled().map_or(0, |l| l.flushes()) - self.fsyncs_at_start.0;
        let vault_fsyncs = self.world.engine.vault().fsyncs() - self.fsyncs_at_start.1;
        println!(
            "SUMMARY {label}: {flows} flows in {busy:.2?} = {:.1} flows/s; flow latency p50 {:.1?}, p99 {:.1?}, max {:.1?}; fsyncs per flow: log {:.2}, vault {:.2}; step medians: {}",
            flows as f64 / busy.as_secs_f64().max(f64::EPSILON),
            pct(whole.clone(), 0.50),
            pct(whole.clone(), 0.99),
            pct(whole, 1.0),
            log_fsyncs as f64 / flows as f64,
            vault_fsyncs as f64 / flows as f64,
            medians.join(", "),
        );
    }

    /// The growth line: flows/s of each batch, and the last batch against the first.
    fn growth(&self, label: &str, at_once: u64) {
        let rates = lock(&self.batches).clone();
        let (Some(first), Some(last)) = (rates.first(), rates.last()) else {
            return;
        };
        let shown: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "GROWTH {label}: flows/s per batch of {at_once} (accounts before the first: {at_once}): [{}]; last/first = {:.2}",
            shown.join(", "),
            last / first.max(f64::EPSILON),
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn forge_name(forge: Forge) -> &'static str {
    match forge {
        Forge::GitHub => "github",
        Forge::GitLab => "gitlab",
        Forge::Bitbucket => "bitbucket",
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
    let cases = [
        (Forge::GitHub, Durability::Flush),
        (Forge::GitHub, Durability::Async),
        (Forge::GitLab, Durability::Flush),
        (Forge::Bitbucket, Durability::Flush),
    ];
    let dname = |d: Durability| if d == Durability::Flush { "flush" } else { "async" };
    for (forge, durability) in cases {
        let mut group = c.benchmark_group(format!("{}_link_flow", forge_name(forge)));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(1));
        let bench = FlowBench::start(&rt, forge, durability, Duration::ZERO);
        group.bench_function(format!("1_at_once/{}", dname(durability)), |b| {
            b.iter_custom(|flows| bench.run(&rt, flows, 1))
        });
        group.finish();
        let label = format!("{}_link_flow/1_at_once/{}", forge_name(forge), dname(durability));
        bench.summary(&label);
        summaries.push(bench);
    }
    // 64 at once: one batch takes long, and criterion insists on at least 10 samples after a
    // warm-up, so these are timed directly: one untimed warm-up batch, then `batches`.
    let batches = env_u64("FORGELINK_BENCH_BATCHES", DEFAULT_BATCHES);
    let growth_batches = env_u64("FORGELINK_BENCH_GROWTH_BATCHES", DEFAULT_GROWTH_BATCHES);
    let only = std::env::var("FORGELINK_BENCH_CASES").unwrap_or_default();
    let mut timed = Vec::new();
    for (forge, durability) in cases {
        for (case, delay) in [
            ("64_at_once", Duration::ZERO),
            ("64_at_once_50ms_sandbox", Duration::from_millis(50)),
        ] {
            timed.push((forge, durability, case, delay, batches));
        }
    }
    timed.push((
        Forge::GitHub,
        Durability::Flush,
        "growth_64_at_once",
        Duration::ZERO,
        growth_batches,
    ));
    for (forge, durability, case, delay, batches) in timed {
        let label = format!("{}_link_flow/{case}/{}", forge_name(forge), dname(durability));
        if batches == 0 || !label.contains(&only) {
            continue;
        }
        println!("Running {label}: 1 warm-up batch, then {batches} batches of 64 flows");
        let warm = FlowBench::start(&rt, forge, durability, delay);
        warm.run(&rt, 1, 64);
        // The timed batches run on the same engine and sandbox as the warm-up.
        let bench = warm.same_engine_counts_reset();
        bench.run(&rt, batches, 64);
        bench.summary(&label);
        if case.starts_with("growth") {
            bench.growth(&label, 64);
        }
        summaries.push(bench);
    }
    rt.block_on(async {
        for bench in summaries {
            bench.world.engine.shutdown().await;
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
