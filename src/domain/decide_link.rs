//! The link half of the decider: starting an attempt, the provider's callback, the saga's
//! approval, failure and expiry. A link attempt's `state` is single-use and expires; a newer
//! attempt supersedes an older one, whose state stops working at once.

use super::decide::not_allowed;
use super::error::DomainError;
use super::state::{AccountState, AttemptOutcome, LinkAttempt};
use super::status::AccountStatus;
use chrono::{DateTime, Utc};
use forgelink_events::{
    AuthorizationReceived, Event, Grant, InstallApproved, InstallRequestIdentified, InstallRequested,
    LinkExpired, LinkFailed, LinkStarted, Provider,
};
use uuid::Uuid;

pub(super) fn start_link(
    state: &AccountState,
    attempt_id: Uuid,
    state_hash: &str,
    authorize_url: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    if !state.status().can_start_link() {
        return Err(not_allowed(state, "start a link"));
    }
    if let Some(current) = state.current_attempt(attempt_id) {
        if current.is_open() && current.state_hash == state_hash {
            return Ok(vec![]); // the same StartLink again: already done
        }
    }
    if state.knows_attempt(attempt_id) {
        return Err(DomainError::InvalidField {
            field: "attempt_id",
            reason: "this attempt id was already used; each link needs a new one".into(),
        });
    }
    if state_hash.is_empty() {
        return Err(missing("state_hash", "the hash of the link's random state"));
    }
    if authorize_url.is_empty() {
        return Err(missing("authorize_url", "where the person approves the link"));
    }
    if expires_at <= now {
        return Err(DomainError::InvalidField {
            field: "expires_at",
            reason: format!("{expires_at} is not in the future"),
        });
    }
    Ok(vec![LinkStarted {
        attempt_id,
        state_hash: state_hash.to_string(),
        authorize_url: authorize_url.to_string(),
        expires_at,
    }
    .into()])
}

/// The callback's claims, as the engine passed them (state hashed, code in the vault).
pub(super) struct Callback<'a> {
    pub state_hash: &'a str,
    pub installation_id: Option<u64>,
    pub setup_action: Option<&'a str>,
    pub code_ref: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub(super) fn complete_authorization(
    state: &AccountState,
    cb: Callback<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    const ACTION: &str = "complete the authorization";
    let provider = state.provider.unwrap_or(Provider::GitHub);
    let on = provider.display_name();
    if matches!(state.status(), AccountStatus::Active | AccountStatus::Suspended) {
        return Err(DomainError::NotAllowed {
            action: ACTION,
            name: state.unique_name.clone(),
            status: state.status(),
            situation: format!(
                "is already linked on {on}; a callback for a linked account is not a new approval \
                 (changes to its repositories are recorded as repository changes)"
            ),
        });
    }
    let attempt = usable_attempt(state, cb.state_hash, now)?;
    if state.status() != AccountStatus::AwaitingApproval {
        return Err(not_allowed(state, ACTION));
    }
    let failed = |reason: String| {
        Ok(vec![LinkFailed {
            attempt_id: Some(attempt.attempt_id),
            reason,
        }
        .into()])
    };
    if let Some(error) = cb.error {
        return match error {
            "access_denied" => failed(format!("the approval was cancelled on {on}")),
            other => failed(format!(
                "{on} refused the link ({}); start a new link",
                shorten(other)
            )),
        };
    }
    let code_ref = cb.code_ref.filter(|c| !c.is_empty());
    let received = match provider {
        Provider::GitHub => {
            match cb.setup_action {
                None | Some("install") | Some("update") => {}
                Some("request") => {
                    let code_ref = code_ref.ok_or_else(|| {
                        missing(
                            "code",
                            "GitHub sends it when the app requests user authorization during installation",
                        )
                    })?;
                    return Ok(vec![InstallRequested {
                        attempt_id: attempt.attempt_id,
                        code_ref: Some(code_ref.to_string()),
                        expires_at: now + install_request_ttl(),
                    }
                    .into()]);
                }
                Some(other) => {
                    return Err(DomainError::InvalidField {
                        field: "setup_action",
                        reason: format!("`{}`: expected install, update or request", shorten(other)),
                    })
                }
            }
            let installation_id = cb.installation_id.ok_or_else(|| {
                missing(
                    "installation_id",
                    "GitHub sends it back once the app is installed",
                )
            })?;
            let code_ref = code_ref.ok_or_else(|| {
                missing(
                    "code",
                    "GitHub sends it when the app requests user authorization during installation",
                )
            })?;
            AuthorizationReceived {
                attempt_id: attempt.attempt_id,
                installation_id: Some(installation_id),
                setup_action: cb.setup_action.map(str::to_string),
                code_ref: Some(code_ref.to_string()),
            }
        }
        Provider::GitLab | Provider::Bitbucket => {
            let code_ref = code_ref
                .ok_or_else(|| missing("code", &format!("{on} sends it back once the person approves")))?;
            AuthorizationReceived {
                attempt_id: attempt.attempt_id,
                installation_id: None,
                setup_action: None,
                code_ref: Some(code_ref.to_string()),
            }
        }
    };
    Ok(vec![received.into()])
}

