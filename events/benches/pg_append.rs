//! The PostgreSQL event store against its anchor, side by side in one run: a raw autocommitted
//! `INSERT` (INSERT + COMMIT, one round trip and one WAL flush) of the same record bytes into a
//! table with the same key and uniqueness (position, UNIQUE(stream, version)), from 1 and from
//! 64 connections, and our durable append (lock the head row, check, insert, COMMIT) from 1
//! and 64 concurrent writers of one process, which group-commits them.
//!
//! `cargo bench -p forgelink-events --bench pg_append`; needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust),
//! creates and drops its own database. Results and ratios in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use forgelink_events::pg_testing::test_database;
use forgelink_events::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;
use uuid::Uuid;

const WRITERS: [usize; 2] = [1, 64];

fn event() -> Event {
    Event::LinkFailed(LinkFailed {
        attempt_id: Some(Uuid::new_v4()),
        reason: "GitHub answered 500 for 2 minutes".into(),
    })
}

/// About the bytes our log stores for one such event, so the anchor writes the same amount.
fn sample_bytes() -> Vec<u8> {
    let env = Envelope {
        position: 1,
        stream_id: StreamId::account(Uuid::new_v4()),
        stream_version: 1,
        event_id: Uuid::new_v4(),
        stored_schema_version: 1,
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        recorded_at: chrono::Utc::now(),
        actor: "bench".into(),
        event: event(),
    };
    env.to_json().into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `iters` operations spread over `writers` tasks (each does `per`, rounded up).
fn per_iteration(elapsed: Duration, iters: u64, done: u64) -> Duration {
    elapsed.mul_f64(iters as f64 / done.max(1) as f64)
}

async fn raw_clients(url: &str, n: usize) -> Vec<Arc<tokio_postgres::Client>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(conn);
        clients.push(Arc::new(c));
    }
    clients
}

/// `iters` autocommitted INSERTs over `clients.len()` connections, each on its own stream.
async fn raw_inserts(clients: &[Arc<tokio_postgres::Client>], iters: u64) -> Duration {
    let per = iters.div_ceil(clients.len() as u64);
    let bytes = sample_bytes();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in clients {
        let (c, bytes) = (c.clone(), bytes.clone());
        let stream = Uuid::new_v4().to_string();
        tasks.push(tokio::spawn(async move {
            let st = c
                .prepare("INSERT INTO raw_events (stream_id, stream_version, record) VALUES ($1, $2, $3)")
                .await
                .unwrap();
            for v in 0..per {
                c.execute(&st, &[&stream, &(v as i64), &bytes]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    per_iteration(start.elapsed(), iters, per * clients.len() as u64)
}

async fn appends(log: &PgLog, writers: usize, iters: u64) -> Duration {
    let per = iters.div_ceil(writers as u64);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::account(Uuid::new_v4());
            for v in 0..per {
                log.append(
                    &stream,
                    ExpectedVersion::Exact(v),
                    vec![event()],
                    Uuid::new_v4(),
                    Metadata::new("bench"),
                )
                .await
                .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    per_iteration(start.elapsed(), iters, per * writers as u64)
}

fn pg_append(c: &mut Criterion) {
    let Some(db) = test_database() else { return };
    let rt = runtime();
    let url = db.url().to_string();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(
            "CREATE TABLE raw_events (position bigserial PRIMARY KEY, stream_id text NOT NULL, \
             stream_version bigint NOT NULL, record bytea NOT NULL, UNIQUE (stream_id, stream_version))",
        )
        .await
        .unwrap();
    });
    let log = PgLog::open(&url, PgOptions::default()).unwrap();
    let mut g = c.benchmark_group("pg_append");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    for writers in WRITERS {
        let clients = rt.block_on(raw_clients(&url, writers));
        g.bench_with_input(
            BenchmarkId::new("raw_insert_commit", writers),
            &writers,
            |b, _| {
                b.to_async(&rt).iter_custom(|iters| {
                    let clients = &clients;
                    async move { raw_inserts(clients, iters).await }
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("append", writers), &writers, |b, &w| {
            b.to_async(&rt).iter_custom(|iters| {
                let log = log.clone();
                async move { appends(&log, w, iters).await }
            })
        });
    }
    g.finish();
    drop(log);
}

criterion_group!(benches, pg_append);
criterion_main!(benches);
