//! Scale: 100,000 accounts and 1,000,000 events. Generates the log with direct appends (ten
//! events per account in one append, Durability::Async, many appends in flight so the writer's
//! group commit batches them), then starts the server on it as `forgelink serve` does
//! (`api::Server::start`: engine open with its saga loops' resume, dashboard projection open and
//! caught up) in a child process, twice: cold (no projection yet, a full catch-up) and warm (a
//! restart after a clean shutdown). Each child reports its start-up time, its VmRSS after start,
//! and the dashboard list latency in process and over loopback HTTP.
//!
//! `cargo bench --bench scale` (size: `FORGELINK_BENCH_ACCOUNTS`, default 100,000, ten events
//! each). The anchor, measured in the same run, is a raw sled scan of every event record.
//! `FORGELINK_BENCH_SCALE_DIR=/some/dir` keeps the generated log there and reuses it;
//! `FORGELINK_BENCH_UNDISCOVERED=1` generates accounts with no blueprint discovery recorded.

use chrono::{Duration as Days, Utc};
use forgelink::api::{Server, ServerConfig};
use forgelink::engine::EngineConfig;
use forgelink::secret::Secret;
use forgelink::vault::VaultKey;
use forgelink_events::*;
use forgelink_projections::{AccountFilter, AccountStatus};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// The allocator the `forgelink` binary runs with (see `src/main.rs`), so the figures are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS_PER_ACCOUNT: usize = 10;
const VIEWER: &str = "scale-bench-viewer-token-0123456789";
const CHILD: &str = "FORGELINK_SCALE_CHILD";
const PROBE: &str = "FORGELINK_SCALE_PROBE";
const UNDISCOVERED: &str = "FORGELINK_BENCH_UNDISCOVERED";

fn repo(n: usize) -> RepoRef {
    RepoRef {
        id: n.to_string(),
        full_name: format!("acme/repo-{n}"),
    }
}

/// The ten events of account `i`: named, linked and approved, then everyday repository changes.
fn events(i: usize, id: Uuid) -> Vec<Event> {
    let provider = Provider::ALL[i % 3];
    let attempt_id = Uuid::new_v4();
    let mut out: Vec<Event> = vec![
        AccountNamed {
            account_id: id,
            provider,
            unique_name: format!("account-{i:07}"),
        }
        .into(),
        LinkStarted {
            attempt_id,
            state_hash: "0".repeat(64),
            authorize_url: "http://127.0.0.1:1/authorize".into(),
            expires_at: Utc::now() + Days::minutes(30),
        }
        .into(),
        AuthorizationReceived {
            attempt_id,
            installation_id: (provider == Provider::GitHub).then_some(i as u64),
            setup_action: None,
            code_ref: None,
        }
        .into(),
        InstallApproved {
            attempt_id,
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
                    // Far ahead: no refresh falls due while the bench runs.
                    token_expires_at: Utc::now() + Days::days(30),
                },
            },
        }
        .into(),
    ];
    out.push(match provider {
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
    });
    out.push(DetailsSaved {}.into());
    // An engine records the first discovery's blueprints (and keeps its memo, a cache, in
    // `data_dir/blueprints`). `FORGELINK_BENCH_UNDISCOVERED=1` generates accounts that never
    // had one (a log imported into a new folder): every start then owes 100,000 discoveries.
    out.push(if std::env::var_os(UNDISCOVERED).is_some() {
        repos_changed(6)
    } else {
        BlueprintsFound {
            blueprints: vec![BlueprintRef {
                repository: repo(1),
                path: "forgelink.yaml".into(),
            }],
        }
        .into()
    });
    for n in 7..EVENTS_PER_ACCOUNT {
        out.push(repos_changed(n));
    }
    out
}

fn repos_changed(n: usize) -> Event {
    RepositoriesChanged {
        added: vec![repo(n)],
        removed: vec![repo(n - 1)],
        repository_selection: None,
    }
    .into()
}

