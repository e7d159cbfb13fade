//! Refreshing the OAuth credentials of GitLab and Bitbucket Cloud accounts. Both rotate the
//! refresh token on every refresh (the old one is refused from then on), so a refresh must
//! never run twice at once for one account, and the new pair must be in the vault before
//! anything uses it. The saga's scheduled refresh (ahead of expiry) and the engine's refresh
//! after a 401 both come through [`Refresher::refresh`], which holds a per-account async mutex,
//! and, when the vault is on PostgreSQL and shared by several instances, an advisory lock of the
//! account across all of them (the refresh then re-reads the shared vault and uses a pair another
//! instance stored meanwhile instead of spending the rotated token again).
//!
//! # A crash between the refresh call and storing its result
//!
//! The provider kills the old refresh token as soon as it answers a refresh; the new pair then
//! exists only in that answer. If the process dies before the pair reaches the vault, the grant
//! is lost and nothing can bring it back: only the person can approve again. What the engine
//! can do is know it, say so honestly, and not loop. So the refresh is **write-ahead**: before
//! calling the provider, the engine records in the vault (next to the pair) a marker naming
//! the refresh token being spent (its SHA-256, never the token). The rotated pair is stored
//! together with a cleared marker in one atomic, flushed vault write.
//!
//! On start-up, a marker that still names the stored refresh token means a refresh was cut
//! short, and the saga refreshes that account at once instead of at its scheduled time:
//! - the call never reached the provider: the old token still works, the refresh succeeds and
//!   the account carries on (`CredentialsRefreshed`);
//! - the provider had already rotated the pair: it answers `invalid_grant`, and the engine
//!   records `CredentialsRevoked` with a reason that says a refresh was interrupted, so the
//!   account shows `disconnected`, "re-link required". It never retries a dead token.

use crate::providers::bitbucket::BitbucketClient;
use crate::providers::gitlab::GitLabClient;
use crate::providers::oauth::TokenPair;
use crate::providers::ProviderError;
use crate::secret::Secret;
use crate::vault::{SharedLock, Vault};
use chrono::{DateTime, Utc};
use forgelink_events::Provider;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// A scheduled refresh that wakes this close to its time counts as due (clocks drift a little).
const DUE_SLACK: chrono::Duration = chrono::Duration::seconds(1);

pub(crate) fn vault_error(e: crate::vault::VaultError) -> ProviderError {
    ProviderError::BadResponse {
        provider: "vault",
        detail: e.to_string(),
    }
}

pub(crate) fn missing(what: &str) -> ProviderError {
    ProviderError::Rejected {
        provider: "vault",
        status: 0,
        detail: format!("{what} is not in the vault; start a new link"),
    }
}

/// What is kept next to a token pair (not secret, but it lives with the pair).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct GrantFacts {
    pub user: String,
    /// The approver's stable id at the provider (absent in facts stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// Who approved a grant: the name shown (for display only) and the provider's stable id for
/// the person (GitLab's numeric user id, Bitbucket's `uuid`), by which they are identified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Approver {
    pub name: String,
    pub id: Option<String>,
}

impl GrantFacts {
    pub fn approver(&self) -> Approver {
        Approver {
            name: self.user.clone(),
            id: self.user_id.clone(),
        }
    }
}

/// The write-ahead marker: the SHA-256 of the refresh token a refresh is spending, if any, and
/// of one the provider refused for good (so nobody sends it again).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Marker {
    spending: Option<String>,
    #[serde(default)]
    refused: Option<String>,
    /// Why the provider refused it, so that every caller gives the same reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refused_because: Option<String>,
}

fn part(secret_ref: &str, name: &str) -> String {
    format!("{secret_ref}/{name}")
}

fn fingerprint(token: &Secret) -> String {
    hex::encode(Sha256::digest(token.expose().as_bytes()))
}

fn sealed_json<T: serde::Serialize>(value: &T) -> Secret {
    Secret::new(serde_json::to_string(value).unwrap_or_default())
}

/// Stores the pair, its facts and a cleared refresh marker in one atomic, flushed vault write.
pub(crate) fn store_pair(
    vault: &Vault,
    secret_ref: &str,
    pair: &TokenPair,
    who: &Approver,
) -> Result<(), ProviderError> {
    let facts = sealed_json(&GrantFacts {
        user: who.name.clone(),
        user_id: who.id.clone(),
        scopes: pair.scopes.clone(),
        expires_at: pair.expires_at,
    });
    let marker = sealed_json(&Marker::default());
    let refs = ["access", "refresh", "facts", "refreshing"].map(|n| part(secret_ref, n));
    vault
        .put_many(&[
            (refs[0].as_str(), &pair.access_token),
            (refs[1].as_str(), &pair.refresh_token),
            (refs[2].as_str(), &facts),
            (refs[3].as_str(), &marker),
        ])
        .map_err(vault_error)
}

