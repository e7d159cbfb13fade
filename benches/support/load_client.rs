//! The http_load bench's load generator, run as a CHILD PROCESS of the bench (the bench's own
//! binary started again with `FORGELINK_BENCH_LOAD_CLIENT` set), so that the server's runtime
//! and threads are not shared with the clients' tasks: the two processes still share the
//! machine's cores, but the clients run on one thread of their own and cost little (requests
//! written from one reused buffer, answers read without building a JSON value).
//!
//! The parent writes the job on the child's stdin, one `name=value` per line (`mode`, `addr`,
//! `total`, `connections`, `run`, and `secret` for webhooks or `token` for commands); the child
//! answers on stdout: `elapsed_ns=N cpu_us=N` (its own CPU time, user and system), then one
//! line per request, `i status duplicate latency_ns`.

use forgelink::secret::Secret;
use forgelink::webhooks;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes request `i` into the buffer given.
type Requests = Arc<dyn Fn(usize, &mut Vec<u8>) + Send + Sync>;

/// Set (to anything) in the child's environment.
pub const CHILD_ENV: &str = "FORGELINK_BENCH_LOAD_CLIENT";

/// The longest a phase may run.
pub const PHASE_LIMIT: Duration = Duration::from_secs(60);

/// The GitHub samples in `tests/fixtures/providers/` with the event header GitHub sends.
pub const FIXTURES: &[(&str, &str)] = &[
    ("installation", "github/installation.json"),
    (
        "installation_repositories",
        "github/installation-repositories.json",
    ),
    ("github_app_authorization", "github/github-app-authorization.json"),
    ("repository", "github/repository.json"),
    ("push", "github/push.json"),
];

/// The delivery id of delivery `i`: every tenth repeats the id (and body) of the delivery 45
/// before it, itself an original with the same sample (45 is a multiple of the sample count).
pub fn delivery_id(run: &str, i: usize) -> String {
    let original = if i >= 45 && i % 10 == 9 { i - 45 } else { i };
    format!("{run}-{original}")
}

/// One answered request, as the child reports it.
pub struct Sample {
    pub index: usize,
    pub status: u16,
    pub duplicate: bool,
    pub latency: Duration,
}

/// What a child run measured.
pub struct Run {
    pub elapsed: Duration,
    /// The CPU time the load generator itself used (user and system).
    pub client_cpu: Duration,
    pub samples: Vec<Sample>,
}

/// The CPU time this process has used so far (user and system, all its threads).
pub fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Runs the load in a child process and waits for its report. `job` is the `name=value` pairs.
pub async fn run_child(job: &[(&str, String)]) -> Run {
    let exe = std::env::current_exe().expect("this bench's path");
    let mut child = tokio::process::Command::new(exe)
        .env(CHILD_ENV, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the load generator starts");
    let mut input = String::new();
    for (k, v) in job {
        input.push_str(&format!("{k}={v}\n"));
    }
    let mut stdin = child.stdin.take().expect("the child's stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("the job is written");
    drop(stdin);
    let out = child.wait_with_output().await.expect("the load generator ends");
    assert!(out.status.success(), "the load generator failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let field = |name: &str| {
        first
            .split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('=')?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("the report starts with {name}=: {first}"))
    };
    let (elapsed, client_cpu) = (
        Duration::from_nanos(field("elapsed_ns")),
        Duration::from_micros(field("cpu_us")),
    );
    let samples = lines
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some(Sample {
                index: f.next()?.parse().ok()?,
                status: f.next()?.parse().ok()?,
                duplicate: f.next()? == "1",
                latency: Duration::from_nanos(f.next()?.parse().ok()?),
            })
        })
        .collect();
    Run {
        elapsed,
        client_cpu,
        samples,
    }
}

