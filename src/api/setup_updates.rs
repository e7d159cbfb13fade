//! GitHub's `setup_action=update` without a `state`: the person changed an existing installation
//! on GitHub (its repositories), and GitHub sends them to the setup URL. Anyone can open that
//! URL with any installation id, so it is only a hint: it schedules a reconciliation of the
//! account linked to that installation, at most once per [`MIN_INTERVAL`] per installation, and
//! the answer is the same neutral page whatever the id (it names no account and says nothing
//! about whether the installation is known). Unknown ids are not even remembered.

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
}

impl SetupUpdates {
    /// Schedules a reconciliation of the account linked to `installation_id`, unless one was
    /// scheduled for it within [`MIN_INTERVAL`]; true when one was scheduled.
    pub fn schedule(&self, state: &AppState, installation_id: u64) -> bool {
        let engine = &state.inner.engine;
        let Some(account) = engine.account_for_installation(installation_id) else {
            return false;
        };
        {
            let Ok(mut last) = self.last.lock() else {
                return false;
            };
            let now = Instant::now();
            last.retain(|_, at| now.duration_since(*at) < MIN_INTERVAL);
            if last.contains_key(&installation_id) {
                return false;
            }
            last.insert(installation_id, now);
        }
        let engine = engine.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.reconcile(Some(account)).await {
                tracing::info!(%account, error = %e, "the reconciliation a GitHub setup update asked for failed");
            }
        });
        true
    }
}
