//! The accept loop (in place of `axum::serve`, which runs no timer): HTTP/1.1 with a timeout for
//! reading a request's headers (a client that trickles them, "slow loris", is cut off), a cap
//! on open connections (one over the cap is answered 503 with `Retry-After` and closed at once,
//! without reading it), and graceful shutdown. The cap on requests in flight, the body caps and
//! the body read deadline are layers of the router (`limits`). [`ServerLimits`] holds them all.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The bounds of one server (see README, "Running behind a reverse proxy").
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Open connections at most; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Requests being handled at once at most; one more is answered 503 (load shedding).
    pub max_in_flight: usize,
    /// A request's headers must arrive within this (also an idle keep-alive connection's limit).
    pub header_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
    /// The bytes of request bodies all requests in flight may hold together.
    pub body_budget: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 1024,
            max_in_flight: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            body_budget: 64 * 1024 * 1024,
        }
    }
}

/// The answer to a connection over the cap, written before anything is read.
fn over_capacity() -> Vec<u8> {
    let body = format!(
        r#"{{"error":"the server is busy: too many open connections","hint":"try again in {} seconds"}}"#,
        super::limits::RETRY_AFTER_SECS
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        super::limits::RETRY_AFTER_SECS,
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `stop` resolves; open connections then get `grace` to end.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut stop => break,
        };
        let mut stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let answer = over_capacity();
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer)).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::info!("open connections did not end within the grace period");
    }
}
