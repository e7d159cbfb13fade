//! `react` and `pending_effects`: pure maps from an account's state (and the event just
//! committed) to the effects it owes. `react` is `pending_effects` narrowed to what the event
//! started, so live reactions and the start-up scan can never disagree.

use super::effect::{Effect, REFRESH_AHEAD};
use crate::domain::{AccountState, AccountStatus};
use forgelink_events::{Envelope, Event, Grant, Provider};

/// The effects `envelope`'s event starts. `state` is the account's state with that event
/// folded in (or any later state: effects already settled are then left out).
pub fn react(state: &AccountState, envelope: &Envelope) -> Vec<Effect> {
    react_with(state, envelope, REFRESH_AHEAD)
}

/// [`react`] with the refresh lead time chosen by the engine's configuration.
pub fn react_with(state: &AccountState, envelope: &Envelope, refresh_ahead: chrono::Duration) -> Vec<Effect> {
    if !envelope.stream_id.is_account() {
        return vec![];
    }
    pending_effects_with(state, refresh_ahead)
        .into_iter()
        .filter(|effect| started_by(&envelope.event, effect))
        .collect()
}

/// Whether `event` is what makes `effect` due.
fn started_by(event: &Event, effect: &Effect) -> bool {
    match (event, effect) {
        (Event::LinkStarted(e), Effect::ScheduleExpiry { attempt_id, .. }) => e.attempt_id == *attempt_id,
        (Event::AuthorizationReceived(e), Effect::VerifyGitHubInstallation { attempt_id, .. })
        | (Event::AuthorizationReceived(e), Effect::ExchangeOAuthCode { attempt_id, .. }) => {
            e.attempt_id == *attempt_id
        }
        (Event::InstallRequested(e), Effect::IdentifyInstallRequest { attempt_id, .. })
        | (Event::InstallRequested(e), Effect::ScheduleExpiry { attempt_id, .. }) => {
            e.attempt_id == *attempt_id
        }
        (Event::AuthorizationReceived(e), Effect::VerifyRequestedInstallation { attempt_id, .. }) => {
            e.attempt_id == *attempt_id
        }
        (Event::InstallApproved(_), Effect::RefreshOAuthCredentials { .. }) => true,
        (Event::CredentialsRefreshed(e), Effect::RefreshOAuthCredentials { secret_ref, .. }) => {
            e.secret_ref == *secret_ref
        }
        (Event::AccountUnlinked(_), Effect::DestroySecrets { attempt_id: None, .. }) => true,
        (Event::LinkFailed(_) | Event::LinkExpired(_), Effect::DestroySecrets { attempt_id, .. }) => {
            attempt_id.is_some()
        }
        _ => false,
    }
}

/// The current attempt's authorization code reference, if its callback (or its installation
/// request) brought one.
fn code_ref_of(state: &AccountState) -> Option<String> {
    let attempt = state.attempt.as_ref()?;
    match &attempt.authorization {
        Some(auth) => auth.code_ref.clone(),
        None => attempt.request.as_ref()?.code_ref.clone(),
    }
}

/// Every effect the account still owes: run on start-up so no flow hangs half-way.
pub fn pending_effects(state: &AccountState) -> Vec<Effect> {
    pending_effects_with(state, REFRESH_AHEAD)
}

/// [`pending_effects`] with OAuth tokens refreshed `refresh_ahead` before they expire.
pub fn pending_effects_with(state: &AccountState, refresh_ahead: chrono::Duration) -> Vec<Effect> {
    let (Some(account_id), Some(provider)) = (state.account_id, state.provider) else {
        return vec![];
    };
    let mut effects = Vec::new();
    match state.status() {
        AccountStatus::Unlinked => effects.push(Effect::DestroySecrets {
            account_id,
            provider,
            attempt_id: None,
            code_ref: code_ref_of(state),
            secret_ref: match &state.grant {
                Some(Grant::Oauth { secret_ref, .. }) => Some(secret_ref.clone()),
                _ => None,
            },
        }),
        AccountStatus::Failed | AccountStatus::Expired => {
            // Something to retire: what the callback brought, or GitLab's PKCE verifier.
            let holds_secrets = |a: &&crate::domain::LinkAttempt| {
                a.authorization.is_some() || a.request.is_some() || provider == Provider::GitLab
            };
            if let Some(attempt) = state.attempt.as_ref().filter(holds_secrets) {
                effects.push(Effect::DestroySecrets {
                    account_id,
                    provider,
                    attempt_id: Some(attempt.attempt_id),
                    code_ref: code_ref_of(state),
                    secret_ref: None,
                });
            }
        }
        AccountStatus::AwaitingApproval => {
            if let Some(attempt) = state.attempt.as_ref().filter(|a| a.is_open()) {
                let attempt_id = attempt.attempt_id;
                match &attempt.authorization {
                    None => effects.push(Effect::ScheduleExpiry {
                        account_id,
                        attempt_id,
                        at: attempt.expires_at,
                    }),
                    Some(auth) => match (provider, auth.installation_id, auth.code_ref.clone()) {
                        (Provider::GitHub, Some(installation_id), Some(code_ref)) => {
                            effects.push(Effect::VerifyGitHubInstallation {
                                account_id,
                                attempt_id,
                                installation_id,
                                code_ref,
                            })
                        }
                        (Provider::GitLab | Provider::Bitbucket, _, Some(code_ref)) => {
                            effects.push(Effect::ExchangeOAuthCode {
                                account_id,
                                attempt_id,
                                provider,
                                code_ref,
                            })
                        }
                        // The decider never records a callback without these.
                        _ => {}
                    },
                }
            }
        }
        AccountStatus::AwaitingOwnerApproval => {
            if let Some(attempt) = state.attempt.as_ref().filter(|a| a.is_open()) {
                let attempt_id = attempt.attempt_id;
                let request = attempt.request.as_ref();
                let identified = request.and_then(|r| r.identified.as_ref());
                match (&attempt.authorization, identified) {
                    // Approved by an owner: the saga checks the installation.
                    (Some(auth), Some((_, organization))) => {
                        if let Some(installation_id) = auth.installation_id {
                            effects.push(Effect::VerifyRequestedInstallation {
                                account_id,
                                attempt_id,
                                installation_id,
                                organization: organization.clone(),
                            });
                        }
                    }
                    (Some(_), None) => {}
                    (None, identified) => {
                        effects.push(Effect::ScheduleExpiry {
                            account_id,
                            attempt_id,
                            at: attempt.expires_at,
                        });
                        if let (None, Some(code_ref)) = (identified, request.and_then(|r| r.code_ref.clone()))
                        {
                            effects.push(Effect::IdentifyInstallRequest {
                                account_id,
                                attempt_id,
                                code_ref,
                            });
                        }
                    }
                }
            }
        }
        AccountStatus::Active | AccountStatus::AwaitingDetails => {
            if let Some(Grant::Oauth {
                secret_ref,
                token_expires_at,
                ..
            }) = &state.grant
            {
                effects.push(Effect::RefreshOAuthCredentials {
                    account_id,
                    provider,
                    secret_ref: secret_ref.clone(),
                    at: *token_expires_at - refresh_ahead,
                });
            }
        }
        _ => {}
    }
    effects
}
