//! A small typed client of forgelink's HTTP API, as an integrator uses it: a base URL and a
//! bearer token (admin to send commands, viewer or admin to read). The command line's
//! `--server` mode and the tests go through it, so the API is exercised the way others call it.
//!
//! Every refusal becomes a [`ClientError`] that says what the server answered (its status, its
//! message, the input field it named and its hint), never a bare status code; the token never
//! appears in an error or a `Debug` print.

mod stream;

use crate::secret::Secret;
use forgelink_events::Provider;
use forgelink_projections::{AccountRow, AccountStatus};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

pub use stream::{EventStream, StreamedEvent};

/// Accounts asked for per request when listing (the server's page is at most 10,000).
const ACCOUNTS_PAGE: usize = 1000;

/// What went wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered (refused connection, DNS, timeout, TLS).
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The server answered with an error status.
    #[error("the server answered {status} to {what}: {message}")]
    Refused {
        status: StatusCode,
        /// `GET /v1/accounts` and the like.
        what: String,
        /// The server's own words, with the field and the hint it gave.
        message: String,
        /// The answer's JSON body, when it was JSON.
        body: Option<Value>,
    },
    /// The server answered success with something this client cannot read.
    #[error("the answer of {what} is not what forgelink answers: {detail}")]
    Unreadable { what: String, detail: String },
    /// A base URL that is not an http(s) URL.
    #[error("`{0}` is not a server address like http://127.0.0.1:8080")]
    BadBaseUrl(String),
}

/// Which accounts [`Client::accounts`] lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountsFilter {
    pub provider: Option<Provider>,
    pub status: Option<AccountStatus>,
}

/// An account's audit history as `GET /v1/accounts/{id}/history` answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct History {
    pub account_id: uuid::Uuid,
    pub name: String,
    /// One object per event, oldest first: `position`, `sentence`, `event_type`, `actor`, ...
    pub history: Vec<Value>,
    /// The point asked for (`{"position": N}` or `{"time": T}`), if any.
    #[serde(default)]
    pub as_of: Option<Value>,
    /// The account at that point (or now); `None` when it did not exist yet.
    #[serde(default)]
    pub state: Option<AccountRow>,
}

/// Which deliveries [`Client::deliveries`] lists.
#[derive(Debug, Clone, Default)]
pub struct DeliveriesFilter {
    /// `pending`, `done` or `parked`.
    pub state: Option<String>,
    pub provider: Option<Provider>,
    pub limit: Option<usize>,
}

