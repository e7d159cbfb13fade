//! The webhook deliveries already handled, kept durably in their own sled database
//! (`{data_dir}/deliveries`), so a delivery id seen before is acknowledged and not applied
//! again, across restarts too. An id is written only after its delivery was handled (and the
//! commands it made carry ids derived from it, so a crash in between appends nothing twice).

use forgelink_events::Provider;
use std::path::Path;

/// The handled delivery ids.
#[derive(Clone)]
pub struct DeliveryLog {
    db: sled::Db,
}

fn key(provider: Provider, delivery_id: &str) -> Vec<u8> {
    format!("{}/{delivery_id}", provider.as_str()).into_bytes()
}

impl DeliveryLog {
    pub fn open(path: &Path) -> Result<DeliveryLog, String> {
        sled::Config::new()
            .path(path)
            .open()
            .map(|db| DeliveryLog { db })
            .map_err(|e| format!("cannot open the delivery log in {}: {e}", path.display()))
    }

    /// True when this delivery was handled before.
    pub fn seen(&self, provider: Provider, delivery_id: &str) -> Result<bool, String> {
        self.db
            .contains_key(key(provider, delivery_id))
            .map_err(|e| format!("delivery log: {e}"))
    }

    /// Remembers a handled delivery, on disk before it returns.
    pub async fn record(&self, provider: Provider, delivery_id: &str, summary: &str) -> Result<(), String> {
        let value = format!("{} {summary}", chrono::Utc::now().to_rfc3339());
        self.db
            .insert(key(provider, delivery_id), value.as_bytes())
            .map_err(|e| format!("delivery log: {e}"))?;
        self.db
            .flush_async()
            .await
            .map(|_| ())
            .map_err(|e| format!("delivery log: {e}"))
    }

    /// How many deliveries were handled.
    pub fn len(&self) -> usize {
        self.db.len()
    }

    pub fn is_empty(&self) -> bool {
        self.db.is_empty()
    }
}
