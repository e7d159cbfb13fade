//! Load on the real HTTP server over loopback: signed GitHub deliveries at
//! `POST /webhooks/github` (10% repeated delivery ids) and `POST /v1/commands` from 64 clients.
//! The server is `forgelink demo` started in process (`api::demo::start`, the same axum service
//! and durable webhook inbox as `forgelink serve`); the clients are plain HTTP/1.1 keep-alive connections
//! writing prebuilt requests, so the client side costs little of the two cores.
//!
//! `cargo bench --bench http_load` prints one table. Bounded: `FORGELINK_BENCH_DELIVERIES`
//! (default 40,000) deliveries over `FORGELINK_BENCH_CONNECTIONS` (default 64) connections, and
//! `FORGELINK_BENCH_COMMANDS` (default 6,400) `NameAccount` commands over 64 clients; each phase
//! stops after 60 s whatever is left. Anchors measured in the same run: `verify_and_parse` of the
//! same deliveries on one thread, and raw sled `insert` + `flush` per key.
//!
//! After the webhook phase every delivery answered 200 is looked up in the inbox: an
//! acknowledged delivery that is not there fails the bench.

use forgelink::api::demo::{self, DemoOptions};
use forgelink::secret::Secret;
use forgelink::webhooks::{self, Provider};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

/// The allocator the `forgelink` binary runs with (see `src/main.rs`), so the figures are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The longest a phase may run.
const PHASE_LIMIT: Duration = Duration::from_secs(60);

/// The GitHub samples in `tests/fixtures/providers/` with the event header GitHub sends.
const FIXTURES: &[(&str, &str)] = &[
    ("installation", "github/installation.json"),
    (
        "installation_repositories",
        "github/installation-repositories.json",
    ),
    ("github_app_authorization", "github/github-app-authorization.json"),
    ("repository", "github/repository.json"),
    ("push", "github/push.json"),
];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One HTTP/1.1 response: status and body.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok((status, buf[end + 4..end + 4 + len].to_vec()));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Sample {
    delivery_id: String,
    status: u16,
    duplicate: bool,
    latency: Duration,
}

/// What one load phase measured.
struct Phase {
    done: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }
    fn p(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn github_request(addr: &str, event: &str, id: &str, sig: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: {event}\r\nX-GitHub-Delivery: {id}\r\nX-Hub-Signature-256: {sig}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// The delivery id of delivery `i`: every tenth repeats the id (and body) of the delivery 45
/// before it, itself an original with the same sample (45 is a multiple of the sample count).
fn delivery_id(run: &str, i: usize) -> String {
    let original = if i >= 45 && i % 10 == 9 { i - 45 } else { i };
    format!("{run}-{original}")
}

async fn webhook_phase(
    addr: &str,
    secret: &Secret,
    total: usize,
    connections: usize,
) -> (Phase, Vec<Sample>) {
    let samples: Arc<Vec<(String, Vec<u8>, String)>> = Arc::new(
        FIXTURES
            .iter()
            .map(|(event, path)| {
                let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
                let body = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
                let sig = webhooks::sha256_signature(secret, &body);
                (event.to_string(), body, sig)
            })
            .collect(),
    );
    let run = Uuid::new_v4().simple().to_string();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (addr, samples, next, run) = (addr.to_string(), samples.clone(), next.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("the server accepts");
            stream.set_nodelay(true).ok();
            let mut buf = Vec::with_capacity(16 * 1024);
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total || started.elapsed() > PHASE_LIMIT {
                    break;
                }
                let (event, body, sig) = &samples[i % samples.len()];
                let id = delivery_id(&run, i);
                let request = github_request(&addr, event, &id, sig, body);
                let t = Instant::now();
                let (status, answer) = exchange(&mut stream, &request, &mut buf)
                    .await
                    .expect("the server answers");
                let latency = t.elapsed();
                let duplicate = serde_json::from_slice::<serde_json::Value>(&answer)
                    .ok()
                    .and_then(|v| v["duplicate"].as_bool())
                    .unwrap_or(false);
                out.push(Sample {
                    delivery_id: id,
                    status,
                    duplicate,
                    latency,
                });
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("a client task"));
    }
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = all.iter().map(|s| s.latency).collect();
    latencies.sort();
    let done = all.iter().filter(|s| s.status == 200).count();
    (
        Phase {
            done,
            elapsed,
            latencies,
        },
        all,
    )
}

async fn command_phase(addr: &str, token: &str, total: usize, clients: usize) -> Phase {
    let per_client = total.div_ceil(clients);
    let run = Uuid::new_v4().simple().to_string()[..8].to_string();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (addr, token, run) = (addr.to_string(), token.to_string(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("the server accepts");
            stream.set_nodelay(true).ok();
            let mut buf = Vec::with_capacity(4096);
            let mut out = Vec::new();
            for k in 0..per_client {
                if started.elapsed() > PHASE_LIMIT {
                    break;
                }
                let body = format!(
                    r#"{{"type":"NameAccount","provider":"github","unique_name":"load-{run}-{c}-{k}"}}"#
                );
                let request = format!(
                    "POST /v1/commands HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let t = Instant::now();
                let (status, answer) = exchange(&mut stream, request.as_bytes(), &mut buf)
                    .await
                    .expect("the server answers");
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
                out.push(t.elapsed());
            }
            out
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("a client task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Phase {
        done: latencies.len(),
        elapsed,
        latencies,
    }
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
    let sled_rate = raw_sled_rate();
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

        let (hooks, samples) = webhook_phase(&addr, &secret, deliveries, connections).await;
        let deliveries_log = &handle.server.state().inner.deliveries;
        let lost: Vec<&str> = samples
            .iter()
            .filter(|s| s.status == 200)
            .filter(|s| !deliveries_log.seen(Provider::GitHub, &s.delivery_id).unwrap_or(false))
            .map(|s| s.delivery_id.as_str())
            .collect();
        assert!(lost.is_empty(), "acknowledged but not in the inbox: {lost:?}");
        let refused = samples.iter().filter(|s| s.status != 200).count();
        let duplicates = samples.iter().filter(|s| s.duplicate).count();

        let token = handle.admin_token.expose().to_string();
        let cmds = command_phase(&addr, &token, commands, 64).await;
        let load_after = load_average();

        println!();
        println!("http_load: {} deliveries over {connections} connections ({} answered 200, {refused} not, {duplicates} reported duplicate, all 200s found in the inbox); {} NameAccount commands over 64 clients", samples.len(), hooks.done, cmds.done);
        println!("load average before {load_before}, after {load_after}");
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