/// The facts stored next to the pair, if any.
pub(crate) fn read_facts(vault: &Vault, secret_ref: &str) -> Result<Option<GrantFacts>, ProviderError> {
    let Some(raw) = vault.get(&part(secret_ref, "facts")).map_err(vault_error)? else {
        return Ok(None);
    };
    serde_json::from_str(raw.expose())
        .map(Some)
        .map_err(|e| ProviderError::BadResponse {
            provider: "vault",
            detail: e.to_string(),
        })
}

/// Where a test can make the engine stop as if the process died there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltPoint {
    /// After the write-ahead marker is stored, before the provider is called.
    BeforeRefreshCall,
    /// After the provider answered a refresh, before its result is stored.
    AfterRefreshCall,
    /// After the provider created a project's repository, before `RepoCreated` is recorded.
    AfterRepositoryCreated,
}

/// Test hooks for crash tests: armed, a refresh that reaches the point never returns (like a
/// process that died there) while the test drops the engine. Off unless a test arms it.
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    inner: Arc<HookState>,
}

#[derive(Debug, Default)]
struct HookState {
    halt_at: Mutex<Option<HaltPoint>>,
    halted: AtomicU32,
}

impl TestHooks {
    /// Every refresh that reaches `point` from now on stops there for good.
    pub fn halt_at(&self, point: HaltPoint) {
        if let Ok(mut h) = self.inner.halt_at.lock() {
            *h = Some(point);
        }
    }

    /// How many refreshes stopped at the armed point so far.
    pub fn halted(&self) -> u32 {
        self.inner.halted.load(Ordering::SeqCst)
    }