/// Appends every account's events, 8,192 appends in flight at a time.
fn build_log(dir: &Path, accounts: usize) -> Duration {
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let options = LogOptions {
        durability: Durability::Async,
        ..LogOptions::default()
    };
    let log = EventLog::open(dir.join("log"), options).expect("the log opens");
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..accounts {
            if tasks.len() >= 8192 {
                tasks.join_next().await;
            }
            let log = log.clone();
            tasks.spawn(async move {
                let id = Uuid::new_v4();
                log.append(
                    &StreamId::account(id),
                    ExpectedVersion::NoStream,
                    events(i, id),
                    Uuid::new_v4(),
                    Metadata::new("bench"),
                )
                .await
                .expect("append");
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    log.flush().expect("flush");
    started.elapsed()
}

/// Opens the log's sled database and reads every segment's bytes straight from it, counting the
/// events each holds: the floor any start-up scan can reach. Returns the event count, the open
/// time and the scan time.
fn raw_scan(dir: &Path) -> (usize, Duration, Duration) {
    let started = Instant::now();
    let db = sled::open(dir.join("log")).expect("sled opens");
    let tree = db.open_tree("events").expect("the log tree");
    let open = started.elapsed();
    let started = Instant::now();
    let mut n = 0;
    for item in tree.range(&[b'g'][..]..&[b'h'][..]) {
        // A segment (events/src/log/segment.rs): format byte, then its event count (u32 BE).
        let segment = item.expect("a segment").1;
        n += u32::from_be_bytes(segment[1..5].try_into().expect("a segment header")) as usize;
    }
    (n, open, started.elapsed())
}

/// The probe child: the pieces of a start-up timed one by one (log open, one decoded
/// `read_all`, engine open with its saga loops' resume).
fn probe(dir: PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    // Without the index snapshot first: the open scans every segment (and its clean close
    // writes the snapshot again).
    std::fs::remove_file(dir.join("log").join("index.snapshot"))
        .expect("a clean close left an index snapshot");
    let t = Instant::now();
    let log = EventLog::open(dir.join("log"), LogOptions::default()).expect("the log opens");
    let open_scan = t.elapsed();
    assert_eq!(log.open_report().snapshot_covers, 0);
    drop(log);
    let rss_before = vm_rss_kib();
    let t = Instant::now();
    let log = EventLog::open(dir.join("log"), LogOptions::default()).expect("the log opens");
    let open = t.elapsed();
    let rss_open = vm_rss_kib().saturating_sub(rss_before);
    assert!(log.open_report().snapshot_covers > 0, "{:?}", log.open_report());
    let index_bytes = log.index_bytes();
    let t = Instant::now();
    let n = log.read_all(1).filter(|e| e.is_ok()).count();
    let read = t.elapsed();
    let t = Instant::now();
    let mut raw = 0;
    for segment in log.read_all_raw(1) {
        for event in segment.expect("a segment").events() {
            raw += event.expect("an event").stream_version() as usize & 1;
        }
    }
    std::hint::black_box(raw);
    let read_raw = t.elapsed();
    drop(log);
    let (engine, engine_rss) = rt.block_on(async {
        let mut config = EngineConfig::new(&dir);
        config.vault_key = Some(VaultKey::from_env_or_file(&dir).expect("the vault key"));
        let rss_before = vm_rss_kib();
        let t = Instant::now();
        let engine = forgelink::engine::Engine::open(config)
            .await
            .expect("the engine opens");
        let took = t.elapsed();
        let rss = vm_rss_kib().saturating_sub(rss_before);
        engine.shutdown().await;
        (took, rss)
    });
    println!(
        "PROBE log_open_ms={:.0} log_open_scan_ms={:.0} index_bytes={index_bytes} open_rss_kib={rss_open} read_all_ms={:.0} read_all_raw_ms={:.0} events={n} engine_open_rss_kib={engine_rss} engine_open_ms={:.0}",
        ms(open),
        ms(open_scan),
        ms(read),
        ms(read_raw),
        ms(engine)
    );
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `GET path` over one loopback connection: status, body length, time.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, usize, Duration) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the server accepts");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {VIEWER}\r\nConnection: close\r\n\r\n"
    );
    let t = Instant::now();
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let elapsed = t.elapsed();
    let status = std::str::from_utf8(&buf[..12.min(buf.len())])
        .ok()
        .and_then(|h| h.get(9..12)?.parse().ok())
        .unwrap_or(0);
    (status, buf.len(), elapsed)
}

/// The child: starts the server on `dir`, reports, shuts down cleanly.
fn child(dir: PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let rss_before = vm_rss_kib();
        let mut engine = EngineConfig::new(&dir);
        engine.vault_key = Some(VaultKey::from_env_or_file(&dir).expect("the vault key"));
        let mut config = ServerConfig::new(engine);
        config.viewer_tokens = vec![Secret::new(VIEWER)];
        let t = Instant::now();
        let server = Server::start("127.0.0.1:0".parse().expect("an address"), config)
            .await
            .expect("the server starts");
        let (health, _, _) = get(server.addr, "/healthz").await;
        let start = t.elapsed();
        assert_eq!(health, 200);
        let rss = vm_rss_kib();
        let effects = server.state().inner.engine.effect_stats();
        let dash = &server.state().inner.dashboard;
        let filter = AccountFilter {
            provider: Some(Provider::GitLab),
            status: Some(AccountStatus::Active),
        };
        let mut direct = Vec::new();
        let mut rows = 0;
        for _ in 0..20 {
            let t = Instant::now();
            rows = dash.list(filter).len();
            direct.push(t.elapsed());
        }
        direct.sort();
        let mut http = Vec::new();
        let mut bytes = 0;
        for _ in 0..5 {
            let (status, n, d) = get(server.addr, "/v1/accounts?provider=gitlab&status=active").await;
            assert_eq!(status, 200);
            bytes = n;
            http.push(d);
        }
        http.sort();
        let all = dash.list(AccountFilter::default()).len();
        let later = server.state().inner.engine.effect_stats();
        println!(
            "CHILD start_ms={:.0} rss_kib={rss} rss_before_kib={rss_before} effect_timers={} effects_queued={} tasks_alive={} later_queued={} later_runs={} later_peak={} accounts={all} list_rows={rows} list_direct_p50_ms={:.2} list_direct_max_ms={:.2} list_http_p50_ms={:.1} list_http_max_ms={:.1} list_http_bytes={bytes}",
            start.as_secs_f64() * 1e3,
            effects.timers,
            effects.queued,
            tokio::runtime::Handle::current().metrics().num_alive_tasks(),
            later.queued,
            later.runs,
            later.peak_queued_running,
            direct[direct.len() / 2].as_secs_f64() * 1e3,
            direct[direct.len() - 1].as_secs_f64() * 1e3,
            http[http.len() / 2].as_secs_f64() * 1e3,
            http[http.len() - 1].as_secs_f64() * 1e3,
        );
        server.shutdown().await;
    });
}