/// The child's main: reads the job, runs it on a one-thread runtime, writes the report.
pub fn child_main() {
    let mut job = HashMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("the job");
        if let Some((k, v)) = line.split_once('=') {
            job.insert(k.to_string(), v.to_string());
        }
    }
    let get = |k: &str| {
        job.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("the job has no {k}"))
    };
    let num = |k: &str| {
        get(k)
            .parse::<usize>()
            .unwrap_or_else(|_| panic!("{k} is a number"))
    };
    let (addr, total, connections) = (get("addr"), num("total"), num("connections"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let requests: Requests = match get("mode").as_str() {
        "webhooks" => webhook_requests(&addr, &Secret::new(get("secret")), get("run")),
        "commands" => command_requests(&addr, get("token"), get("run")),
        other => panic!("unknown mode {other}"),
    };
    let run = runtime.block_on(load(&addr, total, connections, requests));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    writeln!(
        out,
        "elapsed_ns={} cpu_us={}",
        run.elapsed.as_nanos(),
        cpu_time().as_micros()
    )
    .expect("the report");
    for s in &run.samples {
        writeln!(
            out,
            "{} {} {} {}",
            s.index,
            s.status,
            u8::from(s.duplicate),
            s.latency.as_nanos()
        )
        .expect("the report");
    }
    out.flush().expect("the report");
}

/// Request `i` of the webhook phase: a signed GitHub delivery of one of the samples.
fn webhook_requests(addr: &str, secret: &Secret, run: String) -> Requests {
    let samples: Vec<(String, Vec<u8>, String)> = FIXTURES
        .iter()
        .map(|(event, path)| {
            let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
            let body = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
            let sig = webhooks::sha256_signature(secret, &body);
            (event.to_string(), body, sig)
        })
        .collect();
    let addr = addr.to_string();
    Arc::new(move |i, out: &mut Vec<u8>| {
        let (event, body, sig) = &samples[i % samples.len()];
        out.clear();
        write!(
            out,
            "POST /webhooks/github HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             X-GitHub-Event: {event}\r\nX-GitHub-Delivery: {}\r\nX-Hub-Signature-256: {sig}\r\n\
             Content-Length: {}\r\n\r\n",
            delivery_id(&run, i),
            body.len()
        )
        .expect("a request");
        out.extend_from_slice(body);
    })
}

/// Request `i` of the command phase: `NameAccount` on a new name.
fn command_requests(addr: &str, token: String, run: String) -> Requests {
    let addr = addr.to_string();
    Arc::new(move |i, out: &mut Vec<u8>| {
        let body = format!(r#"{{"type":"NameAccount","provider":"github","unique_name":"load-{run}-{i}"}}"#);
        out.clear();
        write!(
            out,
            "POST /v1/commands HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("a request");
    })
}

/// `total` requests over `connections` keep-alive connections, each sending its next request
/// when the answer to the last one is in (a closed loop).
async fn load(addr: &str, total: usize, connections: usize, request: Requests) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (addr, next, request) = (addr.to_string(), next.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("the server accepts");
            stream.set_nodelay(true).ok();
            let (mut req, mut buf) = (Vec::with_capacity(16 * 1024), Vec::with_capacity(4096));
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || started.elapsed() > PHASE_LIMIT {
                    break;
                }
                request(i, &mut req);
                let t = Instant::now();
                let (status, body) = exchange(&mut stream, &req, &mut buf)
                    .await
                    .expect("the server answers");
                let latency = t.elapsed();
                let duplicate = find(&buf[body..], br#""duplicate":true"#).is_some();
                out.push(Sample {
                    index: i,
                    status,
                    duplicate,
                    latency,
                });
            }
            out
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await.expect("a client task"));
    }
    Run {
        elapsed: started.elapsed(),
        client_cpu: Duration::ZERO,
        samples,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes one request and reads its answer into `buf`: the status and where the body starts.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, usize)> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = find(buf, b"\r\n\r\n") else {
            continue;
        };
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
        return Ok((status, end + 4));
    }
}
