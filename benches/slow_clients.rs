//! What unauthenticated clients can cost the server (issue 14, point 2), measured on the real
//! server (`api::Server` with the default `ServerLimits`, as `forgelink serve` runs) over
//! loopback, RSS of this process before and after each phase:
//! 1. 1,000 idle connections (connect, send nothing): how many are open after the header
//!    timeout, and the memory they held;
//! 2. 200 slow-loris clients (one header line every 500 ms, headers never end): when each is
//!    cut off;
//! 3. 100 clients streaming 8 MiB bodies at `POST /webhooks/github` at once, unsigned: how many
//!    were read against the body budget and how many shed (503), and the peak memory;
//!
//! and, during phases 1 and 2, the latency of `GET /healthz` from a well-behaved client.
//! `cargo bench --bench slow_clients` prints one table. Not a criterion bench: each phase is one
//! run of a few seconds whose figures are counts and memory, not a rate.

use forgelink::api::{Server, ServerConfig, ServerLimits, WebhookSecrets};
use forgelink::engine::EngineConfig;
use forgelink::secret::Secret;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// One `GET /healthz` on a new connection: the time to the full answer.
async fn health(addr: SocketAddr) -> Option<Duration> {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&buf)
        .starts_with("HTTP/1.1 200")
        .then(|| t.elapsed())
}

/// True when the server has closed `s` (a read returns 0 or fails at once).
async fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 512];
    matches!(
        tokio::time::timeout(Duration::from_millis(20), s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

async fn idle_connections(addr: SocketAddr, limits: &ServerLimits) {
    let before = status_kib("VmRSS:");
    let mut conns = Vec::new();
    for _ in 0..1000 {
        if let Ok(s) = TcpStream::connect(addr).await {
            conns.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = status_kib("VmRSS:");
    let during = health(addr).await;
    tokio::time::sleep(limits.header_timeout + Duration::from_secs(1)).await;
    let mut open = 0;
    for s in conns.iter_mut() {
        if !closed(s).await {
            open += 1;
        }
    }
    drop(conns);
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "1,000 idle connections | RSS {} -> {} while held, {} after | \
         still open 1 s after the header timeout: {open} | /healthz meanwhile: {during:?}",
        mib(before),
        mib(held),
        mib(status_kib("VmRSS:")),
    );
}

async fn slow_loris(addr: SocketAddr) {
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.ok()?;
            s.write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\n")
                .await
                .ok()?;
            for i in 0..120 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if s.write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                    .await
                    .is_err()
                    || closed(&mut s).await
                {
                    return Some(started.elapsed());
                }
            }
            None
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = health(addr).await;
    let rss_during = status_kib("VmRSS:");
    let mut cut = Vec::new();
    let mut never = 0;
    for t in tasks {
        match t.await.ok().flatten() {
            Some(d) => cut.push(d),
            None => never += 1,
        }
    }
    cut.sort();
    let p = |q: f64| cut.get(((cut.len() as f64 - 1.0) * q) as usize).copied();
    println!(
        "200 slow-loris clients | cut off: {} (median {:?}, last {:?}) | never cut in 60 s: {never} | \
         RSS {} -> {} | /healthz meanwhile: {during:?}",
        cut.len(),
        p(0.5),
        p(1.0),
        mib(before),
        mib(rss_during)
    );
}

async fn big_bodies(addr: SocketAddr) {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    let before = status_kib("VmRSS:");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        tasks.push(tokio::spawn(async move {
            let s = TcpStream::connect(addr).await.ok()?;
            let (mut r, mut w) = s.into_split();
            let writer = tokio::spawn(async move {
                let head = "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
                w.write_all(head.as_bytes()).await?;
                for _ in 0..128 {
                    w.write_all(format!("{:x}\r\n", CHUNK.len()).as_bytes()).await?;
                    w.write_all(&CHUNK).await?;
                    w.write_all(b"\r\n").await?;
                }
                w.write_all(b"0\r\n\r\n").await?;
                Ok::<_, std::io::Error>(w)
            });
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(60), r.read(&mut buf))
                .await
                .ok()?
                .ok()?;
            writer.abort();
            Some(
                String::from_utf8_lossy(&buf[..n])
                    .chars()
                    .skip(9)
                    .take(3)
                    .collect::<String>(),
            )
        }));
    }
    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    for t in tasks {
        let a = t.await.ok().flatten().unwrap_or_else(|| "none".into());
        *answers.entry(a).or_default() += 1;
    }
    println!(
        "100 unsigned 8 MiB bodies at once | answers {answers:?} | RSS {} -> {} | peak RSS of the process {}",
        mib(before),
        mib(status_kib("VmRSS:")),
        mib(status_kib("VmHWM:"))
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("a folder");
        let mut engine = EngineConfig::new(dir.path());
        engine.vault_key = Some(forgelink::vault::VaultKey::generate());
        let mut config = ServerConfig::new(engine);
        config.webhook_secrets = WebhookSecrets {
            github: Some(Secret::new("bench-secret")),
            ..Default::default()
        };
        let limits = config.limits;
        let server = Server::start("127.0.0.1:0".parse().expect("an address"), config)
            .await
            .expect("the server starts");
        let addr = server.addr;
        println!("limits: {limits:?}");
        println!("RSS at start: {}", mib(status_kib("VmRSS:")));
        idle_connections(addr, &limits).await;
        slow_loris(addr).await;
        big_bodies(addr).await;
        server.shutdown().await;
    });
}
