//! GitHub's `setup_action=update` without a `state`: the person changed an existing installation
//! on GitHub (its repositories), and GitHub sends them to the setup URL. Anyone can open that
//! URL with any installation id, so it is only a hint: it starts a reconciliation of the account
//! linked to that installation at once, at most once per [`MIN_INTERVAL`] per installation (an
//! update inside the interval is not dropped: one more reconciliation runs when the interval
//! ends, however many updates came), and the answer is the same neutral page whatever the id (it
//! names no account and says nothing about whether the installation is known). Unknown ids are
//! not even remembered.

use super::AppState;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two reconciliations one installation's updates can cause.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// When each linked installation last had a reconciliation scheduled.
#[derive(Default)]
pub struct SetupUpdates {
    last: Mutex<HashMap<u64, Instant>>,
    /// Installations with a reconciliation waiting for the end of their interval.
    deferred: Mutex<std::collections::HashSet<u64>>,
}

impl SetupUpdates {
    /// Starts a reconciliation of the account linked to `installation_id` now, or, when one
    /// started within [`MIN_INTERVAL`], once that interval ends (one for all the updates inside
    /// it); true when a reconciliation was started or scheduled by this call.
    pub fn schedule(&self, state: &AppState, installation_id: u64) -> bool {
        let engine = &state.inner.engine;
        let Some(account) = engine.account_for_installation(installation_id) else {
            return false;
        };
        let wait = {
            let Ok(mut last) = self.last.lock() else {
                return false;
            };
            let now = Instant::now();
            last.retain(|_, at| now.duration_since(*at) < MIN_INTERVAL);
            match last.get(&installation_id) {
                Some(at) => MIN_INTERVAL.saturating_sub(now.duration_since(*at)),
                None => {
                    last.insert(installation_id, now);
                    Duration::ZERO
                }
            }
        };
        if wait.is_zero() {
            let engine = engine.clone();
            tokio::spawn(async move { reconcile(&engine, account).await });
            return true;
        }
        // One reconciliation at the end of the interval covers every update inside it.
        let newly_deferred = self
            .deferred
            .lock()
            .map(|mut d| d.insert(installation_id))
            .unwrap_or(false);
        if !newly_deferred {
            return false;
        }
        // Waits without keeping the server alive: a server shut down meanwhile is let go.
        let weak = std::sync::Arc::downgrade(&state.inner);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(inner) = weak.upgrade() else { return };
            let updates = &inner.setup_updates;
            if let Ok(mut d) = updates.deferred.lock() {
                d.remove(&installation_id);
            }
            if let Ok(mut last) = updates.last.lock() {
                last.insert(installation_id, Instant::now());
            }
            let engine = inner.engine.clone();
            drop(inner);
            reconcile(&engine, account).await;
        });
        true
    }
}

async fn reconcile(engine: &crate::engine::Engine, account: uuid::Uuid) {
    if let Err(e) = engine.reconcile(Some(account)).await {
        tracing::info!(%account, error = %e, "the reconciliation a GitHub setup update asked for failed");
    }
}
