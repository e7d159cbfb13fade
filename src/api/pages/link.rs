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

fn form_page(signed: &Signed, input: &NewAccount, error: Option<&str>) -> Markup {
    let providers = [Provider::GitHub, Provider::GitLab, Provider::Bitbucket];
    let body = html! {
        p { a href="/" { "← Accounts" } }
        h1 { "Link an account" }
        p.sub { "Choose the provider, give the account a unique name, then approve forgelink on the provider." }
        (super::layout::alert(error))
        div.card {
            form method="post" action="/accounts" {
                (csrf::field(signed))
                fieldset {
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
                    input type="text" id="name" name="name" value=(input.name) required
                        maxlength="63" pattern="[A-Za-z0-9_-]+" autocomplete="off"
                        aria-describedby="name-hint";
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
    let Some(provider) = parse_provider(&input.provider) else {
        let page = form_page(&signed, &input, Some("choose GitHub, GitLab or Bitbucket"));
        return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
    };
    let name = input.name.trim().to_string();
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
        let page = form_page(&signed, &input, Some(&e.to_string()));
        return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
    }
    start(&state, &signed, &headers, &name).await
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
                    before_you_go(signed, name, &url, &reply.warnings).into_response()
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
                Some(e.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Said before the person leaves for the provider, when something there will not go as they
/// expect (an organization whose installation another account already holds).
fn before_you_go(signed: &Signed, name: &str, url: &str, warnings: &[String]) -> Markup {
    let body = html! {
        h1 { "Before you continue" }
        div.alert role="status" #warnings {
            @for w in warnings { p { (w) } }
        }
        p { a.button href=(url) { "Continue to GitHub" } " " a href=(super::layout::account_href(name)) { "Back to the account" } }
    };
    page(signed, "Before you continue", body)
}
