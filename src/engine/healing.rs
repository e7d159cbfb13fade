//! Reconciliation's part for webhooks: GitHub never redelivers a failed delivery by itself, so a
//! reconciliation of every account also asks the server's webhook inbox to find the deliveries
//! GitHub sent that forgelink has no record of and to take them in ([`DeliveryHealer`], set by
//! the server). The report of a reconciliation: per account what was recorded and why a run
//! stopped early, and how many lost deliveries were healed.

use super::{Engine, EngineError, Inner};
use crate::providers::github::GitHubClient;
use crate::saga::BoxFuture;
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

/// Heals lost GitHub deliveries; answers how many it took in.
pub trait DeliveryHealer: Send + Sync {
    fn heal<'a>(&'a self, github: &'a GitHubClient) -> BoxFuture<'a, Result<usize, String>>;
}

/// One account's line of a reconciliation report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReconcileLine {
    /// The account's unique name.
    pub account: String,
    pub account_id: Uuid,
    pub events_recorded: usize,
    /// The event types recorded, in order.
    pub events: Vec<String>,
    /// Why the run stopped before the end, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_because: Option<String>,
}

/// What a reconciliation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReconcileReport {
    pub accounts: Vec<ReconcileLine>,
    /// GitHub deliveries forgelink had no record of, taken into the inbox.
    pub deliveries_healed: usize,
    /// Why lost deliveries could not be looked for, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries_error: Option<String>,
}

impl Engine {
    /// Lets reconciliation heal lost webhook deliveries through `healer`.
    pub fn set_delivery_healer(&self, healer: Arc<dyn DeliveryHealer>) {
        if let Ok(mut slot) = self.inner.delivery_healer.lock() {
            *slot = Some(healer);
        }
    }

    /// Reconciles one account, or every one (and heals lost deliveries), with a report.
    pub async fn reconcile_report(&self, account: Option<Uuid>) -> Result<ReconcileReport, EngineError> {
        self.inner.reconcile_report(account).await
    }
}

impl Inner {
    /// Heals lost GitHub deliveries, when a healer is set and GitHub configured.
    pub(crate) async fn heal_deliveries(&self) -> Result<usize, String> {
        let healer = self.delivery_healer.lock().ok().and_then(|h| h.clone());
        match (healer, self.clients.github.as_ref()) {
            (Some(h), Some(github)) => h.heal(github).await,
            _ => Ok(0),
        }
    }

    pub(crate) async fn reconcile_report(
        &self,
        account: Option<Uuid>,
    ) -> Result<ReconcileReport, EngineError> {
        let runs = self.reconcile(account).await?;
        let (deliveries_healed, deliveries_error) = match account {
            Some(_) => (0, None),
            None => match self.heal_deliveries().await {
                Ok(n) => (n, None),
                Err(e) => (0, Some(e)),
            },
        };
        let accounts = runs
            .into_iter()
            .map(|r| ReconcileLine {
                account: self
                    .account_state_of(r.account_id)
                    .map(|s| s.unique_name)
                    .unwrap_or_default(),
                account_id: r.account_id,
                events_recorded: r.events.len(),
                events: r.events,
                stopped_because: r.skipped,
            })
            .collect();
        Ok(ReconcileReport {
            accounts,
            deliveries_healed,
            deliveries_error,
        })
    }
}
