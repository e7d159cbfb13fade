//! The ports the saga drives: what it needs from GitHub, from an OAuth provider and from the
//! vault, as object-safe traits. The engine implements them over the real clients and the
//! vault; tests implement them with fakes. Every method must be safe to call again after a
//! crash (effects are at-least-once): look before you create, and keep what a single-use call
//! (an OAuth code exchange) returned under a reference derived from its input.

use crate::providers::ProviderError;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use forgelink_events::{Provider, RepoRef};
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// A boxed, sendable future: keeps the ports object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What `GET /app/installations/{id}` says about an installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationFacts {
    pub installation_id: u64,
    pub account_login: String,
    /// `Organization` or `User`.
    pub target_type: String,
    /// `all` or `selected`.
    pub repository_selection: String,
}

/// One pending installation request as `GET /app/installation-requests` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallRequestFacts {
    /// The organization (or user) the app was requested on (`account.login`).
    pub organization: String,
    /// Who asked (`requester.login`).
    pub requester: String,
    pub created_at: DateTime<Utc>,
}

/// What the saga needs from GitHub to believe a setup callback.
pub trait GitHubPort: Send + Sync {
    /// Exchanges the OAuth code stored in the vault under `code_ref` for a user token. A re-run
    /// for the same `code_ref` must return the token the first exchange got (codes are
    /// single-use).
    fn exchange_code<'a>(&'a self, code_ref: &'a str) -> BoxFuture<'a, Result<Secret, ProviderError>>;

    /// The installation ids the user's token can access (`GET /user/installations`, all pages).
    fn user_installation_ids<'a>(
        &'a self,
        user_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Vec<u64>, ProviderError>>;

    /// Whether the user's token can access `installation_id`. By default from
    /// [`Self::user_installation_ids`]; the engine asks GitHub about the one installation, so
    /// the check costs the same however many installations the person administers.
    fn user_can_access_installation<'a>(
        &'a self,
        user_token: &'a Secret,
        installation_id: u64,
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            Ok(self
                .user_installation_ids(user_token)
                .await?
                .contains(&installation_id))
        })
    }

    /// The login of the user the token belongs to (`GET /user`).
    fn user_login<'a>(&'a self, user_token: &'a Secret) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// The app's pending installation requests (app JWT, `GET /app/installation-requests`, all
    /// pages).
    fn installation_requests(&self) -> BoxFuture<'_, Result<Vec<InstallRequestFacts>, ProviderError>>;

    /// The installation as the app sees it (app JWT, `GET /app/installations/{id}`).
    fn installation(&self, installation_id: u64) -> BoxFuture<'_, Result<InstallationFacts, ProviderError>>;

    /// The installation's repositories (an installation token, `GET /installation/repositories`).
    fn installation_repositories(
        &self,
        installation_id: u64,
    ) -> BoxFuture<'_, Result<Vec<RepoRef>, ProviderError>>;
}

/// What a GitLab or Bitbucket code exchange granted. The tokens are already in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    /// The person as shown; for display only.
    pub user: String,
    /// The person's stable id (GitLab numeric id, Bitbucket `uuid`).
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub secret_ref: String,
    pub token_expires_at: DateTime<Utc>,
}

/// A refreshed token pair, already stored in the vault under `secret_ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshedTokens {
    pub secret_ref: String,
    pub token_expires_at: DateTime<Utc>,
}

/// What the saga needs from an OAuth provider (GitLab, Bitbucket Cloud).
pub trait OAuthPort: Send + Sync {
    /// Exchanges the code stored under `code_ref` (with the attempt's PKCE verifier, where the
    /// provider uses one), stores the token pair in the vault, and reads the user. A re-run for
    /// the same `code_ref` must return what the first exchange stored.
    fn exchange_code<'a>(
        &'a self,
        provider: Provider,
        account_id: Uuid,
        attempt_id: Uuid,
        code_ref: &'a str,
    ) -> BoxFuture<'a, Result<OAuthTokens, ProviderError>>;

    /// Refreshes the pair stored under `secret_ref`, storing the rotated pair before returning.
    /// `ProviderError::InvalidGrant` means the grant is dead.
    fn refresh<'a>(
        &'a self,
        provider: Provider,
        account_id: Uuid,
        secret_ref: &'a str,
    ) -> BoxFuture<'a, Result<RefreshedTokens, ProviderError>>;
}

/// What the saga needs to retire a finished link's secrets.
pub trait SecretsPort: Send + Sync {
    /// Removes what the link registered at the provider (webhooks; best effort) and returns
    /// the vault references of the tokens `effect` (a `DestroySecrets`) leaves to revoke, among
    /// those still in the vault.
    fn release<'a>(&'a self, effect: &'a super::Effect) -> BoxFuture<'a, Vec<String>>;

    /// Revokes the token stored under `token_ref` at `provider`, where the provider offers
    /// revocation (Bitbucket Cloud documents none: nothing to do). A token the provider no
    /// longer knows is success.
    fn revoke<'a>(
        &'a self,
        provider: Provider,
        token_ref: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Destroys the secrets `effect` names; destroying nothing is success. `Err` holds why it could not be done now
    /// (never a secret).
    fn destroy<'a>(&'a self, effect: &'a super::Effect) -> BoxFuture<'a, Result<(), String>>;
}
