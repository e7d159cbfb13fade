//! Linking an account from the page: `GET /accounts/new` (choose GitHub, GitLab or Bitbucket and
//! a unique name), `POST /accounts` (name it, start the link, send the person to the provider's
//! approval page), and `POST /accounts/{name}/link` (start again after a failure or expiry).

use super::layout::{page, provider_badge};
use super::{account, csrf, refused, run};
use crate::api::auth::Signed;
use crate::api::AppState;
use crate::engine::Request;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use forgelink_events::Provider;
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct NewAccount {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    name: String,
}

pub async fn new_form(Extension(signed): Extension<Signed>) -> Markup {
    form_page(&signed, &NewAccount::default(), None)
}

/// Why the form was refused, tied to its field, with the one action that helps.
pub(crate) struct Refusal {
    field: &'static str,
    message: String,
    /// An account the person can go on with instead: its name, and whether to continue linking
    /// it (else only open it).
    offer: Option<(String, bool)>,
}

/// What an account name may contain, said whenever a name is refused.
pub const NAME_RULE: &str = "A name is 1–63 letters, digits, - or _, e.g. acme-infra.";

fn form_page(signed: &Signed, input: &NewAccount, refusal: Option<&Refusal>) -> Markup {
    let name_error = refusal.filter(|r| r.field == "name");
    let provider_error = refusal.filter(|r| r.field == "provider");
    let providers = [Provider::GitHub, Provider::GitLab, Provider::Bitbucket];
    let body = html! {
        p { a href="/" { "← Accounts" } }
        h1 { "Link an account" }
        p.sub { "Choose the provider, give the account a unique name, then approve forgelink on the provider." }
        @if let Some(r) = refusal {
            div.alert role="alert" #error tabindex="-1" {
                p { (r.message) }
                @if let Some((name, resume)) = &r.offer {
                    div.actions {
                        @if *resume {
                            form.inline method="post" action={ (super::layout::account_href(name)) "/link" } {
                                (csrf::field(signed))
                                button.btn.primary type="submit" { "Continue linking " (name) }
                            }
                        }
                        a.btn href=(super::layout::account_href(name)) { "Open " (name) }
                    }
                }
            }
        }
        div.card {
            form method="post" action="/accounts" {
                (csrf::field(signed))
                fieldset aria-invalid=[provider_error.map(|_| "true")] aria-describedby=[provider_error.map(|_| "error")] {
                    legend { "Provider" }
                    div.choices {
                        @for p in providers {
                            label.choice for={ "provider-" (p.as_str()) } {
                                input type="radio" name="provider" id={ "provider-" (p.as_str()) }
                                    value=(p.as_str()) required
                                    checked[input.provider == p.as_str()];
                                (provider_badge(p))
                            }
                        }
                    }
                }
                div.field {
                    label for="name" { "Unique name" }
                    // The pattern is compiled with the `v` flag by current browsers: `-` escaped.
                    input type="text" id="name" name="name" value=(input.name) required
                        maxlength="63" pattern="[A-Za-z0-9_\\-]+" autocomplete="off"
                        title=(NAME_RULE)
                        aria-invalid=[name_error.map(|_| "true")]
                        aria-describedby={ "name-hint" @if name_error.is_some() { " error" } };
                    p.hint #name-hint { "1–63 letters, digits, - or _. Unique across all accounts, e.g. acme-infra." }
                }
                div.actions {
                    button.btn.primary type="submit" { "Link" }
                    a.btn href="/" { "Cancel" }
                }
            }
        }
    };
    page(signed, "Link an account", body)
}

fn parse_provider(s: &str) -> Option<Provider> {
    match s {
        "github" => Some(Provider::GitHub),
        "gitlab" => Some(Provider::GitLab),
        "bitbucket" => Some(Provider::Bitbucket),
        _ => None,
    }
}

/// `POST /accounts`: names the account and starts its link; 303 to the provider.
pub async fn create(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    headers: HeaderMap,
    Form(input): Form<NewAccount>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    let refuse = |r: Refusal| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(&signed, &input, Some(&r)),
        )
            .into_response()
    };
    let Some(provider) = parse_provider(&input.provider) else {
        return refuse(Refusal {
            field: "provider",
            message: "Choose GitHub, GitLab or Bitbucket.".into(),
            offer: None,
        });
    };
    let name = input.name.trim().to_string();
    if name.is_empty() {
        return refuse(Refusal {
            field: "name",
            message: format!("Give the account a name. {NAME_RULE}"),
            offer: None,
        });
    }
    if let Some(r) = name_taken(&state, &signed, &name) {
        return refuse(r);
    }
    let named = run(
        &state,
        &signed,
        Request::NameAccount {
            provider,
            unique_name: name.clone(),
            account_id: None,
        },
    )
    .await;
    if let Err(e) = named {
        let invalid_name = matches!(&e, crate::engine::EngineError::Domain(d) if d.field() == Some("unique_name") || matches!(d, crate::domain::DomainError::InvalidName { .. }));
        let message = super::layout::plain(&e.to_string());
        let message = if invalid_name {
            format!("{message}. {NAME_RULE}")
        } else {
            message
        };
        return refuse(Refusal {
            field: "name",
            message,
            offer: name_taken(&state, &signed, &name).and_then(|r| r.offer),
        });
    }
    start(&state, &signed, &headers, &name).await
}

