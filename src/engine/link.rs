//! The link steps that need more than the decider: making and hashing the random OAuth `state`,
//! building each provider's approval URL (with PKCE for GitLab) and keeping the callback's code
//! in the vault. Checking a GitLab group or Bitbucket workspace/project key against the provider
//! lives in `oauth_calls`.

use super::message::CommandReply;
use super::{EngineError, Inner};
use crate::domain::{fold, AccountCommand};
use crate::providers::oauth::Pkce;
use crate::secret::Secret;
use base64::Engine as _;
use forgelink_events::{Metadata, Provider, StreamId};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Vault reference of the account a `state` hash belongs to.
pub(crate) fn state_ref(state_hash: &str) -> String {
    format!("state/{state_hash}")
}

/// Vault reference of a link attempt's PKCE verifier.
pub(crate) fn pkce_ref(account_id: Uuid, attempt_id: Uuid) -> String {
    format!("account/{account_id}/pkce/{attempt_id}")
}

/// Vault reference of an OAuth grant's token pair (`/access`, `/refresh` below it).
pub(crate) fn oauth_ref(account_id: Uuid, attempt_id: Uuid) -> String {
    format!("account/{account_id}/oauth/{attempt_id}")
}

/// The hex SHA-256 of a `state`: all the log ever holds of it.
pub fn hash_state(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// 256 random bits, URL-safe.
fn new_state() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The URL without its `state` parameter: what the log records.
fn without_state(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(k, _)| k != "state")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            u.query_pairs_mut().clear().extend_pairs(kept);
            u.to_string()
        }
        Err(_) => url.split('?').next().unwrap_or_default().to_string(),
    }
}