/// A forgelink server and the token to call it with.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`) with a bearer token.
    pub fn new(base_url: &str, token: impl Into<Secret>) -> Result<Client, ClientError> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base).map_err(|_| ClientError::BadBaseUrl(base_url.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ClientError::BadBaseUrl(base_url.into()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("forgelink-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: base.clone(),
                detail: e.to_string(),
            })?;
        Ok(Client {
            http,
            base,
            token: token.into(),
        })
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose())
    }

    /// Sends `request` and returns the response when its status is a success.
    async fn send(&self, what: &str, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            detail: without_url(&e),
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Option<Value> = serde_json::from_str(&text).ok();
        Err(ClientError::Refused {
            status,
            what: what.to_string(),
            message: refusal_words(body.as_ref(), &text),
            body,
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        request: RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self.send(what, request).await?;
        let bytes = response.bytes().await.map_err(|e| ClientError::Unreadable {
            what: what.into(),
            detail: without_url(&e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Unreadable {
            what: what.into(),
            detail: e.to_string(),
        })
    }

    /// `POST /v1/commands` (admin token): one command message; the server's reply.
    pub async fn execute(&self, message: &Value) -> Result<Value, ClientError> {
        self.execute_raw(message.to_string().into_bytes()).await
    }

    /// As [`Client::execute`], with the message as JSON text (sent as it is).
    pub async fn execute_raw(&self, body: Vec<u8>) -> Result<Value, ClientError> {
        let request = self
            .request(Method::POST, "/v1/commands")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.json("POST /v1/commands", request).await
    }

    /// `GET /v1/accounts`, every page: the accounts in name order.
    pub async fn accounts(&self, filter: AccountsFilter) -> Result<Vec<AccountRow>, ClientError> {
        #[derive(Deserialize)]
        struct Page {
            accounts: Vec<AccountRow>,
            next_offset: Option<usize>,
        }
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let mut query = vec![
                ("limit", ACCOUNTS_PAGE.to_string()),
                ("offset", offset.to_string()),
            ];
            query.extend(filter.provider.map(|p| ("provider", p.as_str().to_string())));
            query.extend(filter.status.map(|s| ("status", s.to_string())));
            let request = self.request(Method::GET, "/v1/accounts").query(&query);
            let page: Page = self.json("GET /v1/accounts", request).await?;
            all.extend(page.accounts);
            match page.next_offset {
                Some(next) if next > offset => offset = next,
                _ => return Ok(all),
            }
        }
    }

    /// `GET /v1/accounts/{name}`: one account by its unique name (or id); `None` if unknown.
    pub async fn account(&self, name: &str) -> Result<Option<AccountRow>, ClientError> {
        let path = format!("/v1/accounts/{}", segment(name));
        not_found_is_none(
            self.json(&format!("GET {path}"), self.request(Method::GET, &path))
                .await,
        )
    }

    /// `GET /v1/accounts/{name}/history[?as_of=]`: the audit history, and the account's state
    /// at `as_of` (a position or a time, as `forgelink history --as-of` takes it) or now.
    /// `None` when no account has that name.
    pub async fn history(&self, name: &str, as_of: Option<&str>) -> Result<Option<History>, ClientError> {
        let path = format!("/v1/accounts/{}/history", segment(name));
        let mut request = self.request(Method::GET, &path);
        if let Some(point) = as_of {
            request = request.query(&[("as_of", point)]);
        }
        not_found_is_none(self.json(&format!("GET {path}"), request).await)
    }

    /// `GET /v1/deliveries`: the webhook inbox, newest first, and the counts per state, as
    /// `{"deliveries": [...], "count": n, "counts": {"pending", "done", "parked"}}`.
    pub async fn deliveries(&self, filter: &DeliveriesFilter) -> Result<Value, ClientError> {
        let mut query = Vec::new();
        query.extend(filter.limit.map(|l| ("limit", l.to_string())));
        query.extend(filter.state.clone().map(|s| ("state", s)));
        query.extend(filter.provider.map(|p| ("provider", p.as_str().to_string())));
        let request = self.request(Method::GET, "/v1/deliveries").query(&query);
        self.json("GET /v1/deliveries", request).await
    }

    /// `POST /v1/deliveries/{id}/retry` (admin), or every parked one with `None`:
    /// `{"count": n}`.
    pub async fn retry_deliveries(&self, id: Option<u64>) -> Result<Value, ClientError> {
        let path = match id {
            Some(id) => format!("/v1/deliveries/{id}/retry"),
            None => "/v1/deliveries/retry-parked".to_string(),
        };
        self.json(&format!("POST {path}"), self.request(Method::POST, &path))
            .await
    }

    /// `GET /v1/export`: the whole log as JSON Lines, written to `out` as it arrives, byte
    /// for byte as `forgelink export` writes it. Returns how many events (lines) came.
    pub async fn export(&self, out: &mut impl std::io::Write) -> Result<u64, ClientError> {
        let what = "GET /v1/export";
        let mut response = self.send(what, self.request(Method::GET, "/v1/export")).await?;
        let mut lines = 0;
        let unreadable = |detail: String| ClientError::Unreadable {
            what: what.into(),
            detail,
        };
        while let Some(chunk) = response.chunk().await.map_err(|e| unreadable(without_url(&e)))? {
            lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            out.write_all(&chunk).map_err(|e| unreadable(e.to_string()))?;
        }
        out.flush().map_err(|e| unreadable(e.to_string()))?;
        Ok(lines)
    }

    /// `GET /v1/projections/verify` (admin): the live dashboard compared with a rebuild from
    /// the log, `{"position": P, "differences": [{"key", "field", "live", "rebuilt"}]}`.
    pub async fn verify(&self) -> Result<Value, ClientError> {
        let path = "/v1/projections/verify";
        self.json(&format!("GET {path}"), self.request(Method::GET, path))
            .await
    }

    /// `GET /v1/events?from=&limit=`: one page of envelopes, `{"events", "next", "head"}`.
    pub async fn events(&self, from: u64, limit: usize) -> Result<Value, ClientError> {
        let request = self
            .request(Method::GET, "/v1/events")
            .query(&[("from", from.to_string()), ("limit", limit.to_string())]);
        self.json("GET /v1/events", request).await
    }

    /// `GET /v1/events/stream?from=`: every envelope from `from` on (or, with `None`, from now
    /// on) as it commits. The stream resumes after the last event it gave when the connection
    /// drops.
    pub async fn follow(&self, from: Option<u64>) -> Result<EventStream, ClientError> {
        EventStream::open(self.clone(), from).await
    }
}

/// A 404 answer as `None`.
fn not_found_is_none<T>(answer: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match answer {
        Ok(found) => Ok(Some(found)),
        Err(ClientError::Refused { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
        Err(e) => Err(e),
    }
}

/// A path segment with the characters a name may hold escaped.
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// reqwest's message without the URL it carries (the query could hold something private).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    }
    .to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The server's words from an error body: `{"error"|"detail"|"title", "field", "hint"}` (the
/// API's JSON errors, or an RFC 9457 problem), else the text itself.
fn refusal_words(body: Option<&Value>, text: &str) -> String {
    let Some(b) = body else {
        let t = text.trim();
        return if t.is_empty() {
            "(no message)".into()
        } else {
            t.chars().take(500).collect()
        };
    };
    let words = ["detail", "error", "title", "message"]
        .iter()
        .find_map(|k| b[*k].as_str())
        .map_or_else(|| b.to_string(), str::to_string);
    let mut out = words;
    if let Some(field) = b["field"].as_str() {
        out.push_str(&format!(" (field `{field}`)"));
    }
    if let Some(hint) = b["hint"].as_str() {
        out.push_str(&format!("; {hint}"));
    }
    out
}
