//! In-memory cache of installation access tokens, one slot per installation. A token is reused
//! until `RENEW_BEFORE` ahead of the `expires_at` GitHub gave (never an assumed lifetime).
//! Callers asking for the same installation at once queue on that slot's lock, so only the
//! first one mints and the others get its token.

use super::InstallationToken;
use crate::providers::ProviderError;
use chrono::Utc;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// A cached token is renewed this long before it expires, so a call never starts with a token
/// that dies mid-flight.
pub const RENEW_BEFORE: chrono::Duration = chrono::Duration::minutes(5);

type Slot = Arc<tokio::sync::Mutex<Option<InstallationToken>>>;

#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<u64, Slot>>,
}

impl TokenCache {
    fn slot(&self, id: u64) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(id).or_default().clone()
    }

    /// The cached token for `id` if it is still fresh, else the result of `mint` (cached).
    pub async fn get_or_mint<F, Fut>(&self, id: u64, mint: F) -> Result<InstallationToken, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<InstallationToken, ProviderError>>,
    {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        if let Some(t) = cached.as_ref() {
            if t.expires_at - RENEW_BEFORE > Utc::now() {
                return Ok(t.clone());
            }
        }
        let fresh = mint().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the cached token for `id` (a mint in flight lands in the dropped slot).
    pub fn forget(&self, id: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.remove(&id);
    }
}