impl Inner {
    pub(crate) async fn start_link(
        &self,
        account_id: Uuid,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        if let Some(first) = self.log.command_outcome(&command_id)? {
            return self.reply(
                account_id,
                command_id,
                vec![],
                Some(first.positions().into_inner()),
                true,
                None,
            );
        }
        let history = self.log.read_stream(&StreamId::account(account_id), 1)?;
        let state = fold(history.iter().map(|e| &e.event));
        let provider = state
            .provider
            .ok_or_else(|| EngineError::UnknownAccount(account_id.to_string()))?;
        let attempt_id = Uuid::new_v4();
        let oauth_state = new_state();
        let state_hash = hash_state(&oauth_state);
        let mut refs = vec![state_ref(&state_hash)];
        let url = match provider {
            Provider::GitHub => self
                .clients
                .github
                .as_ref()
                .ok_or_else(|| EngineError::not_configured(provider))?
                .install_url(&oauth_state),
            Provider::GitLab => {
                let client = self
                    .clients
                    .gitlab
                    .as_ref()
                    .ok_or_else(|| EngineError::not_configured(provider))?;
                let pkce = Pkce::generate();
                let r = pkce_ref(account_id, attempt_id);
                self.vault.put(&r, &pkce.verifier)?;
                refs.push(r);
                client.authorize_url(&oauth_state, &pkce.challenge)
            }
            Provider::Bitbucket => self
                .clients
                .bitbucket
                .as_ref()
                .ok_or_else(|| EngineError::not_configured(provider))?
                .authorize_url(&oauth_state),
        };
        // Under the account's data key: unlinking it makes the entry undecryptable.
        self.vault.put_for_account(
            account_id,
            &state_ref(&state_hash),
            &Secret::new(account_id.to_string()),
        )?;
        let command = AccountCommand::StartLink {
            attempt_id,
            state_hash,
            authorize_url: without_state(&url),
            expires_at: chrono::Utc::now() + self.config.link_ttl,
        };
        match self.apply(account_id, command, command_id, meta).await {
            Ok(mut reply) => {
                reply.authorize_url = Some(url);
                if provider == Provider::GitHub {
                    reply.warnings = self.linked_installations_warnings(account_id);
                }
                Ok(reply)
            }
            Err(e) => {
                for r in refs {
                    let _ = self.vault.delete(&r);
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn complete_authorization(
        &self,
        state: Option<String>,
        installation_id: Option<u64>,
        setup_action: Option<String>,
        code: Option<Secret>,
        error: Option<String>,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        let by_state = match state.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => {
                let hash = hash_state(s);
                let account = self
                    .vault
                    .get(&state_ref(&hash))?
                    .and_then(|v| Uuid::parse_str(v.expose()).ok());
                Some((hash, account.ok_or(EngineError::UnknownState)?))
            }
            None => None,
        };
        if let Some(id) = installation_id {
            if let Some(holder) = self.installation_holder(id)? {
                match &by_state {
                    // One installation backs one account: a second account cannot take it. The
                    // writer's claim makes this hold under races; this answers early.
                    Some((hash, account_id)) if *account_id != holder.account_id => {
                        // The attempt ends failed with the reason, as a refusal on the provider's
                        // side does: the account's history says why. A state already spent
                        // records nothing and is refused.
                        let message =
                            super::claims::already_linked(id, holder.login.as_deref(), &holder.name);
                        if let Some(reply) = self
                            .fail_attempt_of_state(*account_id, hash, &message, command_id, meta)
                            .await
                        {
                            return Ok(reply);
                        }
                        return Err(EngineError::Invalid {
                            field: "installation_id",
                            message,
                        });
                    }
                    // GitHub sends `setup_action=update` when the person changes an existing
                    // installation: a change of repositories on the linked account.
                    _ if setup_action.as_deref() == Some("update") => {
                        return self
                            .refresh_repositories(holder.account_id, id, command_id, meta)
                            .await;
                    }
                    _ => {}
                }
            }
        }
        let (state_hash, account_id) = by_state.ok_or(EngineError::UnknownState)?;
        // The code of the first callback for this state stays: a replayed or refused callback
        // must not replace it (a rejected input changes nothing), so only a new one is stored
        // and removed again if the command is refused.
        let mut stored = None;
        let code_ref = match code.filter(|c| !c.is_empty()) {
            Some(code) => {
                let r = format!("account/{account_id}/code/{state_hash}");
                if self.vault.get(&r)?.is_none() {
                    self.vault.put(&r, &code)?;
                    stored = Some(r.clone());
                }
                Some(r)
            }
            None => None,
        };
        let command = AccountCommand::CompleteAuthorization {
            state_hash,
            installation_id,
            setup_action,
            code_ref,
            error,
        };
        let result = self.apply(account_id, command, command_id, meta).await;
        if let (Err(_), Some(r)) = (&result, stored) {
            let _ = self.vault.delete(&r);
        }
        result
    }

    /// Ends the attempt whose state hashes to `state_hash` as failed with `reason`, so the
    /// failure shows in the history of the account it happened to; the reply, or `None` when
    /// nothing was recorded (only the account's current, open attempt takes it: an older or
    /// spent state changes nothing).
    async fn fail_attempt_of_state(
        &self,
        account_id: Uuid,
        state_hash: &str,
        reason: &str,
        command_id: Uuid,
        meta: Metadata,
    ) -> Option<CommandReply> {
        let state = self.account_state_of(account_id).ok()?;
        let open = |a: &&crate::domain::LinkAttempt| {
            a.state_hash == state_hash
                && a.is_open()
                && a.authorization.is_none()
                && a.request.is_none()
                && chrono::Utc::now() < a.expires_at
        };
        let attempt = state.attempt.as_ref().filter(open)?;
        let command = AccountCommand::FailLink {
            attempt_id: Some(attempt.attempt_id),
            reason: reason.to_string(),
        };
        match self.apply(account_id, command, command_id, meta).await {
            Ok(reply) => Some(reply),
            Err(e) => {
                tracing::info!(%account_id, error = %e, "the failed attempt was not recorded on its account");
                None
            }
        }
    }

    /// One sentence per organization whose installation another account holds: GitHub shows
    /// that installation's settings instead of a new install there, and the link would fail.
    pub(crate) fn linked_installations_warnings(&self, account_id: Uuid) -> Vec<String> {
        let held: Vec<(u64, Uuid)> = self
            .installations
            .lock()
            .map(|m| m.iter().map(|(i, a)| (*i, *a)).collect())
            .unwrap_or_default();
        let mut warnings: Vec<String> = held
            .into_iter()
            .filter(|(_, owner)| *owner != account_id)
            .filter_map(|(id, _)| self.installation_holder(id).ok().flatten())
            .filter_map(|h| {
                let login = h.login?;
                Some(format!(
                    "The app is already installed on {login}, linked as `{name}`: choosing {login} on \
                     GitHub shows that installation's settings instead of a new install, and this link \
                     would fail. Choose another organization, or unlink `{name}` first.",
                    name = h.name
                ))
            })
            .collect();
        warnings.sort();
        warnings
    }

    pub(crate) fn account_state_of(
        &self,
        account_id: Uuid,
    ) -> Result<crate::domain::AccountState, EngineError> {
        let history = self.log.read_stream(&StreamId::account(account_id), 1)?;
        Ok(fold(history.iter().map(|e| &e.event)))
    }

    /// Lists the installation's repositories now and records what changed.
    pub(crate) async fn refresh_repositories(
        &self,
        account_id: Uuid,
        installation_id: u64,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        let client = self
            .clients
            .github
            .as_ref()
            .ok_or_else(|| EngineError::not_configured(Provider::GitHub))?;
        let (selection, repos) = client.installation_repositories(installation_id).await?;
        let state = self.account_state_of(account_id)?;
        let now: std::collections::BTreeSet<_> = repos.into_iter().collect();
        let added = now.difference(&state.repositories).cloned().collect();
        let removed = state.repositories.difference(&now).cloned().collect();
        let selection = (!selection.is_empty() && Some(&selection) != state.repository_selection.as_ref())
            .then_some(selection);
        let command = AccountCommand::ChangeRepositories {
            added,
            removed,
            repository_selection: selection,
        };
        self.apply(account_id, command, command_id, meta).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_url_keeps_everything_but_the_state() {
        let u = without_state("http://h/apps/x/installations/new?state=SECRET&a=1");
        assert!(!u.contains("SECRET") && u.contains("a=1"), "{u}");
    }

    #[test]
    fn states_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_state(), new_state());
        assert_ne!(a, b);
        assert!(a.len() >= 43, "256 bits in base64url");
        assert_eq!(hash_state(&a).len(), 64);
        assert_ne!(hash_state(&a), a);
    }
}