/// The current attempt, if `state_hash` is its state and that state may still be used.
fn usable_attempt<'s>(
    state: &'s AccountState,
    state_hash: &str,
    now: DateTime<Utc>,
) -> Result<&'s LinkAttempt, DomainError> {
    let attempt = state.attempt.as_ref().ok_or_else(|| DomainError::NoLinkAttempt {
        name: state.unique_name.clone(),
    })?;
    if attempt.state_hash != state_hash {
        return Err(DomainError::StateMismatch);
    }
    if attempt.authorization.is_some()
        || attempt.request.is_some()
        || attempt.outcome == AttemptOutcome::Approved
    {
        return Err(DomainError::StateAlreadyUsed);
    }
    match &attempt.outcome {
        AttemptOutcome::Expired => Err(DomainError::LinkAttemptExpired {
            expires_at: attempt.expires_at,
        }),
        AttemptOutcome::Failed { reason } => Err(DomainError::LinkAttemptFailed {
            reason: reason.clone(),
        }),
        _ if now >= attempt.expires_at => Err(DomainError::LinkAttemptExpired {
            expires_at: attempt.expires_at,
        }),
        _ => Ok(attempt),
    }
}

/// How long an installation request may wait for an owner before the link expires: owners
/// approve in their own time, not within a click-through link's minutes.
pub(crate) fn install_request_ttl() -> chrono::Duration {
    chrono::Duration::days(7)
}

/// The saga found the person's installation request on GitHub. Again with the same facts is
/// nothing new; an attempt that ended or was superseded takes nothing.
pub(super) fn identify_install_request(
    state: &AccountState,
    attempt_id: Uuid,
    requester: &str,
    organization: &str,
) -> Result<Vec<Event>, DomainError> {
    let Some(attempt) = finished_or_current(state, attempt_id)? else {
        return Ok(vec![]);
    };
    let Some(request) = attempt.request.as_ref() else {
        return Err(not_allowed(state, "identify the installation request"));
    };
    if requester.trim().is_empty() || organization.trim().is_empty() {
        return Err(missing(
            "requester",
            "GitHub names who asked and on which organization",
        ));
    }
    if request.identified.is_some() {
        return Ok(vec![]);
    }
    Ok(vec![InstallRequestIdentified {
        attempt_id,
        requester: requester.to_string(),
        organization: organization.to_string(),
    }
    .into()])
}

/// An owner approved the request (the `installation` `created` webhook named its requester):
/// the new installation is recorded as the attempt's callback would be, for the saga to verify.
pub(super) fn complete_requested_install(
    state: &AccountState,
    attempt_id: Uuid,
    installation_id: u64,
) -> Result<Vec<Event>, DomainError> {
    let Some(attempt) = finished_or_current(state, attempt_id)? else {
        return Ok(vec![]);
    };
    if attempt
        .request
        .as_ref()
        .and_then(|r| r.identified.as_ref())
        .is_none()
    {
        return Err(not_allowed(state, "complete the requested installation"));
    }
    match attempt.authorization.as_ref().map(|a| a.installation_id) {
        Some(Some(id)) if id == installation_id => return Ok(vec![]),
        Some(_) => return Err(DomainError::StateAlreadyUsed),
        None => {}
    }
    Ok(vec![AuthorizationReceived {
        attempt_id,
        installation_id: Some(installation_id),
        setup_action: Some("request".into()),
        code_ref: None,
    }
    .into()])
}

