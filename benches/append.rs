//! The event log against its anchors, side by side in one run: a raw sled `insert` + `flush` per
//! operation of the same bytes, and an SQLite events table (WAL, synchronous=FULL,
//! UNIQUE(stream, version)); our durable append with 1, 4, 16 and 64 concurrent writers;
//! batches of 1, 10 and 100 events; `read_all` against raw sled scans of the same records, as
//! the log stores them (segments) and one key per event.
//!
//! `cargo bench --bench append`; results and ratios in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use forgelink_events::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const WRITERS: [usize; 4] = [1, 4, 16, 64];

fn event() -> Event {
    Event::LinkFailed(LinkFailed {
        attempt_id: Some(Uuid::new_v4()),
        reason: "GitHub answered 500 for 2 minutes".into(),
    })
}

/// The bytes our log stores for one such event, so the anchors write the same amount.
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

/// Runs `iters` durable appends of one event each, spread over `writers` tasks, each on its own
/// stream with an exact expected version.
async fn append_concurrently(log: &EventLog, writers: usize, iters: u64) -> Duration {
    let per = iters.div_ceil(writers as u64);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
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

/// Criterion asked for `iters` operations; spreading them over writers may have done a few more.
fn per_iteration(elapsed: Duration, iters: u64, done: u64) -> Duration {
    elapsed.mul_f64(iters as f64 / done as f64)
}

fn durable_writes(c: &mut Criterion) {
    let bytes = sample_bytes();
    let mut g = c.benchmark_group("durable_write_1_event");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));

    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("raw")).unwrap();
    let tree = db.open_tree("raw").unwrap();
    let mut n = 0u64;
    g.bench_function("raw_sled_insert_flush", |b| {
        b.iter(|| {
            n += 1;
            tree.insert(n.to_be_bytes(), bytes.as_slice()).unwrap();
            db.flush().unwrap();
        })
    });

    let sqlite = Arc::new(Mutex::new(sqlite_open(&dir.path().join("events.sqlite"))));
    let rt = runtime();
    for writers in WRITERS {
        let conn = sqlite.clone();
        let bytes = bytes.clone();
        g.bench_with_input(
            BenchmarkId::new("sqlite_wal_full", writers),
            &writers,
            |b, &writers| b.iter_custom(|iters| sqlite_concurrently(&conn, &bytes, writers, iters)),
        );
    }

    let log = EventLog::open(dir.path().join("log"), LogOptions::default()).unwrap();
    for writers in WRITERS {
        g.bench_with_input(
            BenchmarkId::new("forgelink_append", writers),
            &writers,
            |b, &writers| b.iter_custom(|iters| rt.block_on(append_concurrently(&log, writers, iters))),
        );
    }
    // The lone writer with the writer polling its queue for 30 us before it sleeps
    // (LogOptions::idle_spin), in the same run: what the poll saves or costs.
    let spin = EventLog::open(
        dir.path().join("log-spin"),
        LogOptions {
            idle_spin: Duration::from_micros(30),
            ..LogOptions::default()
        },
    )
    .unwrap();
    g.bench_function(BenchmarkId::new("forgelink_append_idle_spin_30us", 1), |b| {
        b.iter_custom(|iters| rt.block_on(append_concurrently(&spin, 1, iters)))
    });
    g.finish();
}

fn sqlite_open(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE IF NOT EXISTS events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL,
           version INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE(stream, version));",
    )
    .unwrap();
    conn
}

/// The SQLite anchor: each writer thread inserts one event per transaction (autocommit) on its
/// own stream; one connection shared under a mutex, as SQLite serialises writers anyway.
fn sqlite_concurrently(
    conn: &Arc<Mutex<rusqlite::Connection>>,
    bytes: &[u8],
    writers: usize,
    iters: u64,
) -> Duration {
    let per = iters.div_ceil(writers as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..writers {
            s.spawn(|| {
                let stream = Uuid::new_v4().to_string();
                for v in 1..=per {
                    let c = conn.lock().unwrap();
                    c.execute(
                        "INSERT INTO events (stream, version, data) VALUES (?1, ?2, ?3)",
                        rusqlite::params![stream, v as i64, bytes],
                    )
                    .unwrap();
                }
            });
        }
    });
    per_iteration(start.elapsed(), iters, per * writers as u64)
}

