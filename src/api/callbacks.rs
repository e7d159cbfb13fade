//! `GET /callback/github|gitlab|bitbucket`: where a provider sends the person back after the
//! approval. The query becomes a `CompleteAuthorization` command (the `state` binds it to one
//! account's link attempt; no login needed), then the person is redirected (303) to that
//! account's dashboard page, which shows the next step. A callback that comes again (a reload,
//! Back to the provider and approve again, a late one after the link ended) is not an error for
//! the person: they are sent to the account as it is now, with a note saying what happened. A
//! refusal with no account to show is answered with a page in the app's layout that says, in
//! plain words, the one thing that helps. A callback without a `state` runs nothing and calls no
//! provider: it gets a neutral page (a GitHub `setup_action=update` only schedules a
//! rate-limited reconciliation, see `setup_updates`).

use super::error::ApiError;
use super::link_binding;
use super::AppState;
use crate::engine::{CommandMessage, Request};
use crate::secret::Secret;
use crate::webhooks::Provider;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Ok(provider) = provider.parse::<Provider>() else {
        return error_page(&ApiError::not_found(
            "forgelink links only GitHub, GitLab and Bitbucket accounts",
        ));
    };
    if query.get("state").is_none_or(|s| s.is_empty()) {
        if provider == Provider::GitHub && query.get("setup_action").map(String::as_str) == Some("update") {
            if let Some(id) = query.get("installation_id").and_then(|i| i.parse::<u64>().ok()) {
                state.inner.setup_updates.schedule(&state, id);
            }
        }
        return neutral_page();
    }
    let request = match callback_request(&query) {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let oauth_state = query.get("state").cloned().unwrap_or_default();
    let actor = match link_binding::check(&state, &headers, &oauth_state) {
        link_binding::Check::Unbound => format!("{} callback", provider.display_name()),
        link_binding::Check::Person(person) => person,
        link_binding::Check::Refused => {
            let e = ApiError::new(
                StatusCode::FORBIDDEN,
                "This approval was started in another browser, so it cannot be finished here.",
            )
            .hint("Finish it in the browser that started the link, or open the account here and choose Continue linking.");
            return error_page(&e);
        }
    };
    let message = CommandMessage::new(request).by(&actor);
    match state.execute(message).await {
        Ok(reply) => {
            link_binding::release(&state, &oauth_state);
            let name = state
                .inner
                .engine
                .account_state(reply.account_id)
                .map(|s| s.unique_name)
                .unwrap_or_else(|_| reply.account_id.to_string());
            let to = format!("/accounts/{}", url_segment(&name));
            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
        }
        Err(e) => match state.inner.engine.account_of_state(&oauth_state) {
            Some(account_id) => came_again(&state, account_id, &e),
            None => error_page(&spent_state(provider)),
        },
    }
}

/// A callback for a known account that could not run (already used, expired, superseded, the
/// link ended): the account as it is now, with a note; a real refusal (the installation is
/// another account's) on a page that names it.
fn came_again(state: &AppState, account_id: uuid::Uuid, e: &crate::engine::EngineError) -> Response {
    use crate::domain::DomainError as D;
    use crate::engine::EngineError as E;
    let Ok(account) = state.inner.engine.account_state(account_id) else {
        return error_page(&ApiError::from(clone_error(e)));
    };
    let name = account.unique_name.clone();
    if account.status() == crate::domain::AccountStatus::Unlinked {
        let e = ApiError::new(
            StatusCode::GONE,
            format!("The account {name} was unlinked, so this approval no longer applies."),
        )
        .hint("Link a new account from the accounts page if you still want it.");
        return error_page(&e);
    }
    let approved = matches!(
        account.status(),
        crate::domain::AccountStatus::Active
            | crate::domain::AccountStatus::AwaitingDetails
            | crate::domain::AccountStatus::Suspended
    );
    let note = match e {
        E::Domain(D::StateAlreadyUsed | D::AlreadyApproved { .. }) => "approval-used",
        _ if approved => "approval-used",
        E::Domain(D::LinkAttemptExpired { .. }) => "link-expired",
        E::Domain(D::AttemptSuperseded { .. } | D::StateMismatch) => "link-superseded",
        E::Domain(D::LinkAttemptFailed { .. } | D::NotAllowed { .. } | D::NoLinkAttempt { .. }) => {
            "link-closed"
        }
        E::UnknownState => "link-closed",
        other => {
            let e = ApiError::from(clone_error(other));
            return error_page_for(&e, Some(&name));
        }
    };
    let to = format!("/accounts/{}?note={note}", url_segment(&name));
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

fn clone_error(e: &crate::engine::EngineError) -> crate::engine::EngineError {
    crate::engine::EngineError::Invalid {
        field: e.field().unwrap_or("state"),
        message: e.to_string(),
    }
}

/// The refusal of a `state` forgelink does not know (spent long ago, or changed).
fn spent_state(provider: Provider) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "forgelink does not recognise this return from {}: the link it belonged to is over, or the address was changed.",
            provider.display_name()
        ),
    )
    .hint("Open the account and choose Continue linking (or Link again): forgelink sends you to the provider with a fresh link.")
}

/// The callback's query as the `CompleteAuthorization` it asks for; a malformed field is refused
/// here, naming it, before the engine sees anything. Unknown keys are ignored, as providers add
/// their own (`error_uri`, tracking parameters).
pub fn callback_request(query: &HashMap<String, String>) -> Result<Request, ApiError> {
    let installation_id = match query.get("installation_id").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return Err(
                    ApiError::bad_request("`installation_id` is not a number").field("installation_id")
                )
            }
        },
    };
    // The provider's own refusal (`access_denied`) is passed on: the account records it.
    let error = query.get("error").map(|e| match query.get("error_description") {
        Some(d) => format!("{e}: {d}"),
        None => e.clone(),
    });
    Ok(Request::CompleteAuthorization {
        state: query.get("state").cloned(),
        installation_id,
        setup_action: query.get("setup_action").cloned(),
        code: query.get("code").cloned().map(Secret::new),
        error,
    })
}

/// The answer to a callback that carries no `state`: the same page whatever else it carries.
fn neutral_page() -> Response {
    let body = maud::html! {
        h1 { "Nothing to complete here" }
        p { "This address completes a link started from forgelink. If you changed forgelink's installation on the provider, forgelink picks the change up shortly by itself." }
        p { a.btn href="/" { "Open the accounts" } }
    };
    (
        StatusCode::OK,
        super::pages::layout::public_page("Nothing to complete", body),
    )
        .into_response()
}

/// A name as one URL path segment.
pub fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A page explaining a refused callback, in the app's layout.
pub fn error_page(e: &ApiError) -> Response {
    error_page_for(e, None)
}

fn error_page_for(e: &ApiError, account: Option<&str>) -> Response {
    let body = maud::html! {
        h1 { "This approval could not be used" }
        div.alert role="alert" #error tabindex="-1" {
            p { (super::pages::layout::plain(&e.error)) }
            @if let Some(h) = &e.hint { p { (super::pages::layout::plain(h)) } }
        }
        div.actions {
            @if let Some(name) = account {
                a.btn.primary href={ "/accounts/" (url_segment(name)) } { "Open " (name) }
            }
            a.btn href="/" { "Open the accounts" }
        }
    };
    (
        e.status,
        super::pages::layout::public_page("Approval not used", body),
    )
        .into_response()
}
