//! The projections bench's measurements of memory (resident memory from /proc/self/status and
//! the live heap) and of query latency on a rebuilt dashboard, and the machine's load average.

use super::*;

/// The machine's 1-minute load average, as the kernel reports it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The process's resident memory (VmRSS), in bytes.
pub fn resident_bytes() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<isize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Hands freed heap pages back to the kernel, so that resident memory measures what is live.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim only releases free memory; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Memory of the rebuilt dashboard, two ways. The dashboard's own: the log is read once first
/// (so sled's cache of it is already resident), then replayed into a dashboard in memory; the
/// growth of resident memory (VmRSS) and of the live heap (counting allocator) is the
/// dashboard's. The whole process's: VmRSS right after a full rebuild through the runner, with
/// the log's and the projection store's sled caches resident too. Returns a reader on the
/// dashboard.
pub fn measure_memory(dir: &Path, accounts: usize) -> DashboardReader {
    // A log built by this process a moment ago is still being let go of by sled's threads.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let log = EventLog::open(dir.join("log"), LogOptions::default()).unwrap();
    let warmed = log.read_all(1).filter(|e| e.is_ok()).count();
    trim_heap();
    let (rss0, heap0) = (resident_bytes(), LIVE.load(Ordering::Relaxed));
    let mut dashboard = Dashboard::new();
    for env in log.read_all(1) {
        dashboard.apply(&env.unwrap()).unwrap();
    }
    trim_heap();
    let (rss1, heap1) = (resident_bytes(), LIVE.load(Ordering::Relaxed));
    drop(log);
    let runner = rebuild(dir);
    let rss_process = resident_bytes();
    drop(runner);
    let per = |b: isize| b / accounts as isize;
    eprintln!(
        "\nmemory of the dashboard of {accounts} accounts ({warmed} events): RSS +{} bytes = {} per account, live heap +{} = {} per account (goal < 1024 per account); whole process after a rebuild through the runner: RSS {} bytes = {} per account (sled caches of log and store included)",
        rss1 - rss0,
        per(rss1 - rss0),
        heap1 - heap0,
        per(heap1 - heap0),
        rss_process,
        per(rss_process),
    );
    let reader = dashboard.reader();
    assert_eq!(reader.len(), accounts);
    reader
}

/// Get-by-name and a filtered list of 10% of the accounts, on the rebuilt dashboard.
pub fn query_latency(reader: &DashboardReader, accounts: usize) {
    let lookups: Vec<u128> = (0..100_000)
        .map(|k| {
            let name = format!("ACCOUNT-{:07}", (k * 7919) % accounts);
            let t = Instant::now();
            std::hint::black_box(reader.get_by_name(&name));
            t.elapsed().as_nanos()
        })
        .collect();
    let (p50, p99) = percentiles(lookups);
    eprintln!("get_by_name over {accounts} accounts: p50 {p50} ns, p99 {p99} ns (goal p99 < 50 us)");
    let filter = AccountFilter {
        provider: Some(Provider::GitLab),
        status: Some(AccountStatus::Disconnected),
    };
    let listed = reader.list(filter).len();
    let lists: Vec<u128> = (0..50)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(reader.list(filter));
            t.elapsed().as_nanos()
        })
        .collect();
    let (p50, p99) = percentiles(lists);
    eprintln!(
        "list (gitlab, disconnected) over {accounts} accounts, {listed} listed: p50 {:.2} ms, p99 {:.2} ms (goal < 10 ms for 10,000)",
        p50 as f64 / 1e6,
        p99 as f64 / 1e6
    );
}
