//! GitHub `github_app_authorization` revoked: a person took back their authorization of the app,
//! so every user-to-server token of theirs is dead. The payload names only the person (no
//! installation), and the engine does not keep which GitHub login a stored user token belongs
//! to, so each GitHub account's stored user token is asked whether it still works
//! (`GET /user/installations/{id}/repositories` for the account's own installation); a dead one is destroyed in the vault.
//!
//! What that means for the account follows from what the user token was for. An installation
//! on an organization works with the app's own credentials (App JWT, installation tokens); the
//! user token only verified the installation while linking, so the account stays as it is and
//! nothing is recorded. An installation on a personal account creates repositories with the
//! user token (GitHub has no installation-token route for that), so without it the account can
//! no longer do its job: `CredentialsRevoked`, which DESIGN.md gives to a revoked grant, makes it
//! `disconnected` with the reason, and linking it again brings a new authorization.

use super::message::CommandReply;
use super::{EngineError, Inner};
use crate::domain::{AccountCommand, AccountStatus};
use crate::providers::ProviderError;
use crate::saga::command_id;
use forgelink_events::{Grant, Metadata, Provider};

impl Inner {
    pub(crate) async fn github_authorization_revoked(
        &self,
        user_login: &str,
        key: &str,
        meta: &Metadata,
    ) -> Result<Vec<CommandReply>, EngineError> {
        // From the log, not the saga loop's installation map, which may lag behind it.
        let accounts = self.accounts_in_log()?;
        let github = accounts.into_iter().filter(|(_, p)| *p == Provider::GitHub);
        let mut replies = Vec::new();
        for (account_id, _) in github {
            let state = self.account_state_of(account_id)?;
            if !matches!(state.status(), AccountStatus::Active | AccountStatus::Suspended) {
                continue;
            }
            let Some(code_ref) = state
                .attempt
                .as_ref()
                .and_then(|a| a.authorization.as_ref())
                .and_then(|a| a.code_ref.clone())
            else {
                continue;
            };
            let token_ref = format!("{code_ref}/user_token");
            let Some(token) = self.vault.get(&token_ref)? else {
                continue;
            };
            let Some(Grant::GithubInstallation { installation_id, .. }) = &state.grant else {
                continue;
            };
            // One request about the account's own installation: a dead token answers 401.
            match self
                .github()?
                .user_can_access_installation(&token, *installation_id)
                .await
            {
                Err(ProviderError::Unauthorized { .. }) => {}
                // Still works: someone else took their authorization back.
                Ok(_) => continue,
                Err(e) => return Err(e.into()),
            }
            self.vault.delete(&token_ref)?;
            tracing::info!(%account_id, "GitHub user authorization revoked; its dead user token is destroyed");
            let personal = matches!(&state.grant,
                Some(Grant::GithubInstallation { target_type, .. }) if target_type == "User");
            if personal {
                let reason = format!(
                    "{user_login} revoked the app's authorization on GitHub; repositories cannot be \
                     created in a personal account without it: link the account again"
                );
                let id = command_id(account_id, "webhook", &format!("{key}/revoked"));
                let command = AccountCommand::RevokeCredentials { reason };
                replies.push(self.apply(account_id, command, id, meta.clone()).await?);
            }
        }
        Ok(replies)
    }
}
