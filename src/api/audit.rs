//! The audit reads of the API that the command line also offers against a folder: the whole
//! log as JSON Lines (`GET /v1/export`, viewer: the same events `/v1/events` pages through,
//! byte for byte as `forgelink export` writes them) and the comparison of the live dashboard
//! with a rebuild from the log (`GET /v1/projections/verify`, admin: it replays the whole log
//! into memory, a cost only an operator should be able to ask for).

use super::error::ApiError;
use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use forgelink_projections::{Dashboard, ProjectionStore, Runner, Verification};
use std::io::Write;
use tokio::sync::mpsc;

/// Bytes gathered before one chunk of the export goes out.
const CHUNK: usize = 64 * 1024;

/// `GET /v1/export`: every event in position order, one stored envelope a line
/// (`application/x-ndjson`), streamed as it is read.
pub async fn export(State(state): State<AppState>) -> Response {
    let log = state.inner.engine.log().clone();
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            buf: Vec::with_capacity(CHUNK),
            tx: tx.clone(),
        };
        if let Err(e) = log.export(&mut out) {
            // The client sees the body end in an error, never a silently short export.
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Sends what is written in chunks down the channel; a receiver that went away ends the export.
struct ChunkWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// How often the comparison is tried again when the live dashboard moved while it ran.
const VERIFY_TRIES: usize = 5;

/// `GET /v1/projections/verify`: `{"position": P, "differences": [...]}`, the live dashboard
/// compared with a fresh rebuild from the log up to the position the live one had applied (the
/// same answer as `forgelink replay --verify --json` on a folder).
pub async fn verify(State(state): State<AppState>) -> Result<Json<Verification>, ApiError> {
    state.dashboard_current().await;
    let inner = state.inner.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<Verification, ApiError> {
        let log = inner.engine.log();
        let mut last = None;
        for _ in 0..VERIFY_TRIES {
            let position = *inner.checkpoint.borrow();
            let store = ProjectionStore::temporary().map_err(ApiError::internal)?;
            let mut rebuilt = Runner::open(&store, Dashboard::new()).map_err(ApiError::internal)?;
            rebuilt
                .catch_up_to(log, position, &mut |_, _| {})
                .map_err(ApiError::internal)?;
            let differences = inner.dashboard.differences(&rebuilt.projection().reader());
            let found = Verification {
                position,
                differences,
            };
            // Compared at one position only if the live dashboard did not move meanwhile.
            if *inner.checkpoint.borrow() == position {
                return Ok(found);
            }
            last = Some(found);
        }
        last.ok_or_else(|| ApiError::internal("the dashboard kept moving during the comparison"))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(result))
}
