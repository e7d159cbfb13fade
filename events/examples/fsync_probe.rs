//! Probe: what one durable write costs on this disk, by how it is made durable. sled's `flush`
//! ends in `File::sync_all` (fsync: data and metadata), SQLite's WAL commit in `fdatasync`
//! (data, and metadata only when the file's size changed). Each round writes 512 bytes at the
//! end of a file preallocated to 64 MiB (as sled's segments and SQLite's WAL are), then syncs.
//!
//! `cargo run --release -p forgelink-events --example fsync_probe` (`PROBE_ROUNDS`, default 2000)

use std::io::{Seek, SeekFrom, Write};
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::var("PROBE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let block = [7u8; 512];
    // Interleaved, so both see the same load.
    let mut totals = [0f64; 3];
    let names = [
        "fsync (sync_all, as sled)",
        "fdatasync (sync_data, as SQLite)",
        "fsync, file growing",
    ];
    let mut files: Vec<std::fs::File> = (0..3)
        .map(|i| {
            let f = std::fs::File::create(dir.path().join(format!("f{i}"))).expect("a file");
            if i < 2 {
                f.set_len(64 << 20).expect("preallocate");
                f.sync_all().expect("sync");
            }
            f
        })
        .collect();
    for round in 0..rounds {
        for (i, f) in files.iter_mut().enumerate() {
            let t = Instant::now();
            f.seek(SeekFrom::Start((round * 512) as u64)).expect("seek");
            f.write_all(&block).expect("write");
            if i == 1 {
                f.sync_data().expect("fdatasync");
            } else {
                f.sync_all().expect("fsync");
            }
            totals[i] += t.elapsed().as_secs_f64();
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("{rounds} rounds, load average {}", load.trim());
    for (name, total) in names.iter().zip(totals) {
        println!("{name}: {:.1} us per write+sync", total * 1e6 / rounds as f64);
    }
}
