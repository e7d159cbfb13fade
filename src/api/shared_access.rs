//! Login links and sessions shared by the instances of one PostgreSQL database, kept in its
//! vault (`access/...`, sealed like every vault entry): a login link made on one instance is
//! spent on any, once; a session started on one is valid on all and ends on all at sign-out; the
//! pages' CSRF key is one for all. Without a shared vault (a data folder: one process) the
//! server keeps them in memory (`auth.rs`).
//!
//! Entries hold digests of the tokens, never the tokens. Times are wall-clock seconds (each
//! instance has its own monotonic clock). A session's last activity is written at most once a
//! minute, so a page load costs one read.

use super::auth::{Role, SessionLimits};
use crate::secret::Secret;
use crate::vault::Vault;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Activity closer than this to the recorded one is not written again.
const TOUCH_EVERY: i64 = 60;

#[derive(Serialize, Deserialize)]
struct Grant {
    name: String,
    role: Role,
    until: i64,
}

#[derive(Serialize, Deserialize)]
struct Session {
    name: String,
    role: Role,
    started: i64,
    last_seen: i64,
}

/// The vault every instance shares.
pub struct SharedAccess {
    vault: Arc<Vault>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn login_ref(digest: &[u8; 32]) -> String {
    format!("access/login/{}", hex::encode(digest))
}

fn session_ref(digest: &[u8; 32]) -> String {
    format!("access/session/{}", hex::encode(digest))
}

impl SharedAccess {
    pub fn new(vault: Arc<Vault>) -> SharedAccess {
        SharedAccess { vault }
    }

    fn read<T: for<'de> Deserialize<'de>>(&self, reference: &str) -> Option<T> {
        match self.vault.get(reference) {
            Ok(v) => serde_json::from_str(v?.expose()).ok(),
            Err(e) => {
                tracing::warn!(error = %e, "the shared sign-in store could not be read");
                None
            }
        }
    }

    fn write(&self, reference: &str, value: &impl Serialize) -> bool {
        let text = serde_json::to_string(value).unwrap_or_default();
        match self.vault.put(reference, &Secret::new(text)) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "the shared sign-in store could not be written");
                false
            }
        }
    }

    /// Runs `f` holding the lock `name` across the instances (waits a little for it).
    fn exclusive<T>(&self, name: &str, f: impl FnOnce() -> T) -> Option<T> {
        for _ in 0..250 {
            match self.vault.lock_shared(name) {
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(4)),
                Ok(Some(_lock)) => return Some(f()),
                Err(e) => {
                    tracing::warn!(error = %e, "the shared sign-in lock could not be taken");
                    return None;
                }
            }
        }
        None
    }

    /// The pages' CSRF key of every instance: the first instance makes it.
    pub fn csrf_key(&self, mine: [u8; 32]) -> [u8; 32] {
        const REF: &str = "access/csrf_key";
        let decode = |s: &Secret| -> Option<[u8; 32]> { hex::decode(s.expose()).ok()?.try_into().ok() };
        self.exclusive("access csrf key", || match self.vault.get(REF) {
            Ok(Some(k)) => decode(&k),
            Ok(None) => self
                .vault
                .put(REF, &Secret::new(hex::encode(mine)))
                .ok()
                .map(|_| mine),
            Err(_) => None,
        })
        .flatten()
        .unwrap_or(mine)
    }

    pub fn add_login(&self, digest: &[u8; 32], name: &str, role: Role, ttl: std::time::Duration) {
        let grant = Grant {
            name: name.to_string(),
            role,
            until: now() + ttl.as_secs() as i64,
        };
        self.write(&login_ref(digest), &grant);
    }

    /// Spends the login token with this digest, on whichever instance: a new session (stored
    /// under `session`'s digest), or `None` when unknown, spent or expired.
    pub fn redeem_login(&self, digest: &[u8; 32], session: &[u8; 32]) -> Option<(String, Role)> {
        let reference = login_ref(digest);
        let grant: Grant = self
            .exclusive(&reference, || {
                let grant = self.read::<Grant>(&reference)?;
                self.vault.delete(&reference).ok()?;
                Some(grant)
            })
            .flatten()?;
        if grant.until <= now() {
            return None;
        }
        let t = now();
        let entry = Session {
            name: grant.name.clone(),
            role: grant.role,
            started: t,
            last_seen: t,
        };
        self.write(&session_ref(session), &entry)
            .then_some((grant.name, grant.role))
    }

    /// The session with this digest when it is live (counting as activity).
    pub fn session(&self, digest: &[u8; 32], limits: SessionLimits) -> Option<(String, Role)> {
        let reference = session_ref(digest);
        let mut s: Session = self.read(&reference)?;
        let t = now();
        let live = t - s.last_seen < limits.idle.as_secs() as i64
            && t - s.started < limits.lifetime.as_secs() as i64;
        if !live {
            let _ = self.vault.delete(&reference);
            return None;
        }
        if t - s.last_seen >= TOUCH_EVERY {
            s.last_seen = t;
            self.write(&reference, &s);
        }
        Some((s.name, s.role))
    }

    pub fn end_session(&self, digest: &[u8; 32]) {
        if let Err(e) = self.vault.delete(&session_ref(digest)) {
            tracing::warn!(error = %e, "a shared session could not be ended");
        }
    }
}
