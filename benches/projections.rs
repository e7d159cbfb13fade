//! Projection benchmarks: rebuilding the dashboard from N events over N/10 accounts against a
//! raw sled scan of the same log (same run, rounds interleaved); memory after the rebuild
//! (resident memory from /proc/self/status, and live heap counted by a global allocator);
//! get-by-name / filtered-list latency (p50, p99) on the rebuilt dashboard and on one of 10,000
//! accounts.
//!
//! N defaults to 100,000; `FORGELINK_BENCH_EVENTS=1000000 cargo bench --bench projections` runs
//! the full size (without criterion's repeated samples of the rebuild, to stay bounded).
//! `FORGELINK_BENCH_DIR=DIR` keeps the log there between runs; with it,
//! `FORGELINK_BENCH_PROFILE_REBUILDS=N` only rebuilds N times (for `perf record`).

use chrono::{Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use forgelink_events::*;
use forgelink_projections::*;
use std::alloc::{GlobalAlloc, Layout};

/// The allocator the `forgelink` binary runs with (see `src/main.rs`), counted here.
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;
use uuid::Uuid;

/// Counts live heap bytes, to measure the dashboard's memory per account.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCATOR.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        ALLOCATOR.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        ALLOCATOR.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[path = "support/projections_memory.rs"]
mod memory;
use memory::{load_average, measure_memory, query_latency};

const EVENTS_PER_ACCOUNT: usize = 10;
const QUERY_ACCOUNTS: usize = 10_000;

fn events_total() -> usize {
    std::env::var("FORGELINK_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn provider_of(i: usize) -> Provider {
    Provider::ALL[i % 3]
}

fn repo(n: usize) -> RepoRef {
    RepoRef {
        id: n.to_string(),
        full_name: format!("acme/repo-{n}"),
    }
}

/// Event `step` (0..10) of account `i`: the seed flow, then everyday changes.
fn event(i: usize, id: Uuid, step: usize) -> Event {
    let provider = provider_of(i);
    match step {
        0 => AccountNamed {
            account_id: id,
            provider,
            unique_name: format!("account-{i:07}"),
        }
        .into(),
        1 => LinkStarted {
            attempt_id: Uuid::new_v4(),
            state_hash: "0".repeat(64),
            authorize_url: "http://127.0.0.1:1/authorize".into(),
            expires_at: Utc::now() + Duration::minutes(30),
        }
        .into(),
        2 => AuthorizationReceived {
            attempt_id: Uuid::new_v4(),
            installation_id: (provider == Provider::GitHub).then_some(i as u64),
            setup_action: None,
            code_ref: None,
        }
        .into(),
        3 => InstallApproved {
            attempt_id: Uuid::new_v4(),
            grant: match provider {
                Provider::GitHub => Grant::GithubInstallation {
                    installation_id: i as u64,
                    account_login: format!("org-{i}"),
                    target_type: "Organization".into(),
                    repository_selection: "selected".into(),
                    repositories: vec![repo(1), repo(2)],
                },
                _ => Grant::Oauth {
                    user: format!("user-{i}"),
                    user_id: Some(i.to_string()),
                    scopes: vec!["api".into()],
                    secret_ref: format!("vault:{i}"),
                    token_expires_at: Utc::now() + Duration::hours(2),
                },
            },
        }
        .into(),
        4 => match provider {
            Provider::GitLab => GroupSelected {
                group_id: i as u64,
                full_path: format!("group-{i}/infra"),
            }
            .into(),
            Provider::Bitbucket => WorkspaceSelected {
                workspace: format!("ws-{i}"),
                project_key: "INFRA".into(),
            }
            .into(),
            Provider::GitHub => repos_changed(3),
        },
        5 => DetailsSaved {}.into(),
        // 3 in 10 accounts of each provider end disconnected: a filter on GitLab and
        // disconnected then lists 1 account in 10 (10,000 of 100,000).
        9 if (i / 3) % 10 < 3 => match provider {
            Provider::GitHub => InstallationRemoved::default().into(),
            _ => CredentialsRevoked {
                reason: "token revoked on the provider".into(),
            }
            .into(),
        },
        7 => BlueprintsFound {
            blueprints: vec![BlueprintRef {
                repository: repo(1),
                path: "forgelink.yaml".into(),
            }],
        }
        .into(),
        n => repos_changed(n),
    }
}

fn repos_changed(n: usize) -> Event {
    RepositoriesChanged {
        added: vec![repo(n)],
        removed: vec![repo(n - 1)],
        repository_selection: None,
    }
    .into()
}

/// Appends N events over N/10 accounts, interleaved: round r appends event r of every account.
fn build_log(dir: &Path, total: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options = LogOptions {
        durability: Durability::Async,
        ..LogOptions::default()
    };
    let log = EventLog::open(dir.join("log"), options).unwrap();
    let ids: Vec<Uuid> = (0..total / EVENTS_PER_ACCOUNT).map(|_| Uuid::new_v4()).collect();
    rt.block_on(async {
        for step in 0..EVENTS_PER_ACCOUNT {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, id) in ids.iter().copied().enumerate() {
                let log = log.clone();
                tasks.spawn(async move {
                    let stream = StreamId::account(id);
                    let meta = Metadata::new("bench");
                    log.append(
                        &stream,
                        ExpectedVersion::Any,
                        vec![event(i, id, step)],
                        Uuid::new_v4(),
                        meta,
                    )
                    .await
                    .unwrap();
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    });
    log.flush().unwrap();
}

/// Reads every event record's bytes straight from sled: the floor any replay can reach.
fn raw_scan(dir: &Path) -> usize {
    let db = sled::open(dir.join("log")).unwrap();
    let tree = db.open_tree("events").unwrap();
    let mut bytes = 0;
    for item in tree.range(&[b'g'][..]..&[b'h'][..]) {
        bytes += item.unwrap().1.len();
    }
    bytes
}

/// Reads and decodes every envelope through the log's own API, applying nothing.
fn decode_all(dir: &Path) -> usize {
    let log = EventLog::open(dir.join("log"), LogOptions::default()).unwrap();
    log.read_all(1).map(|e| e.unwrap().position as usize).sum()
}

fn rebuild(dir: &Path) -> Runner<Dashboard> {
    let log = EventLog::open(dir.join("log"), LogOptions::default()).unwrap();
    let store = ProjectionStore::open(dir.join("projections")).unwrap();
    let mut runner = Runner::open_empty(&store, Dashboard::new()).unwrap();
    runner.rebuild(&log, &mut |_, _| {}).unwrap();
    runner
}

/// The dashboard, timing its own `apply` and `stage` calls, so the bench can say where a
/// rebuild's time goes.
#[derive(Default)]
struct Timed {
    inner: Dashboard,
    apply: std::time::Duration,
    stage: std::time::Duration,
}

impl Projection for Timed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn load(&mut self, tree: &sled::Tree) -> Result<(), ProjectionError> {
        self.inner.load(tree)
    }
    fn reset(&mut self) {
        self.inner.reset()
    }
    fn apply(&mut self, env: &Envelope) -> Result<(), ProjectionError> {
        let t = Instant::now();
        let r = self.inner.apply(env);
        self.apply += t.elapsed();
        r
    }
    fn stage(&mut self, batch: &mut sled::Batch) -> Result<(), ProjectionError> {
        let t = Instant::now();
        let r = self.inner.stage(batch);
        self.stage += t.elapsed();
        r
    }
    fn differences(&self, rebuilt: &Self) -> Vec<Difference> {
        self.inner.differences(&rebuilt.inner)
    }
}

/// One rebuild over a store that already holds a full dashboard (as every bench iteration
/// does), split into: opening with the old state wiped, the replay (apply and stage timed
/// inside it; the rest is reading the log and sled's batch commit), and the final flush.
fn rebuild_breakdown(dir: &Path) -> String {
    let log = EventLog::open(dir.join("log"), LogOptions::default()).unwrap();
    let store = ProjectionStore::open(dir.join("projections")).unwrap();
    let t = Instant::now();
    let mut runner = Runner::open_empty(&store, Timed::default()).unwrap();
    let wipe = t.elapsed();
    let t = Instant::now();
    runner.rebuild(&log, &mut |_, _| {}).unwrap();
    let replay = t.elapsed();
    let t = Instant::now();
    store.flush().unwrap();
    let flush = t.elapsed();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let p = runner.projection();
    format!(
        "open_empty (wipe) {:.1} ms; rebuild {:.1} ms = apply {:.1} ms + stage {:.1} ms + read/commit/flush {:.1} ms; extra flush {:.1} ms",
        ms(wipe),
        ms(replay),
        ms(p.apply),
        ms(p.stage),
        ms(replay) - ms(p.apply) - ms(p.stage),
        ms(flush)
    )
}

/// The folder of the bench's log: a fresh temporary one, or with `FORGELINK_BENCH_DIR` a kept
/// one (built on first use, reused after), so a profiler can watch rebuilds only.
enum BenchDir {
    Temp(tempfile::TempDir),
    Kept(std::path::PathBuf),
}

impl BenchDir {
    fn new(total: usize) -> BenchDir {
        let dir = match std::env::var_os("FORGELINK_BENCH_DIR") {
            Some(d) => BenchDir::Kept(Path::new(&d).join(total.to_string())),
            None => BenchDir::Temp(tempfile::tempdir().unwrap()),
        };
        if !dir.path().join("log").exists() {
            build_log(dir.path(), total);
        }
        dir
    }

    fn path(&self) -> &Path {
        match self {
            BenchDir::Temp(t) => t.path(),
            BenchDir::Kept(p) => p,
        }
    }
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn bench_rebuild(c: &mut Criterion) {
    let total = events_total();
    let dir = BenchDir::new(total);
    // For a profiler: only rebuilds, nothing else on the main thread.
    if let Some(n) = std::env::var("FORGELINK_BENCH_PROFILE_REBUILDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        for _ in 0..n {
            rebuild(dir.path());
        }
        std::process::exit(0);
    }
    let accounts = total / EVENTS_PER_ACCOUNT;

    // Memory first, while the heap holds nothing of an earlier rebuild.
    let reader = measure_memory(dir.path(), accounts);
    query_latency(&reader, accounts);
    drop(reader);

    // Rounds of raw scan, decode and rebuild, interleaved so that a change in the machine's load
    // hits all three alike; the best of each.
    let (mut raw, mut decode, mut full) = (f64::MAX, f64::MAX, f64::MAX);
    let load_before = load_average();
    for _ in 0..3 {
        raw = raw.min(best_of(1, || raw_scan(dir.path())));
        decode = decode.min(best_of(1, || decode_all(dir.path())));
        full = full.min(best_of(1, || rebuild(dir.path())));
    }
    eprintln!(
        "\n{total} events, {accounts} accounts: raw sled scan {:.0} events/s; read_all (decode only) {:.0} events/s; dashboard rebuild {:.0} events/s; rebuild/raw ratio {:.2} (goal >= 0.5); load average before {load_before}, after {}",
        total as f64 / raw,
        total as f64 / decode,
        total as f64 / full,
        raw / full,
        load_average()
    );
    for _ in 0..2 {
        eprintln!("rebuild breakdown: {}", rebuild_breakdown(dir.path()));
    }

    // Criterion's samples repeat every rebuild ten times and more: only at the default size.
    if total > 100_000 {
        return;
    }
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function(format!("raw_sled_scan_{total}"), |b| {
        b.iter(|| raw_scan(dir.path()))
    });
    group.bench_function(format!("dashboard_rebuild_{total}"), |b| {
        b.iter(|| rebuild(dir.path()))
    });
    group.finish();
}

/// A dashboard of 10,000 active accounts built in memory, without a log.
fn query_dashboard() -> Dashboard {
    let mut dashboard = Dashboard::new();
    let mut position = 0;
    for i in 0..QUERY_ACCOUNTS {
        let id = Uuid::new_v4();
        for step in 0..EVENTS_PER_ACCOUNT {
            position += 1;
            let env = Envelope {
                position,
                stream_id: StreamId::account(id),
                stream_version: step as u64 + 1,
                event_id: Uuid::new_v4(),
                stored_schema_version: 1,
                command_id: Uuid::new_v4(),
                correlation_id: Uuid::new_v4(),
                causation_id: None,
                recorded_at: Utc::now(),
                actor: "bench".into(),
                event: event(i, id, step),
            };
            dashboard.apply(&env).unwrap();
        }
    }
    dashboard
}

fn percentiles(mut nanos: Vec<u128>) -> (u128, u128) {
    nanos.sort_unstable();
    let at = |p: f64| nanos[((nanos.len() as f64 * p) as usize).min(nanos.len() - 1)];
    (at(0.50), at(0.99))
}

fn bench_queries(c: &mut Criterion) {
    if std::env::var_os("FORGELINK_BENCH_PROFILE_REBUILDS").is_some() {
        return;
    }
    // Memory first, before any sled thread exists that could free memory concurrently.
    let before = LIVE.load(Ordering::Relaxed);
    let dashboard = query_dashboard();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    eprintln!(
        "\ndashboard memory: {bytes} bytes for {QUERY_ACCOUNTS} accounts = {} bytes per account (goal < 1024)",
        bytes / QUERY_ACCOUNTS as isize
    );
    let reader = dashboard.reader();
    let names: Vec<String> = (0..QUERY_ACCOUNTS).map(|i| format!("ACCOUNT-{i:07}")).collect();
    let gitlab_active = AccountFilter {
        provider: Some(Provider::GitLab),
        status: Some(AccountStatus::Active),
    };

    let lookups: Vec<u128> = (0..100_000)
        .map(|k| {
            let t = Instant::now();
            std::hint::black_box(reader.get_by_name(&names[(k * 7919) % names.len()]));
            t.elapsed().as_nanos()
        })
        .collect();
    let (p50, p99) = percentiles(lookups);
    eprintln!("\nget_by_name over {QUERY_ACCOUNTS} accounts: p50 {p50} ns, p99 {p99} ns (goal p99 < 50 us)");
    for (label, filter) in [
        ("filtered (gitlab, active)", gitlab_active),
        ("unfiltered", AccountFilter::default()),
    ] {
        let lists: Vec<u128> = (0..200)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(reader.list(filter));
                t.elapsed().as_nanos()
            })
            .collect();
        let (p50, p99) = percentiles(lists);
        eprintln!(
            "list {label} over {QUERY_ACCOUNTS} accounts: p50 {:.2} ms, p99 {:.2} ms (goal < 10 ms)",
            p50 as f64 / 1e6,
            p99 as f64 / 1e6
        );
    }

    let mut group = c.benchmark_group("query_10k_accounts");
    let mut k = 0;
    group.bench_function("get_by_name", |b| {
        b.iter(|| {
            k = (k + 7919) % names.len();
            reader.get_by_name(&names[k])
        })
    });
    group.bench_function("list_gitlab_active", |b| b.iter(|| reader.list(gitlab_active)));
    group.bench_function("list_all", |b| b.iter(|| reader.list(AccountFilter::default())));
    group.bench_function("counts", |b| b.iter(|| reader.counts()));
    group.finish();
}

criterion_group!(benches, bench_queries, bench_rebuild);
criterion_main!(benches);
