//! Load on the real HTTP server over loopback: signed GitHub deliveries at
//! `POST /webhooks/github` (10% repeated delivery ids) and `POST /v1/commands` from 64 clients.
//! The server is `forgelink demo` started in process (`api::demo::start`, the same axum service
//! and durable webhook inbox as `forgelink serve`); the clients are plain HTTP/1.1 keep-alive
//! connections in a child process (`support/load_client.rs`), so the server's runtime is its
//! own and the clients, on one thread, cost little of the two cores.
//!
//! `cargo bench --bench http_load` prints one table. Bounded: `FORGELINK_BENCH_DELIVERIES`
//! (default 40,000) deliveries over `FORGELINK_BENCH_CONNECTIONS` (default 64) connections, and
//! `FORGELINK_BENCH_COMMANDS` (default 6,400) `NameAccount` commands over 64 clients; each phase
//! stops after 60 s whatever is left. Anchors measured in the same run: `verify_and_parse` of the
//! same deliveries on one thread, and raw sled `insert` + `flush` per key.
//!
//! After the webhook phase every delivery answered 200 is looked up in the inbox: an
//! acknowledged delivery that is not there fails the bench.

#[path = "support/load_client.rs"]
mod load_client;

use forgelink::api::demo::{self, DemoOptions};
use forgelink::secret::Secret;
use forgelink::webhooks::{self, Provider};
use load_client::{delivery_id, FIXTURES};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The allocator the `forgelink` binary runs with (see `src/main.rs`), so the figures are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// What one load phase measured.
struct Phase {
    done: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn of(run: &load_client::Run) -> Phase {
        let mut latencies: Vec<Duration> = run.samples.iter().map(|s| s.latency).collect();
        latencies.sort();
        Phase {
            done: run.samples.iter().filter(|s| s.status == 200).count(),
            elapsed: run.elapsed,
            latencies,
        }
    }
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }
    fn p(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

fn samples_len(run: &load_client::Run) -> f64 {
    run.samples.len().max(1) as f64
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A delivery's headers as `verify_and_parse` takes them.
type Headers = Vec<(String, String)>;

/// Anchor: `verify_and_parse` of the same samples on one thread, deliveries per second.
fn verify_parse_rate(secret: &Secret) -> f64 {
    let samples: Vec<(Vec<u8>, Headers)> = FIXTURES
        .iter()
        .map(|(event, path)| {
            let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
            let body = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
            let headers = vec![
                ("X-GitHub-Event".to_string(), event.to_string()),
                ("X-GitHub-Delivery".to_string(), Uuid::new_v4().to_string()),
                (
                    "X-Hub-Signature-256".to_string(),
                    webhooks::sha256_signature(secret, &body),
                ),
            ];
            (body, headers)
        })
        .collect();
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < Duration::from_secs(1) {
        for (body, headers) in &samples {
            let d = webhooks::verify_and_parse(Provider::GitHub, body, headers, secret)
                .expect("a real sample is accepted");
            std::hint::black_box(d.changes.len());
            n += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Anchor: raw sled `insert` + `flush` of one 64-byte value per key, keys per second.
fn raw_sled_rate() -> f64 {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = sled::open(dir.path()).expect("sled opens");
    let value = [7u8; 64];
    let n = 2_000u32;
    let started = Instant::now();
    for i in 0..n {
        db.insert(i.to_be_bytes(), &value[..]).expect("insert");
        db.flush().expect("flush");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    if std::env::var_os(load_client::CHILD_ENV).is_some() {
        return load_client::child_main();
    }
    // `cargo bench` passes `--bench`; nothing else is understood.
    let deliveries = env_or("FORGELINK_BENCH_DELIVERIES", 40_000);
    let connections = env_or("FORGELINK_BENCH_CONNECTIONS", 64);
    let commands = env_or("FORGELINK_BENCH_COMMANDS", 6_400);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let load_before = load_average();
    // The anchor before and after the webhook phase (the machine's load moves); the ratio is
    // against their mean.
    let sled_before = raw_sled_rate();
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let handle = demo::start(DemoOptions::new(dir.path())).await.expect("the demo starts");
        let addr = handle.server.addr.to_string();
        let secret = handle
            .server
            .state()
            .inner
            .webhook_secrets
            .github
            .clone()
            .expect("the demo has a GitHub webhook secret");
        let parse_rate = verify_parse_rate(&secret);

        let run = Uuid::new_v4().simple().to_string();
        let server_cpu_before = load_client::cpu_time();
        let webhook_run = load_client::run_child(&[
            ("mode", "webhooks".into()),
            ("addr", addr.clone()),
            ("total", deliveries.to_string()),
            ("connections", connections.to_string()),
            ("run", run.clone()),
            ("secret", secret.expose().to_string()),
        ])
        .await;
        // The server's CPU time over the phase (this process: the server and nothing else
        // runs meanwhile; the clients are the child's).
        let server_cpu = load_client::cpu_time().saturating_sub(server_cpu_before);
        let hooks = Phase::of(&webhook_run);
        let per = |cpu: Duration| cpu.as_secs_f64() * 1e6 / samples_len(&webhook_run);
        let samples = &webhook_run.samples;
        let sled_after = tokio::task::spawn_blocking(raw_sled_rate).await.expect("the anchor");
        let sled_rate = (sled_before + sled_after) / 2.0;
        let deliveries_log = &handle.server.state().inner.deliveries;
        let lost: Vec<String> = samples
            .iter()
            .filter(|s| s.status == 200)
            .map(|s| delivery_id(&run, s.index))
            .filter(|id| !deliveries_log.seen(Provider::GitHub, id).unwrap_or(false))
            .collect();
        assert!(lost.is_empty(), "acknowledged but not in the inbox: {lost:?}");
        let refused = samples.iter().filter(|s| s.status != 200).count();
        let duplicates = samples.iter().filter(|s| s.duplicate).count();

        let token = handle.admin_token.expose().to_string();
        let command_run = load_client::run_child(&[
            ("mode", "commands".into()),
            ("addr", addr.clone()),
            ("total", commands.to_string()),
            ("connections", "64".into()),
            ("run", run[..8].to_string()),
            ("token", token),
        ])
        .await;
        assert!(
            command_run.samples.iter().all(|s| s.status == 200),
            "every command is answered 200"
        );
        let cmds = Phase::of(&command_run);
        let load_after = load_average();

        println!();
        println!("http_load: {} deliveries over {connections} connections from a child process ({} answered 200, {refused} not, {duplicates} reported duplicate, all 200s found in the inbox); {} NameAccount commands over 64 clients", samples.len(), hooks.done, cmds.done);
        println!("load average before {load_before}, after {load_after}; raw sled insert+flush {sled_before:.0}/s before the webhook phase, {sled_after:.0}/s after");
        let (server_us, client_us) = (per(server_cpu), per(webhook_run.client_cpu));
        println!(
            "CPU per delivery: server {server_us:.1} us, load generator {client_us:.1} us; the two cores could take {:.0}/s with the clients, {:.0}/s with the server alone",
            2e6 / (server_us + client_us),
            2e6 / server_us
        );
        println!();
        println!("| figure | result | goal | anchor (same run) | ratio |");
        println!("| --- | --- | --- | --- | --- |");
        println!(
            "| webhook deliveries accepted/s, {connections} connections, 10% repeated ids, durable inbox | {:.0}/s | >= 40,000/s (5x raw sled) | verify+parse on one thread {:.0}/s; raw sled insert+flush {:.0}/s | {:.2}x; {:.2}x |",
            hooks.rate(),
            parse_rate,
            sled_rate,
            hooks.rate() / parse_rate,
            hooks.rate() / sled_rate
        );
        println!(
            "| webhook latency p50 / p99 / max | {} / {} / {} | p99 < 10 ms | — | — |",
            ms(hooks.p(0.5)),
            ms(hooks.p(0.99)),
            ms(hooks.p(1.0))
        );
        println!(
            "| POST /v1/commands (NameAccount, new names), 64 clients: p50 / p99 / max | {} / {} / {} | p99 < 5 ms | raw sled insert+flush {:.3} ms | p99 {:.1}x |",
            ms(cmds.p(0.5)),
            ms(cmds.p(0.99)),
            ms(cmds.p(1.0)),
            1e3 / sled_rate,
            cmds.p(0.99).as_secs_f64() * sled_rate
        );
        println!("| commands/s, 64 clients | {:.0}/s | — | raw sled insert+flush {:.0}/s | {:.2}x |", cmds.rate(), sled_rate, cmds.rate() / sled_rate);
        handle.shutdown().await;
    });
}