/// When `name` is already an account's: say whose, and offer to continue linking it when it
/// is this person's own unfinished link, or to open it.
fn name_taken(state: &AppState, signed: &Signed, name: &str) -> Option<Refusal> {
    let row = super::account::current_row(state, name)?;
    if row.status == forgelink_projections::AccountStatus::Unlinked {
        return None;
    }
    let unfinished = !matches!(
        row.status,
        forgelink_projections::AccountStatus::Active | forgelink_projections::AccountStatus::Suspended
    );
    let own = super::account::named_by(state, &row).as_deref() == Some(signed.name.as_str());
    let on = row.provider.display_name();
    let message = if unfinished && own {
        format!(
            "You already started linking the {on} account {}; continue where you left off.",
            row.name
        )
    } else if unfinished {
        format!(
            "The name {} is taken by a {on} account whose link is not finished yet.",
            row.name
        )
    } else {
        format!(
            "The name {} is taken by a linked {on} account. Choose another name.",
            row.name
        )
    };
    Some(Refusal {
        field: "name",
        message,
        offer: Some((
            row.name.to_string(),
            unfinished && row.status != forgelink_projections::AccountStatus::AwaitingDetails,
        )),
    })
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /accounts/{name}/link`: a new link attempt for an existing account.
pub async fn restart(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(input): Form<CsrfOnly>,
) -> Response {
    if !csrf::verify(&state, &signed, input.csrf.as_deref()) {
        return refused(&signed);
    }
    start(&state, &signed, &headers, &name).await
}

/// Starts the link and sends the person to the approval page, or shows the account with why
/// it could not start.
async fn start(state: &AppState, signed: &Signed, headers: &HeaderMap, name: &str) -> Response {
    let started = run(
        state,
        signed,
        Request::StartLink {
            account: name.to_string(),
        },
    )
    .await;
    match started {
        Ok(reply) => match reply.authorize_url {
            Some(url) => {
                // The approval must come back to this browser (see `link_binding`).
                let set_cookie = crate::api::link_binding::bind(state, headers, &url, &signed.name);
                let mut response = if reply.warnings.is_empty() {
                    Redirect::to(&url).into_response()
                } else {
                    before_you_go(state, signed, name, &url, &reply.warnings).into_response()
                };
                if let Some(c) = set_cookie.and_then(|c| c.parse().ok()) {
                    response.headers_mut().insert(axum::http::header::SET_COOKIE, c);
                }
                response
            }
            None => Redirect::to(&super::layout::account_href(name)).into_response(),
        },
        Err(e) => {
            account::render(
                state,
                signed,
                name,
                account::View::error(e.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Said before the person leaves for the provider, when something there will not go as they
/// expect: an organization whose installation another account already holds (GitHub would show
/// that installation's settings, and a second install there would change the linked account's).
fn before_you_go(state: &AppState, signed: &Signed, name: &str, url: &str, warnings: &[String]) -> Markup {
    use forgelink_projections::{AccountStatus, Scope};
    let linked: Vec<(String, String)> = state
        .inner
        .dashboard
        .list(forgelink_projections::AccountFilter::default())
        .iter()
        .filter(|r| &*r.name != name && r.provider == Provider::GitHub)
        .filter(|r| matches!(r.status, AccountStatus::Active | AccountStatus::Suspended))
        .filter_map(|r| match &r.scope {
            Some(Scope::GithubAccount { login, .. }) => Some((login.to_string(), r.name.to_string())),
            _ => None,
        })
        .collect();
    let body = html! {
        h1 { "Before you go to GitHub" }
        div.note role="status" #warnings {
            @if linked.is_empty() {
                @for w in warnings { p { (super::layout::plain(w)) } }
            } @else {
                @for (login, account) in &linked {
                    p data-linked=(account) {
                        "The app is already installed on " strong { (login) } ", linked as "
                        a href=(super::layout::account_href(account)) { (account) } ". "
                        "Choosing " (login) " on GitHub would change that installation instead of making a new one, and this link would not finish. "
                        "Choose another organization there, or open " (account) " instead."
                    }
                }
            }
        }
        div.actions {
            a.btn.primary href=(url) { "Continue to GitHub" }
            @for (_, account) in &linked {
                a.btn href=(super::layout::account_href(account)) { "Open " (account) }
            }
            a.btn href=(super::layout::account_href(name)) { "Back to " (name) }
        }
    };
    page(signed, "Before you go to GitHub", body)
}