    pub(crate) async fn pass(&self, point: HaltPoint) {
        let armed = self
            .inner
            .halt_at
            .lock()
            .map(|h| *h == Some(point))
            .unwrap_or(false);
        if armed {
            self.inner.halted.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
    }
}

/// Why a refresh is asked for.
pub(crate) enum Trigger<'a> {
    /// The saga's schedule says the access token is about to expire.
    Due,
    /// The provider refused this access token (401).
    Rejected(&'a Secret),
}

/// How long a refresh waits for another instance's refresh of the same account.
const SHARED_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Takes the lock `name` across the instances sharing the vault, waiting up to
/// [`SHARED_WAIT`] for another instance's refresh of the same account.
async fn lock_across_instances<'a>(vault: &'a Vault, name: &str) -> Result<SharedLock<'a>, ProviderError> {
    let deadline = tokio::time::Instant::now() + SHARED_WAIT;
    loop {
        match vault.lock_shared(name).map_err(vault_error)? {
            Some(lock) => return Ok(lock),
            None if tokio::time::Instant::now() >= deadline => {
                return Err(ProviderError::Network {
                    provider: "vault",
                    detail: format!(
                        "another instance has been refreshing these credentials for over {} s",
                        SHARED_WAIT.as_secs()
                    ),
                })
            }
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// The pair now in the vault after [`Refresher::refresh`].
pub(crate) struct Refreshed {
    pub access_token: Secret,
    pub token_expires_at: DateTime<Utc>,
}

/// Refreshes OAuth pairs, one at a time per account.
pub(crate) struct Refresher {
    pub vault: Arc<Vault>,
    pub gitlab: Option<GitLabClient>,
    pub bitbucket: Option<BitbucketClient>,
    /// How long before expiry a token counts as due.
    pub lead: chrono::Duration,
    pub hooks: TestHooks,
    locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

impl Refresher {
    pub fn new(
        vault: Arc<Vault>,
        gitlab: Option<GitLabClient>,
        bitbucket: Option<BitbucketClient>,
        lead: chrono::Duration,
        hooks: TestHooks,
    ) -> Self {
        Refresher {
            vault,
            gitlab,
            bitbucket,
            lead,
            hooks,
            locks: Mutex::default(),
        }
    }

    fn lock_for(&self, account_id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(account_id).or_default().clone()
    }

    fn marker(&self, secret_ref: &str) -> Result<Marker, ProviderError> {
        let raw = self
            .vault
            .get(&part(secret_ref, "refreshing"))
            .map_err(vault_error)?;
        Ok(raw
            .and_then(|m| serde_json::from_str::<Marker>(m.expose()).ok())
            .unwrap_or_default())
    }

    fn set_marker(&self, secret_ref: &str, marker: &Marker) -> Result<(), ProviderError> {
        self.vault
            .put(&part(secret_ref, "refreshing"), &sealed_json(marker))
            .map_err(vault_error)
    }

    /// True when a refresh of the pair under `secret_ref` started and never stored its result.
    /// The marker is read first: it is cleared after every stored refresh, so a start-up that
    /// asks this of every OAuth account reads (and decrypts) a refresh token only where a
    /// refresh was in progress.
    pub fn interrupted(&self, secret_ref: &str) -> Result<bool, ProviderError> {
        let Some(spent) = self.marker(secret_ref)?.spending else {
            return Ok(false);
        };
        let refresh = self
            .vault
            .get(&part(secret_ref, "refresh"))
            .map_err(vault_error)?;
        Ok(refresh.is_some_and(|token| fingerprint(&token) == spent))
    }

    fn current(&self, secret_ref: &str) -> Result<Option<Refreshed>, ProviderError> {
        let access = self.vault.get(&part(secret_ref, "access")).map_err(vault_error)?;
        let facts = read_facts(&self.vault, secret_ref)?;
        Ok(access.zip(facts).map(|(access_token, f)| Refreshed {
            access_token,
            token_expires_at: f.expires_at,
        }))
    }

    /// Refreshes the pair under `secret_ref` unless another caller already did (then the pair
    /// it stored is returned without calling the provider). `InvalidGrant` means the grant is
    /// dead and the account must be linked again.
    pub async fn refresh(
        &self,
        provider: Provider,
        account_id: Uuid,
        secret_ref: &str,
        trigger: Trigger<'_>,
    ) -> Result<Refreshed, ProviderError> {
        let lock = self.lock_for(account_id);
        let _one_at_a_time = lock.lock().await;
        // Instances sharing a vault on PostgreSQL: one refresh at a time across all of them.
        let _one_anywhere = lock_across_instances(&self.vault, &format!("refresh {account_id}")).await?;
        let interrupted = self.interrupted(secret_ref)?;
        if !interrupted {
            if let Some(current) = self.current(secret_ref)? {
                let done = match trigger {
                    Trigger::Due => current.token_expires_at - self.lead > Utc::now() + DUE_SLACK,
                    Trigger::Rejected(seen) => current.access_token != *seen,
                };
                if done {
                    return Ok(current);
                }
            }
        }
        let refresh = self
            .vault
            .get(&part(secret_ref, "refresh"))
            .map_err(vault_error)?
            .ok_or_else(|| missing("the refresh token"))?;
        let spending = fingerprint(&refresh);
        let marker = self.marker(secret_ref)?;
        if marker.refused.as_ref() == Some(&spending) {
            // A caller that waited for the lock behind a refused refresh: do not ask again, and
            // give the reason the first caller was given.
            return Err(ProviderError::InvalidGrant {
                provider: provider.display_name(),
                detail: marker
                    .refused_because
                    .unwrap_or_else(|| "the refresh token was refused moments ago".into()),
            });
        }
        let who = read_facts(&self.vault, secret_ref)?
            .map(|f| f.approver())
            .unwrap_or_default();
        let marker = Marker {
            spending: Some(spending.clone()),
            ..Marker::default()
        };
        self.set_marker(secret_ref, &marker)?;
        self.hooks.pass(HaltPoint::BeforeRefreshCall).await;
        let answer = match provider {
            Provider::GitLab => match &self.gitlab {
                Some(c) => c.refresh(&refresh).await,
                None => Err(ProviderError::not_configured(provider)),
            },
            Provider::Bitbucket => match &self.bitbucket {
                Some(c) => c.refresh(&refresh).await,
                None => Err(ProviderError::not_configured(provider)),
            },
            Provider::GitHub => Err(ProviderError::not_configured(provider)),
        };
        self.hooks.pass(HaltPoint::AfterRefreshCall).await;
        match answer {
            Ok(pair) => {
                // The provider has rotated the pair: store it before anything uses it.
                store_pair(&self.vault, secret_ref, &pair, &who)?;
                tracing::info!(%account_id, expires_at = %pair.expires_at, "credentials refreshed");
                Ok(Refreshed {
                    access_token: pair.access_token,
                    token_expires_at: pair.expires_at,
                })
            }
            Err(ProviderError::InvalidGrant { provider, detail }) => {
                let detail = if interrupted {
                    format!(
                        "an earlier refresh was interrupted before its result was stored, and {provider} \
                         no longer accepts the refresh token it replaced"
                    )
                } else {
                    detail
                };
                let refused = Marker {
                    spending: None,
                    refused: Some(spending),
                    refused_because: Some(detail.clone()),
                };
                self.set_marker(secret_ref, &refused)?;
                Err(ProviderError::InvalidGrant { provider, detail })
            }
            // The marker stays: whether the provider saw the call is unknown until the next try.
            Err(e) => Err(e),
        }
    }
}