pub(super) fn approve_install(
    state: &AccountState,
    attempt_id: Uuid,
    grant: &Grant,
) -> Result<Vec<Event>, DomainError> {
    let provider = state.provider.unwrap_or(Provider::GitHub);
    let attempt = current_attempt(state, attempt_id)?;
    let received = match &attempt.outcome {
        AttemptOutcome::Approved => return Err(DomainError::AlreadyApproved { attempt_id }),
        AttemptOutcome::Failed { reason } => {
            return Err(DomainError::LinkAttemptFailed {
                reason: reason.clone(),
            })
        }
        AttemptOutcome::Expired => {
            return Err(DomainError::LinkAttemptExpired {
                expires_at: attempt.expires_at,
            })
        }
        AttemptOutcome::Open => attempt
            .authorization
            .as_ref()
            .ok_or(DomainError::NoAuthorization {
                attempt_id,
                provider: provider.display_name(),
            })?,
    };
    let mismatch = |reason: String| DomainError::GrantMismatch {
        provider: provider.display_name(),
        reason,
    };
    match (provider, grant) {
        (Provider::GitHub, Grant::GithubInstallation { installation_id, .. }) => {
            if received.installation_id != Some(*installation_id) {
                return Err(mismatch(format!(
                    "installation {installation_id} is not the one the callback named"
                )));
            }
        }
        (Provider::GitLab | Provider::Bitbucket, Grant::Oauth { secret_ref, .. }) => {
            if secret_ref.is_empty() {
                return Err(missing("secret_ref", "where the granted tokens are stored"));
            }
        }
        (_, Grant::GithubInstallation { .. }) => {
            return Err(mismatch("an app installation grant is only for GitHub".into()))
        }
        (_, Grant::Oauth { .. }) => {
            return Err(mismatch(
                "GitHub links are app installations, not OAuth grants".into(),
            ))
        }
    }
    Ok(vec![InstallApproved {
        attempt_id,
        grant: grant.clone(),
    }
    .into()])
}

pub(super) fn fail_link(
    state: &AccountState,
    attempt_id: Option<Uuid>,
    reason: &str,
) -> Result<Vec<Event>, DomainError> {
    if reason.trim().is_empty() {
        return Err(missing(
            "reason",
            "a person must be able to read why the link failed",
        ));
    }
    let current = state.attempt.as_ref().ok_or_else(|| DomainError::NoLinkAttempt {
        name: state.unique_name.clone(),
    })?;
    let attempt_id = attempt_id.unwrap_or(current.attempt_id);
    match finished_or_current(state, attempt_id)? {
        None => Ok(vec![]),
        Some(_) => Ok(vec![LinkFailed {
            attempt_id: Some(attempt_id),
            reason: reason.to_string(),
        }
        .into()]),
    }
}

pub(super) fn expire_link(
    state: &AccountState,
    attempt_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    let Some(attempt) = finished_or_current(state, attempt_id)? else {
        return Ok(vec![]);
    };
    // The state was used in time: the saga's verification decides the attempt, not the clock.
    if attempt.authorization.is_some() {
        return Ok(vec![]);
    }
    if now < attempt.expires_at {
        return Err(DomainError::NotYetExpired {
            expires_at: attempt.expires_at,
        });
    }
    Ok(vec![LinkExpired { attempt_id }.into()])
}

/// The current attempt with this id, still open; `None` when the attempt was superseded or has
/// already ended (a saga re-run: nothing left to do); an error for an attempt never seen.
fn finished_or_current(state: &AccountState, attempt_id: Uuid) -> Result<Option<&LinkAttempt>, DomainError> {
    match state.current_attempt(attempt_id) {
        Some(a) if a.is_open() => Ok(Some(a)),
        Some(_) => Ok(None),
        None if state.knows_attempt(attempt_id) => Ok(None),
        None if state.attempt.is_none() => Err(DomainError::NoLinkAttempt {
            name: state.unique_name.clone(),
        }),
        None => Err(DomainError::UnknownAttempt {
            name: state.unique_name.clone(),
            attempt_id,
        }),
    }
}

fn current_attempt(state: &AccountState, attempt_id: Uuid) -> Result<&LinkAttempt, DomainError> {
    let name = || state.unique_name.clone();
    match state.current_attempt(attempt_id) {
        Some(a) => Ok(a),
        None if state.knows_attempt(attempt_id) => Err(DomainError::AttemptSuperseded {
            name: name(),
            attempt_id,
        }),
        None if state.attempt.is_none() => Err(DomainError::NoLinkAttempt { name: name() }),
        None => Err(DomainError::UnknownAttempt {
            name: name(),
            attempt_id,
        }),
    }
}

fn missing(field: &'static str, why: &str) -> DomainError {
    DomainError::MissingField {
        field,
        why: why.to_string(),
    }
}

/// Outside input quoted in a message: printable ASCII only, at most 80 characters.
fn shorten(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(80)
        .collect()
}