fn batches(c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_append_batch");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let rt = runtime();
    for size in [1usize, 10, 100] {
        g.throughput(Throughput::Elements(size as u64));
        let stream = StreamId::account(Uuid::new_v4());
        g.bench_with_input(BenchmarkId::new("events_per_append", size), &size, |b, &size| {
            b.iter(|| {
                rt.block_on(log.append(
                    &stream,
                    ExpectedVersion::Any,
                    vec![event(); size],
                    Uuid::new_v4(),
                    Metadata::new("bench"),
                ))
                .unwrap()
            })
        });
    }
    g.finish();
}

fn reads(c: &mut Criterion) {
    const EVENTS: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(
        dir.path(),
        LogOptions {
            durability: Durability::Async,
            ..LogOptions::default()
        },
    )
    .unwrap();
    let rt = runtime();
    rt.block_on(async {
        for chunk in 0..EVENTS / 100 {
            let stream = StreamId::account(Uuid::from_u128(chunk as u128 % 1000 + 1));
            log.append(
                &stream,
                ExpectedVersion::Any,
                vec![event(); 100],
                Uuid::new_v4(),
                Metadata::new("bench"),
            )
            .await
            .unwrap();
        }
    });
    log.flush().unwrap();
    drop(log);
    // Two raw anchors, neither decoding anything: a scan of the very tree our log keeps its
    // segments in (the floor of any reader), and a scan of the same records stored one sled key
    // per event (what a log without segments would read; the anchor of earlier runs).
    let db = sled::open(dir.path()).unwrap();
    let tree = db.open_tree("events").unwrap();
    let per_event = db.open_tree("raw_one_key_per_event").unwrap();
    for kv in tree.range([b'g']..[b'h']) {
        let (key, v) = kv.unwrap();
        let first = u64::from_be_bytes(key[1..9].try_into().unwrap());
        for (i, record) in segment_records(&v).into_iter().enumerate() {
            per_event
                .insert((first + i as u64).to_be_bytes(), record)
                .unwrap();
        }
    }
    assert_eq!(per_event.len() as u64, EVENTS);

    let mut g = c.benchmark_group("read_all_100k");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(EVENTS));
    g.bench_function("raw_sled_scan_segments", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for kv in tree.range([b'g']..[b'h']) {
                let (_, v) = kv.unwrap();
                bytes += v.len();
            }
            assert!(bytes > 0);
            bytes
        })
    });
    g.bench_function("raw_sled_scan_one_key_per_event", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for kv in per_event.iter() {
                let (_, v) = kv.unwrap();
                bytes += v.len();
            }
            assert!(bytes > 0);
            bytes
        })
    });
    drop((tree, per_event));
    drop(db);
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    // The borrowed reader: every event's header fields, no payload decoded.
    g.bench_function("forgelink_read_all_raw", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for segment in log.read_all_raw(1) {
                for event in segment.unwrap().events() {
                    let event = event.unwrap();
                    std::hint::black_box((event.stream_id(), event.event_type(), event.data()));
                    sum += event.position();
                }
            }
            assert_eq!(sum, EVENTS * (EVENTS + 1) / 2);
            sum
        })
    });
    g.bench_function("forgelink_read_all", |b| {
        b.iter(|| {
            let sum: u64 = log.read_all(1).map(|e| e.unwrap().position).sum();
            assert_eq!(sum, EVENTS * (EVENTS + 1) / 2);
            sum
        })
    });
    g.finish();
}

/// The records of one stored segment (`events/src/log/segment.rs`: format byte, count, end
/// offsets, records back to back).
fn segment_records(v: &[u8]) -> Vec<&[u8]> {
    let count = u32::from_be_bytes(v[1..5].try_into().unwrap()) as usize;
    let body = &v[5 + 4 * count..];
    let mut start = 0;
    (0..count)
        .map(|i| {
            let end = u32::from_be_bytes(v[5 + 4 * i..9 + 4 * i].try_into().unwrap()) as usize;
            let r = &body[start..end];
            start = end;
            r
        })
        .collect()
}

criterion_group!(benches, durable_writes, batches, reads);
criterion_main!(benches);
