//! The load driver's HTTP client: command messages (each with its own `command_id`, sent again
//! with the same id when the server died under it), queries, the callback a browser follows, and
//! webhook deliveries. Every 2xx it gets is written down, so the end can check the log holds it.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long one request is tried again while the server is down or restarting.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// A command the server acknowledged with a 2xx.
#[derive(Debug, Clone)]
pub struct AckedCommand {
    pub command_id: Uuid,
    pub kind: String,
    pub events: usize,
    pub positions: Option<(u64, u64)>,
}

/// A webhook delivery the server acknowledged with a 2xx, kept to be sent again at the end.
#[derive(Debug, Clone)]
pub struct AckedWebhook {
    pub provider: &'static str,
    pub delivery_id: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The positions of the commands it applied (account-level changes).
    pub applied: Vec<(Uuid, (u64, u64))>,
}

#[derive(Default)]
pub struct Counts {
    pub commands_acked: AtomicU64,
    pub webhooks_sent: AtomicU64,
    pub webhooks_acked: AtomicU64,
    pub duplicates_sent: AtomicU64,
    pub duplicates_dropped: AtomicU64,
    pub callbacks_acked: AtomicU64,
    pub retries: AtomicU64,
}

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub counts: Counts,
    pub acked_commands: Mutex<Vec<AckedCommand>>,
    pub acked_webhooks: Mutex<Vec<AckedWebhook>>,
}

/// A refusal (4xx) with the server's body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Api {
    pub fn new(base: String, token: &str) -> Api {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client");
        Api {
            http,
            base,
            token: token.to_string(),
            counts: Counts::default(),
            acked_commands: Mutex::new(Vec::new()),
            acked_webhooks: Mutex::new(Vec::new()),
        }
    }

    async fn pause(&self) {
        self.counts.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    /// Sends `message` with a fresh `command_id` until it is answered (not a 5xx, not a dead
    /// connection); Ok with the reply on a 2xx.
    pub async fn command(&self, message: Value) -> Result<Value, Refused> {
        self.command_with_id(Uuid::new_v4(), message).await
    }

    pub async fn command_with_id(&self, command_id: Uuid, message: Value) -> Result<Value, Refused> {
        self.command_within(command_id, message, Duration::from_secs(20))
            .await
    }

    /// Like [`Api::command_with_id`], for a command that may take long to answer (a
    /// reconciliation of every account): each attempt waits up to `patience`.
    pub async fn command_within(
        &self,
        command_id: Uuid,
        mut message: Value,
        patience: Duration,
    ) -> Result<Value, Refused> {
        message["command_id"] = json!(command_id);
        let kind = message["type"].as_str().unwrap_or("?").to_string();
        let deadline = Instant::now() + RETRY_FOR.max(patience);
        loop {
            let sent = self
                .http
                .post(format!("{}/v1/commands", self.base))
                .bearer_auth(&self.token)
                .timeout(patience)
                .json(&message)
                .send()
                .await;
            if let Ok(r) = sent {
                let status = r.status();
                let body = r.json::<Value>().await;
                match (status, body) {
                    (s, Ok(body)) if s.is_success() => {
                        self.counts.commands_acked.fetch_add(1, Ordering::Relaxed);
                        lock(&self.acked_commands).push(AckedCommand {
                            command_id,
                            kind,
                            events: body["events"].as_array().map_or(0, Vec::len),
                            positions: positions(&body["positions"]),
                        });
                        return Ok(body);
                    }
                    (s, Ok(body)) if s.is_client_error() => {
                        return Err(Refused {
                            status: s.as_u16(),
                            body,
                        })
                    }
                    _ => {}
                }
            }
            if Instant::now() > deadline {
                return Err(Refused {
                    status: 0,
                    body: json!({"error": format!("{kind}: no answer within {RETRY_FOR:?}")}),
                });
            }
            self.pause().await;
        }
    }

    /// A query with the admin token, tried again while the server is away.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let deadline = Instant::now() + RETRY_FOR;
        loop {
            let sent = self
                .http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await;
            if let Ok(r) = sent {
                let status = r.status();
                if !status.is_server_error() {
                    if let Ok(body) = r.json::<Value>().await {
                        return (status.as_u16(), body);
                    }
                }
            }
            if Instant::now() > deadline {
                return (0, Value::Null);
            }
            self.pause().await;
        }
    }

    /// Opens a link's one-time continuation URL as a fresh browser, tried again while the server
    /// is away: the provider's approval URL and the link cookie to send back to the callback
    /// (`None` when the URL was already spent, e.g. its answer was lost with a killed server).
    pub async fn open_continuation(&self, url: &str) -> Option<(String, Option<String>)> {
        let deadline = Instant::now() + RETRY_FOR;
        loop {
            if let Ok(r) = self.http.get(url).send().await {
                if r.status() == StatusCode::SEE_OTHER {
                    let cookie = r
                        .headers()
                        .get("set-cookie")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.split(';').next())
                        .map(str::to_string);
                    let to = r.headers().get("location")?.to_str().ok()?.to_string();
                    return Some((to, cookie));
                }
                if !r.status().is_server_error() {
                    return None;
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            self.pause().await;
        }
    }

    /// Follows the provider's redirect to our callback as a browser does, with the link cookie;
    /// the status answered (303 when accepted), tried again while the server is away.
    pub async fn callback(&self, url: &str, cookie: Option<&str>) -> u16 {
        let deadline = Instant::now() + RETRY_FOR;
        loop {
            let mut request = self.http.get(url);
            if let Some(c) = cookie {
                request = request.header("cookie", c);
            }
            if let Ok(r) = request.send().await {
                let status = r.status();
                if !status.is_server_error() {
                    if status == StatusCode::SEE_OTHER {
                        self.counts.callbacks_acked.fetch_add(1, Ordering::Relaxed);
                    }
                    return status.as_u16();
                }
            }
            if Instant::now() > deadline {
                return 0;
            }
            self.pause().await;
        }
    }

    /// Posts a webhook delivery once (a provider does not wait for us); the answer if any.
    pub async fn deliver(
        &self,
        provider: &'static str,
        delivery_id: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Option<Value> {
        self.counts.webhooks_sent.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .http
            .post(format!("{}/webhooks/{provider}", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let r = req.send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        let answer = r.json::<Value>().await.ok()?;
        self.counts.webhooks_acked.fetch_add(1, Ordering::Relaxed);
        if answer["duplicate"] == json!(true) {
            self.counts.duplicates_dropped.fetch_add(1, Ordering::Relaxed);
        }
        let applied = answer["applied"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|reply| {
                let id = reply["command_id"]
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())?;
                Some((id, positions(&reply["positions"])?))
            })
            .collect();
        lock(&self.acked_webhooks).push(AckedWebhook {
            provider,
            delivery_id: delivery_id.to_string(),
            headers: headers.to_vec(),
            body: body.to_vec(),
            applied,
        });
        Some(answer)
    }

    pub fn acked_commands(&self) -> Vec<AckedCommand> {
        lock(&self.acked_commands).clone()
    }

    pub fn acked_webhooks(&self) -> Vec<AckedWebhook> {
        lock(&self.acked_webhooks).clone()
    }
}

fn positions(v: &Value) -> Option<(u64, u64)> {
    Some((v[0].as_u64()?, v[1].as_u64()?))
}
