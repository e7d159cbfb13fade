//! Healing lost GitHub deliveries. GitHub never sends a failed delivery again by itself, and
//! one sent while forgelink was down (or lost on the way) is invisible to it. Reconciliation
//! asks GitHub for the app's deliveries since the last one it looked at, and each delivery
//! forgelink has no record of (failed on GitHub's side, or "OK" but never stored) is fetched
//! from GitHub with the request it sent and taken into the inbox, like any delivery; when it
//! cannot be fetched, GitHub is asked to send it again (within its three-day window). The
//! inbox lists these with `source: redelivery`.

use super::workers::Submitter;
use super::{dedupe_key, keep_header, DeliveryState, InboxStore, StoredDelivery};
use crate::engine::DeliveryHealer;
use crate::providers::github::{GitHubClient, HookDelivery};
use crate::saga::BoxFuture;
use crate::webhooks;
use chrono::{Duration, Utc};
use forgelink_events::Provider;
use std::collections::HashSet;

/// The inbox key holding the newest GitHub delivery id looked at.
const CURSOR: &str = "github-deliveries-seen";

/// GitHub keeps deliveries (and redelivers them) for about three days.
const KEPT: Duration = Duration::days(3);

/// Heals lost GitHub deliveries into the inbox.
pub struct InboxHealer {
    store: InboxStore,
    submit: Submitter,
    settling: Duration,
}

impl InboxHealer {
    /// `settling`: a delivery this fresh may still be on its way to us; it is looked at by the
    /// next reconciliation.
    pub fn new(store: InboxStore, submit: Submitter, settling: std::time::Duration) -> InboxHealer {
        InboxHealer {
            store,
            submit,
            settling: Duration::from_std(settling).unwrap_or(Duration::seconds(60)),
        }
    }

    async fn heal_github(&self, github: &GitHubClient) -> Result<usize, String> {
        let seen = self.store.meta(CURSOR)?.unwrap_or(0);
        let listed = github
            .hook_deliveries_after(seen)
            .await
            .map_err(|e| format!("listing GitHub's deliveries: {e}"))?;
        let now = Utc::now();
        let settled: Vec<&HookDelivery> = listed
            .iter()
            .filter(|d| now - d.delivered_at >= self.settling)
            .collect();
        let mut looked_at = HashSet::new();
        let mut healed = 0;
        let mut all_done = true;
        // Newest first: the newest attempt of each delivery decides.
        for d in &settled {
            if !looked_at.insert(d.guid.as_str()) || now - d.delivered_at > KEPT {
                continue;
            }
            if self.store.find(Provider::GitHub, &d.guid)?.is_some() {
                continue;
            }
            match self.take_in(github, d).await {
                Ok(true) => healed += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(delivery = %d.guid, error = %e, "a lost GitHub delivery could not be fetched; asking GitHub to send it again");
                    match github.redeliver(d.id).await {
                        Ok(()) => healed += 1,
                        Err(e) => {
                            tracing::warn!(delivery = %d.guid, error = %e, "GitHub did not send a lost delivery again");
                            all_done = false;
                        }
                    }
                }
            }
        }
        if all_done {
            if let Some(newest) = settled.iter().map(|d| d.id).max() {
                self.store.set_meta(CURSOR, newest)?;
            }
        }
        Ok(healed)
    }

    /// Fetches one delivery's request from GitHub and stores it; false when it is not one
    /// forgelink takes (its shape does not parse) or it was stored meanwhile.
    async fn take_in(&self, github: &GitHubClient, d: &HookDelivery) -> Result<bool, String> {
        let request = github
            .hook_delivery_request(d.id)
            .await
            .map_err(|e| e.to_string())?;
        let headers: Vec<(String, String)> = request
            .headers
            .into_iter()
            .filter(|(name, _)| keep_header(name))
            .collect();
        let body = serde_json::to_string(&request.payload).map_err(|e| e.to_string())?;
        let delivery = match webhooks::parse(Provider::GitHub, body.as_bytes(), &headers) {
            Ok(x) => x,
            Err(e) => {
                tracing::info!(delivery = %d.guid, error = %e, "a lost GitHub delivery is not one forgelink takes");
                return Ok(false);
            }
        };
        let key = dedupe_key(&delivery, &headers, body.as_bytes());
        let record = StoredDelivery {
            seq: 0,
            provider: Provider::GitHub,
            delivery_id: delivery.delivery_id.clone(),
            event: delivery.event.clone(),
            received_at: Utc::now(),
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            outcome: None,
            processed_at: None,
            source: "redelivery".into(),
            headers,
            body,
        };
        let accepted = self.store.accept(record, &[key]).await?;
        if accepted.duplicate {
            return Ok(false);
        }
        self.submit.stored(accepted.seq, &delivery);
        Ok(true)
    }
}

impl DeliveryHealer for InboxHealer {
    fn heal<'a>(&'a self, github: &'a GitHubClient) -> BoxFuture<'a, Result<usize, String>> {
        Box::pin(self.heal_github(github))
    }
}
