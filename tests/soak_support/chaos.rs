//! The harness's part of the soak: kills the server at random moments and starts it again,
//! switches sandbox faults on and off (500s, 429s, slow answers, dropped GitHub webhooks), and
//! expires the GitLab and Bitbucket access tokens underneath.

use super::driver::{Driver, Sandboxes};
use super::server::ServerProcess;
use rand::Rng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The server is killed at least this often, however short the run.
pub const MIN_KILLS: u64 = 10;

/// Counts kept by the chaos tasks.
#[derive(Default)]
pub struct Chaos {
    pub kills: AtomicU64,
    pub faults: AtomicU64,
    pub token_expiries: AtomicU64,
    /// Faults switched on, by kind: 500s, 429s, slow answers, dropped GitHub webhooks.
    pub by_kind: [AtomicU64; 4],
}

/// Switches off every fault, then switches on one at random; what it switched on.
pub fn switch_fault(s: &Sandboxes) -> &'static str {
    let all = [&s.github.faults, &s.gitlab.faults, &s.bitbucket.faults];
    for f in all {
        f.set_delay(Duration::ZERO);
    }
    s.github.drop_webhooks(false);
    let mut rng = rand::thread_rng();
    let f = all[rng.gen_range(0..3)];
    match rng.gen_range(0..4) {
        0 => {
            f.fail_next(rng.gen_range(1..5));
            "500"
        }
        1 => {
            f.rate_limit_next(rng.gen_range(1..3), 1);
            "429"
        }
        2 => {
            f.set_delay(Duration::from_millis(rng.gen_range(200..900)));
            "slow"
        }
        _ => {
            s.github.drop_webhooks(true);
            "drop-webhooks"
        }
    }
}

pub fn clear_faults(s: &Sandboxes) {
    for f in [&s.github.faults, &s.gitlab.faults, &s.bitbucket.faults] {
        f.set_delay(Duration::ZERO);
        f.fail_next(0);
        f.rate_limit_next(0, 0);
    }
    s.github.drop_webhooks(false);
}

async fn sleep_rand(lo: f64, hi: f64) {
    let secs = rand::thread_rng().gen_range(lo..hi);
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

/// Kills the server at random moments until the load stops (and at least `MIN_KILLS` times),
/// starting it again after each kill.
pub async fn kill_loop(
    server: Arc<Mutex<ServerProcess>>,
    http: reqwest::Client,
    chaos: Arc<Chaos>,
    stop: Arc<AtomicBool>,
    every: f64,
) {
    while !stop.load(Ordering::SeqCst) || chaos.kills.load(Ordering::SeqCst) < MIN_KILLS {
        sleep_rand(every * 0.3, every * 1.7).await;
        let mut s = server.lock().await;
        s.kill();
        chaos.kills.fetch_add(1, Ordering::SeqCst);
        sleep_rand(0.0, 0.4).await;
        s.start(&http).await;
    }
}

pub async fn fault_loop(driver: Arc<Driver>, chaos: Arc<Chaos>, stop: Arc<AtomicBool>) {
    let s = &driver.sandboxes;
    // Installation tokens that expire within the run: the engine must mint new ones.
    s.github.set_installation_token_ttl(Duration::from_secs(20));
    let mut next_expiry = Instant::now() + Duration::from_secs(4);
    while !stop.load(Ordering::SeqCst) {
        sleep_rand(0.8, 2.5).await;
        let kind = match switch_fault(s) {
            "500" => 0,
            "429" => 1,
            "slow" => 2,
            _ => 3,
        };
        chaos.by_kind[kind].fetch_add(1, Ordering::SeqCst);
        chaos.faults.fetch_add(1, Ordering::SeqCst);
        if Instant::now() > next_expiry {
            s.gitlab.expire_tokens_now();
            s.bitbucket.expire_tokens_now();
            chaos.token_expiries.fetch_add(1, Ordering::SeqCst);
            next_expiry = Instant::now() + Duration::from_secs(5);
        }
    }
    clear_faults(s);
}
