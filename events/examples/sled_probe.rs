//! Probe: what one append's sled work costs (batch vs plain inserts, gets), in release.
use std::time::Instant;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .mode(if std::env::var("HT").is_ok() {
            sled::Mode::HighThroughput
        } else {
            sled::Mode::LowSpace
        })
        .open()
        .unwrap();
    let t = db.open_tree("x").unwrap();
    let v = vec![7u8; 450];
    let n = 20000u64;
    let s = Instant::now();
    for i in 0..n {
        let mut b = sled::Batch::default();
        for k in 0..5u64 {
            b.insert(&(i * 10 + k).to_be_bytes(), v.as_slice());
        }
        t.apply_batch(b).unwrap();
    }
    println!(
        "apply_batch(5): {:.1} us",
        s.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let s = Instant::now();
    for i in 0..n {
        for k in 0..5u64 {
            t.insert((1_000_000 + i * 10 + k).to_be_bytes(), v.as_slice())
                .unwrap();
        }
    }
    println!("5 inserts: {:.1} us", s.elapsed().as_secs_f64() * 1e6 / n as f64);
    let s = Instant::now();
    for i in 0..n {
        let _ = t.get((i * 10).to_be_bytes()).unwrap();
        let _ = t.get(b"missing").unwrap();
    }
    println!("2 gets: {:.1} us", s.elapsed().as_secs_f64() * 1e6 / n as f64);
    let s = Instant::now();
    let mut b = sled::Batch::default();
    for i in 0..n * 5 {
        b.insert(&(5_000_000 + i).to_be_bytes(), v.as_slice());
    }
    t.apply_batch(b).unwrap();
    println!(
        "one batch of {}: {:.1} us per key",
        n * 5,
        s.elapsed().as_secs_f64() * 1e6 / (n * 5) as f64
    );
    for size in [16usize, 100, 450] {
        let v = vec![7u8; size];
        let s = Instant::now();
        for i in 0..n {
            t.insert(
                (9_000_000 + size as u64 * 1_000_000 + i).to_be_bytes(),
                v.as_slice(),
            )
            .unwrap();
        }
        println!(
            "insert {size} B: {:.1} us",
            s.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
    let s = Instant::now();
    for _ in 0..n {
        let _ = uuid::Uuid::new_v4();
    }
    println!("uuid v4: {:.2} us", s.elapsed().as_secs_f64() * 1e6 / n as f64);
}
