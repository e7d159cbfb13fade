//! The server's bounds over real sockets: a client that trickles its headers is cut off, bounded
//! in time; connections and requests over their caps are answered 503 with `Retry-After`; a
//! body over its route's cap is the same JSON 413 as every refusal, a body too slow a 408, and
//! large bodies together cannot pass the memory budget. (Speed and memory under 1,000 idle
//! connections and slow clients are measured in `benches/slow_clients.rs`, not here.)

use forgelink::api::{Server, ServerConfig, ServerLimits, WebhookSecrets};
use forgelink::engine::EngineConfig;
use forgelink::secret::Secret;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN: &str = "admin-token-of-the-limits-tests";

struct Site {
    server: Server,
    _dir: tempfile::TempDir,
}

async fn start(adjust: impl FnOnce(&mut ServerLimits)) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = EngineConfig::new(dir.path());
    engine.vault_key = Some(forgelink::vault::VaultKey::generate());
    let mut config = ServerConfig::new(engine);
    config.admin_tokens = vec![Secret::new(ADMIN)];
    config.webhook_secrets = WebhookSecrets {
        github: Some(Secret::new("s3cret")),
        ..Default::default()
    };
    let mut limits = ServerLimits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(2),
        ..ServerLimits::default()
    };
    adjust(&mut limits);
    config.limits = limits;
    let server = Server::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    Site { server, _dir: dir }
}

/// Reads until the server closes the connection (or `within` passes); what it sent.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_headers_is_cut_off_within_bounded_time() {
    let site = start(|_| {}).await;
    let mut stream = TcpStream::connect(site.server.addr).await.unwrap();
    stream
        .write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut cut = false;
    // One header line every 200 ms: the headers never end.
    for i in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let line = format!("X-Slow-{i}: y\r\n");
        if stream.write_all(line.as_bytes()).await.is_err() {
            cut = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            cut = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut, "the slow client was never cut off");
    assert!(
        took < Duration::from_secs(5),
        "cut off after {took:?}, not near the 1 s header timeout"
    );
    site.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed() {
    let site = start(|_| {}).await;
    let mut stream = TcpStream::connect(site.server.addr).await.unwrap();
    let closed = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "an idle connection stayed open past 5 s");
    site.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_is_answered_503_with_retry_after() {
    let site = start(|l| {
        l.max_connections = 2;
        l.header_timeout = Duration::from_secs(5);
    })
    .await;
    let _held = [
        TcpStream::connect(site.server.addr).await.unwrap(),
        TcpStream::connect(site.server.addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(site.server.addr).await.unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = read_to_close(&mut third, Duration::from_secs(3))
        .await
        .expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 5"), "{answer}");
    assert!(answer.contains("\"error\""), "the same JSON refusal: {answer}");
    site.server.shutdown().await;
}

/// Sends `head` then `chunks` (pausing `pause` after the first) on a new connection while
/// reading the answer; the answer up to the end of its JSON body (or the close).
async fn exchange(addr: std::net::SocketAddr, head: &str, chunks: Vec<Vec<u8>>, pause: Duration) -> String {
    let (mut read, mut write) = TcpStream::connect(addr).await.unwrap().into_split();
    let head = head.to_string();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        for (i, c) in chunks.iter().enumerate() {
            write.write_all(c).await?;
            if i == 0 {
                tokio::time::sleep(pause).await;
            }
        }
        Ok::<_, std::io::Error>(write)
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains('}') {
        match tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_cap_are_shed_and_a_slow_body_is_a_408() {
    let site = start(|l| l.max_in_flight = 1).await;
    let url = format!("http://{}", site.server.addr);
    let client = reqwest::Client::new();
    let addr = site.server.addr;
    let slow = tokio::spawn(async move {
        let head = "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";
        exchange(
            addr,
            head,
            vec![b"{\"a\":".to_vec(), b"1}".to_vec()],
            Duration::from_secs(4),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shed = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()["retry-after"], "5");
    assert_eq!(shed.headers()["content-type"], "application/problem+json");
    assert_eq!(shed.json::<Value>().await.unwrap()["status"], 503);
    let slow = slow.await.unwrap();
    assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
    assert!(slow.contains("application/problem+json"), "{slow}");
    assert!(slow.contains("did not arrive in time"), "{slow}");
    let after = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::OK, "the slot is free again");
    site.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_their_cap_are_the_problem_413_and_large_ones_together_meet_the_budget() {
    let site = start(|l| l.body_budget = 1024 * 1024).await;
    let url = format!("http://{}", site.server.addr);
    let client = reqwest::Client::new();
    // Declared too large: refused before a byte of the body is read.
    let mut raw = TcpStream::connect(site.server.addr).await.unwrap();
    raw.write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 26214401\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    // A login link request over 64 KiB, a command over twice its own cap: the same problem 413.
    for (path, size) in [("/v1/login-links", 70 * 1024), ("/v1/commands", 200 * 1024)] {
        let r = client
            .post(format!("{url}{path}"))
            .bearer_auth(ADMIN)
            .header("content-type", "application/json")
            .body(vec![b' '; size])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains("larger than") && body["status"] == 413,
            "{path}: {body}"
        );
    }
    // Without a credential the body is not even read: the credential is checked first, so the
    // answer comes while the 70 KiB body is still unsent (a client still sending it may see the
    // connection closed under it, which is why this is asked on a raw connection).
    let mut raw = TcpStream::connect(site.server.addr).await.unwrap();
    raw.write_all(b"POST /accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 71680\r\n\r\n")
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(3), raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // Streamed without a length, past the shared budget (1 MiB here): answered 503.
    let mut chunks = Vec::new();
    for _ in 0..40 {
        let mut c = format!("{:x}\r\n", 64 * 1024).into_bytes();
        c.extend_from_slice(&[b'x'; 64 * 1024]);
        c.extend_from_slice(b"\r\n");
        chunks.push(c);
    }
    let head = "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let answer = exchange(site.server.addr, head, chunks, Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 5"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    site.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_body_past_25_mb_is_cut_with_the_problem_413() {
    let site = start(|l| l.body_budget = 64 * 1024 * 1024).await;
    let stream = TcpStream::connect(site.server.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // Chunked, so no length announces it: 27 chunks of 1 MiB, as fast as the server takes them.
    let writer = tokio::spawn(async move {
        let head = b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        write.write_all(head).await?;
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..27 {
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            write.write_all(&chunk).await?;
            write.write_all(b"\r\n").await?;
        }
        write.write_all(b"0\r\n\r\n").await
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("}") {
        match tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&got);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("application/problem+json") && answer.contains("larger than"),
        "{answer}"
    );
    writer.abort();
    let health = reqwest::get(format!("http://{}/healthz", site.server.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    site.server.shutdown().await;
}