fn run_child(dir: &Path, mode: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().expect("this bench's path"))
        .env(mode, dir)
        .output()
        .expect("the child runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "child failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("CHILD ") || l.starts_with("PROBE "))
        .unwrap_or_default()
        .to_string()
}

fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    if let Some(dir) = std::env::var_os(CHILD) {
        return child(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os(PROBE) {
        return probe(PathBuf::from(dir));
    }
    let accounts: usize = std::env::var("FORGELINK_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir =
        std::env::var_os("FORGELINK_BENCH_SCALE_DIR").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let load_before = load_average();
    let log_exists = dir.join("log").exists();
    if !log_exists {
        let took = build_log(&dir, accounts);
        println!(
            "generated {} events over {accounts} accounts in {:.1} s ({:.0} events/s)",
            accounts * EVENTS_PER_ACCOUNT,
            took.as_secs_f64(),
            (accounts * EVENTS_PER_ACCOUNT) as f64 / took.as_secs_f64()
        );
    }
    // Every run starts cold: no dashboard projection yet.
    let _ = std::fs::remove_dir_all(dir.join("projections"));
    let (events, sled_open, scan) = raw_scan(&dir);
    let cold = run_child(&dir, CHILD);
    let warm = run_child(&dir, CHILD);
    let pieces = run_child(&dir, PROBE);
    let load_after = load_average();
    let scan_ms = (sled_open + scan).as_secs_f64() * 1e3;
    println!();
    println!("scale: {events} events, load average before {load_before}, after {load_after}");
    println!("cold: {cold}");
    println!("warm: {warm}");
    println!("pieces: {pieces}");
    println!(
        "raw sled: open {:.0} ms, scan of the segments holding {events} events {:.0} ms",
        sled_open.as_secs_f64() * 1e3,
        scan.as_secs_f64() * 1e3
    );
    println!();
    println!("| figure | result | goal | anchor (same run) | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, line, goal) in [
        ("restart (projection checkpoint present)", &warm, 2),
        ("first start (projection built from scratch)", &cold, 5),
    ] {
        let ms = field(line, "start_ms");
        println!(
            "| start-up, {name}, {events} events | {:.2} s | < {goal} s | raw sled open + scan of the events {:.2} s | {:.1}x |",
            ms / 1e3,
            scan_ms / 1e3,
            ms / scan_ms
        );
    }
    let accounts_seen = field(&warm, "accounts");
    println!(
        "| log open with the index snapshot / scanning every segment | {:.0} / {:.0} ms | — | raw sled open + scan {:.0} ms | {:.2}x / {:.2}x |",
        field(&pieces, "log_open_ms"),
        field(&pieces, "log_open_scan_ms"),
        scan_ms,
        field(&pieces, "log_open_ms") / scan_ms,
        field(&pieces, "log_open_scan_ms") / scan_ms,
    );
    println!(
        "| in-memory log index | {:.1} MiB ({:.0} B/account; RSS +{:.1} MiB at open) | — | — | — |",
        field(&pieces, "index_bytes") / 1048576.0,
        field(&pieces, "index_bytes") / accounts_seen,
        field(&pieces, "open_rss_kib") / 1024.0
    );
    let raw_per_s = events as f64 / scan.as_secs_f64();
    for (name, key) in [
        ("read_all (decoded)", "read_all_ms"),
        ("read_all_raw (borrowed)", "read_all_raw_ms"),
    ] {
        let per_s = field(&pieces, "events") / (field(&pieces, key) / 1e3);
        println!(
            "| {name} of {events} events | {:.0} events/s | — | raw segment scan {:.0} events/s | {:.3}x |",
            per_s,
            raw_per_s,
            per_s / raw_per_s
        );
    }
    println!(
        "| Engine::open (both saga resumes) | {:.2} s (RSS +{:.0} MiB) | — | — | — |",
        field(&pieces, "engine_open_ms") / 1e3,
        field(&pieces, "engine_open_rss_kib") / 1024.0
    );
    for (name, line) in [("restart", &warm), ("first start", &cold)] {
        println!(
            "| VmRSS after {name} | {:.0} MiB | < 300 MiB | — | — |",
            field(line, "rss_kib") / 1024.0
        );
        println!(
            "| after {name}: tasks alive / effects waiting for their time / queued (after the list queries: queued, runs, most at once) | {:.0} / {:.0} / {:.0} ({:.0}, {:.0}, {:.0}) | — | — | — |",
            field(line, "tasks_alive"),
            field(line, "effect_timers"),
            field(line, "effects_queued"),
            field(line, "later_queued"),
            field(line, "later_runs"),
            field(line, "later_peak")
        );
    }
    println!(
        "| dashboard list (GitLab, active: {:.0} of {:.0} rows), in process p50 / max | {:.2} / {:.2} ms | — | — | — |",
        field(&warm, "list_rows"),
        field(&warm, "accounts"),
        field(&warm, "list_direct_p50_ms"),
        field(&warm, "list_direct_max_ms")
    );
    println!(
        "| GET /v1/accounts?provider=gitlab&status=active ({:.1} MB JSON) p50 / max | {:.0} / {:.0} ms | — | — | — |",
        field(&warm, "list_http_bytes") / 1e6,
        field(&warm, "list_http_p50_ms"),
        field(&warm, "list_http_max_ms")
    );
}
