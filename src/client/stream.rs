//! Following the log over `GET /v1/events/stream` (server-sent events): each event's `id` is
//! its global position and its `data` the envelope's JSON. The stream reads the SSE lines
//! itself (a few rules of the WHATWG format: `id:`, `event:`, `data:`, comments, a blank line
//! ends an event) and, when the connection drops, opens it again from after the last
//! position it gave, so a follower misses nothing.

use super::{Client, ClientError};
use reqwest::{Method, Response};
use serde_json::Value;

/// Times in a row the stream reconnects without receiving anything before it gives up.
const RECONNECTS: u32 = 3;

/// One envelope as it committed.
#[derive(Debug, Clone)]
pub struct StreamedEvent {
    pub position: u64,
    /// The envelope: `position`, `stream_id`, `type`, `data`, `recorded_at`, ...
    pub envelope: Value,
}

/// A live follower of the log; see [`Client::follow`].
pub struct EventStream {
    client: Client,
    response: Response,
    buffer: Vec<u8>,
    /// The event being read: its id and data lines so far.
    id: Option<u64>,
    data: String,
    /// The position of the last event given out.
    last: Option<u64>,
}

impl EventStream {
    pub(super) async fn open(client: Client, from: Option<u64>) -> Result<EventStream, ClientError> {
        let response = connect(&client, from).await?;
        Ok(EventStream {
            client,
            response,
            buffer: Vec::new(),
            id: None,
            data: String::new(),
            last: from.map(|f| f.saturating_sub(1)),
        })
    }

    /// The next envelope; waits for it to commit. `None` only if the server ends the stream
    /// for good (it went away and does not answer again).
    pub async fn next(&mut self) -> Option<Result<StreamedEvent, ClientError>> {
        let mut failures = 0;
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => {
                    failures = 0;
                    self.buffer.extend_from_slice(&bytes);
                }
                Ok(None) | Err(_) if failures < RECONNECTS => {
                    failures += 1;
                    // Resume after the last event given (the server's `from` is inclusive).
                    let from = self.last.map(|p| p + 1);
                    self.buffer.clear();
                    self.id = None;
                    self.data.clear();
                    match connect(&self.client, from).await {
                        Ok(r) => self.response = r,
                        Err(e) => return Some(Err(e)),
                    }
                }
                Ok(None) => return None,
                Err(e) => {
                    return Some(Err(ClientError::Unreadable {
                        what: "GET /v1/events/stream".into(),
                        detail: super::without_url(&e),
                    }))
                }
            }
        }
    }

    /// Reads whole lines from the buffer until an event is complete.
    fn take_event(&mut self) -> Option<Result<StreamedEvent, ClientError>> {
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if self.data.is_empty() {
                    continue;
                }
                let data = std::mem::take(&mut self.data);
                let id = self.id.take();
                let envelope: Value = match serde_json::from_str(&data) {
                    Ok(v) => v,
                    Err(e) => {
                        return Some(Err(ClientError::Unreadable {
                            what: "GET /v1/events/stream".into(),
                            detail: e.to_string(),
                        }))
                    }
                };
                let position = id.or_else(|| envelope["position"].as_u64()).unwrap_or(0);
                self.last = Some(position);
                return Some(Ok(StreamedEvent { position, envelope }));
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => self.id = value.trim().parse().ok(),
                "data" => {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                }
                // `event:` is always `envelope`; comments (`:`) keep the connection alive.
                _ => {}
            }
        }
        None
    }
}

async fn connect(client: &Client, from: Option<u64>) -> Result<Response, ClientError> {
    let mut request = client
        .request(Method::GET, "/v1/events/stream")
        .header(reqwest::header::ACCEPT, "text/event-stream");
    if let Some(from) = from {
        request = request.query(&[("from", from.to_string())]);
    }
    client.send("GET /v1/events/stream", request).await
}
