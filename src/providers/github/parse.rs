//! GitHub's documented answers turned into the client's types: the functions the calls
//! themselves use, public so that tests can feed them the documentation's own examples
//! (`tests/fixtures/providers/api/github/`). Only what the documentation guarantees is required.

use super::wire::{AccessTokenJson, FullRepoJson, InstallationJson, ReposPage};
use super::{GitHubRepo, Installation, InstallationToken, PROVIDER};
use crate::providers::ProviderError;
use forgelink_events::RepoRef;

fn bad(what: &str, detail: impl std::fmt::Display) -> ProviderError {
    ProviderError::BadResponse {
        provider: PROVIDER,
        detail: format!("{what}: {detail}"),
    }
}

/// `GET /app/installations/{id}`. The account is a user or an organization (`login`); an
/// enterprise account has a `slug` instead.
pub fn installation(body: &[u8]) -> Result<Installation, ProviderError> {
    let i: InstallationJson = serde_json::from_slice(body).map_err(|e| bad("installation", e))?;
    installation_of(i)
}

pub(super) fn installation_of(i: InstallationJson) -> Result<Installation, ProviderError> {
    let what = format!("installation {}", i.id);
    let account = i.account.ok_or_else(|| bad(&what, "it has no account"))?;
    let login = account
        .login
        .or(account.slug)
        .ok_or_else(|| bad(&what, "its account has neither login nor slug"))?;
    Ok(Installation {
        id: i.id,
        target_type: i.target_type.or(account.kind).unwrap_or_default(),
        account_login: login,
        repository_selection: i.repository_selection.unwrap_or_default(),
        suspended: i.suspended_at.is_some(),
        html_url: i.html_url.unwrap_or_default(),
    })
}

/// `POST /app/installations/{id}/access_tokens`.
pub fn installation_token(body: &[u8]) -> Result<InstallationToken, ProviderError> {
    let t: AccessTokenJson = serde_json::from_slice(body).map_err(|e| bad("installation token", e))?;
    Ok(InstallationToken {
        token: t.token,
        expires_at: t.expires_at,
    })
}

/// One page of `GET /installation/repositories`: its `repository_selection` and repositories.
pub fn installation_repositories(body: &[u8]) -> Result<(Option<String>, Vec<RepoRef>), ProviderError> {
    let p: ReposPage = serde_json::from_slice(body).map_err(|e| bad("installation repositories", e))?;
    let selection = p.repository_selection.clone();
    Ok((selection, repo_refs(p)))
}

pub(super) fn repo_refs(p: ReposPage) -> Vec<RepoRef> {
    p.repositories
        .into_iter()
        .map(|r| RepoRef {
            id: r.id.to_string(),
            full_name: r.full_name,
        })
        .collect()
}

/// `GET /repos/{owner}/{repo}` (and the answer to creating one).
pub fn repository(body: &[u8]) -> Result<GitHubRepo, ProviderError> {
    let r: FullRepoJson = serde_json::from_slice(body).map_err(|e| bad("repository", e))?;
    Ok(r.into())
}
