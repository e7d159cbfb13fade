//! Probe: appends per second with N concurrent writers, durable and not, to see where the
//! writer's time goes. `cargo run --release -p forgelink-events --example writer_probe`

use forgelink_events::*;
use std::time::Instant;
use uuid::Uuid;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for durability in [Durability::Async, Durability::Flush] {
        for writers in [1usize, 16, 64] {
            let dir = tempfile::tempdir().unwrap();
            let log = EventLog::open(
                dir.path(),
                LogOptions {
                    durability,
                    ..LogOptions::default()
                },
            )
            .unwrap();
            let per = if durability == Durability::Flush {
                4000 / writers
            } else {
                40000 / writers
            };
            let start = Instant::now();
            rt.block_on(async {
                let mut tasks = Vec::new();
                for _ in 0..writers {
                    let log = log.clone();
                    tasks.push(tokio::spawn(async move {
                        let s = StreamId::account(Uuid::new_v4());
                        for v in 0..per as u64 {
                            let e = Event::LinkFailed(LinkFailed {
                                attempt_id: None,
                                reason: "x".into(),
                            });
                            log.append(
                                &s,
                                ExpectedVersion::Exact(v),
                                vec![e],
                                Uuid::new_v4(),
                                Metadata::new("p"),
                            )
                            .await
                            .unwrap();
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
            let n = (per * writers) as f64;
            let el = start.elapsed();
            println!(
                "{durability:?} writers={writers}: {:.0} appends/s ({:.1} us each)",
                n / el.as_secs_f64(),
                el.as_secs_f64() * 1e6 / n
            );
            let t = Instant::now();
            let c = log.read_all(1).count();
            println!(
                "  read_all {c}: {:.2} us/event",
                t.elapsed().as_secs_f64() * 1e6 / c as f64
            );
        }
    }
}
