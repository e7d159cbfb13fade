//! THE table of routes: every route of the server, the handler that answers it and the one
//! credential it needs. [`super::router`] is built from this table alone, so a route cannot
//! exist without stating who may call it; `tests/http_route_roles.rs` walks the table with every
//! kind of credential.
//!
//! What each need admits (anything else: 401 without a valid credential, 403 with one of the
//! wrong kind, and nothing runs):
//! - [`Need::Admin`]: an admin bearer token (the API's writes and login links);
//! - [`Need::Viewer`]: a viewer or admin bearer token, or a signed-in session of either role;
//! - [`Need::Session`]: a signed-in session of either role (the pages a browser reads);
//! - [`Need::AdminSession`]: a signed-in admin session, and the form's CSRF token (checked by
//!   the handler, which reads the form) — every form post;
//! - [`Need::None`]: open; something else protects it (the OAuth `state`, a webhook's
//!   signature, the one-time login token) or it tells nothing.

use super::auth::{Credential, Role};
use super::error::ApiError;
use super::{
    audit, callbacks, commands, deliveries, headers, limits, link_continue, openapi, pages, problem, queries,
    session, webhooks, AppState,
};
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, map_response, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

/// The credential a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Admin,
    Viewer,
    Session,
    AdminSession,
    None,
}

/// One row of the table.
pub struct Route {
    pub method: Method,
    /// The path pattern, with `{name}` for a path parameter.
    pub path: &'static str,
    pub need: Need,
    /// The largest body it takes (read through `limits::streamed_body_limit`; POST only).
    pub max_body: usize,
    handler: MethodRouter<AppState>,
}

fn row(method: Method, path: &'static str, need: Need, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        need,
        max_body: limits::DEFAULT_BODY_BYTES,
        handler,
    }
}

/// Every route of the server.
pub fn table() -> Vec<Route> {
    use Need::*;
    let (g, p) = (Method::GET, Method::POST);
    vec![
        row(g.clone(), "/healthz", None, get(queries::healthz)),
        row(g.clone(), openapi::PATH, None, get(openapi::serve)),
        row(g.clone(), "/login", None, get(session::login)),
        row(p.clone(), "/logout", Session, post(session::logout)),
        row(g.clone(), "/callback/{provider}", None, get(callbacks::callback)),
        row(
            g.clone(),
            "/callback/continue/{token}",
            None,
            get(link_continue::open),
        ),
        Route {
            max_body: webhooks::MAX_DELIVERY_BYTES,
            ..row(p.clone(), "/webhooks/{provider}", None, post(webhooks::receive))
        },
        // The handler refuses (and counts) a message over its own 64 KiB; past twice that the
        // body is not even read.
        Route {
            max_body: 2 * commands::MAX_COMMAND_BYTES,
            ..row(p.clone(), "/v1/commands", Admin, post(commands::post_command))
        },
        row(
            p.clone(),
            "/v1/login-links",
            Admin,
            post(commands::new_login_link),
        ),
        row(g.clone(), "/v1/accounts", Viewer, get(queries::list_accounts)),
        row(g.clone(), "/v1/accounts/{id}", Viewer, get(queries::get_account)),
        row(
            g.clone(),
            "/v1/accounts/{id}/history",
            Viewer,
            get(queries::history),
        ),
        row(
            g.clone(),
            "/v1/accounts/{id}/groups",
            Viewer,
            get(queries::groups),
        ),
        row(
            g.clone(),
            "/v1/accounts/{id}/workspaces",
            Viewer,
            get(queries::workspaces),
        ),
        row(g.clone(), "/v1/events", Viewer, get(queries::events)),
        row(g.clone(), "/v1/export", Viewer, get(audit::export)),
        row(g.clone(), "/v1/projections/verify", Admin, get(audit::verify)),
        row(g.clone(), "/v1/events/stream", Viewer, get(queries::stream)),
        row(g.clone(), "/v1/deliveries", Viewer, get(deliveries::list)),
        row(
            p.clone(),
            "/v1/deliveries/{id}/retry",
            Admin,
            post(deliveries::retry),
        ),
        row(
            p.clone(),
            "/v1/deliveries/retry-parked",
            Admin,
            post(deliveries::retry_parked),
        ),
        row(g.clone(), "/metrics", Viewer, get(queries::metrics)),
        row(g.clone(), "/", Session, get(pages::accounts_page)),
        row(g.clone(), "/accounts/new", Session, get(pages::new_account_form)),
        row(p.clone(), "/accounts", AdminSession, post(pages::create_account)),
        // A reload of the address a refused form was answered at.
        row(
            g.clone(),
            "/accounts",
            Session,
            get(|| async { axum::response::Redirect::to("/accounts/new") }),
        ),
        row(g.clone(), "/accounts/{name}", Session, get(pages::account_page)),
        row(
            p.clone(),
            "/accounts/{name}/link",
            AdminSession,
            post(pages::restart_link),
        ),
        row(
            p.clone(),
            "/accounts/{name}/details",
            AdminSession,
            post(pages::save_details),
        ),
        row(
            p.clone(),
            "/accounts/{name}/projects",
            AdminSession,
            post(pages::create_project),
        ),
        row(
            p.clone(),
            "/accounts/{name}/import",
            AdminSession,
            post(pages::import_project),
        ),
        row(
            p.clone(),
            "/accounts/{name}/projects/{id}/detach",
            AdminSession,
            post(pages::detach_project),
        ),
        row(
            p.clone(),
            "/accounts/{name}/reconcile",
            AdminSession,
            post(pages::reconcile_account),
        ),
        row(
            p.clone(),
            "/accounts/{name}/rename",
            AdminSession,
            post(pages::rename_account),
        ),
        row(
            g.clone(),
            "/accounts/{name}/unlink",
            Session,
            get(pages::unlink_confirm),
        ),
        row(
            p,
            "/accounts/{name}/unlink",
            AdminSession,
            post(pages::unlink_account),
        ),
    ]
}

/// The router of [`table`], each route behind the guard of its need.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for mut r in table() {
        if r.method == Method::POST {
            r.handler = limits::streamed_body_limit(&state, r.handler, r.max_body);
        }
        // The guard is the outer layer: nobody's body is read before their credential is.
        let guarded = match r.need {
            Need::Admin => r.handler.route_layer(from_fn_with_state(state.clone(), admin)),
            Need::Viewer => r.handler.route_layer(from_fn_with_state(state.clone(), viewer)),
            Need::Session => r
                .handler
                .route_layer(from_fn_with_state(state.clone(), any_session)),
            Need::AdminSession => r
                .handler
                .route_layer(from_fn_with_state(state.clone(), admin_session)),
            Need::None => r.handler,
        };
        router = router.route(r.path, guarded);
    }
    // Inner to outer: every refusal a problem, load shedding, a browser's page instead of the
    // problem, the headers every answer carries.
    router
        .fallback(fallback)
        .layer(from_fn(problem::refusals))
        .layer(from_fn_with_state(state.clone(), limits::shed_load))
        .layer(from_fn(problem::pages_for_browsers))
        .layer(map_response(headers::secure_headers))
        .layer(DefaultBodyLimit::max(limits::DEFAULT_BODY_BYTES))
        .with_state(state)
}

async fn admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.inner.access.credential(req.headers()) {
        Credential::Bearer(Role::Admin) => next.run(req).await,
        Credential::Bearer(Role::Viewer) => {
            ApiError::new(StatusCode::FORBIDDEN, "the viewer token can only read")
                .hint("send commands with the admin token")
                .into_response()
        }
        Credential::Session(_) => ApiError::new(StatusCode::FORBIDDEN, "a dashboard session cannot do this")
            .hint("send Authorization: Bearer ADMIN_TOKEN")
            .into_response(),
        Credential::None | Credential::Invalid => {
            ApiError::unauthorized("send Authorization: Bearer ADMIN_TOKEN").into_response()
        }
    }
}

async fn viewer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.inner.access.credential(req.headers()) {
        Credential::Bearer(_) | Credential::Session(_) => next.run(req).await,
        Credential::None | Credential::Invalid => {
            ApiError::unauthorized("send Authorization: Bearer VIEWER_TOKEN (or the admin token)")
                .into_response()
        }
    }
}

async fn any_session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    page_guard(&state, req, next, None).await
}

async fn admin_session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    page_guard(&state, req, next, Some(Role::Admin)).await
}

/// The pages take only a browser's session (a bearer token on a page is refused: forms must
/// come from a signed-in person); the signed-in person goes to the handler as an extension.
async fn page_guard(state: &AppState, mut req: Request, next: Next, at_least: Option<Role>) -> Response {
    let access = &state.inner.access;
    match access.session(req.headers()) {
        Ok(Some(signed)) if at_least.is_none_or(|r| signed.role >= r) => {
            req.extensions_mut().insert(signed);
            next.run(req).await
        }
        Ok(Some(_)) => session::forbidden("your sign-in can view the dashboard but not change it"),
        Ok(None) if access.bearer_role(req.headers()).is_ok_and(|r| r.is_some()) => {
            session::forbidden("the pages need a signed-in session, not an API token")
        }
        // Back from a provider: a `SameSite=Strict` session cookie is not sent on a navigation
        // that began on another site. The page loads itself again from here, and that load
        // carries it; without a session the second load gets the sign-in page.
        Ok(None) if req.method() == Method::GET && cross_site(req.headers()) => reload_page(req.uri()),
        Ok(None) | Err(_) => session::sign_in(),
    }
}

fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
}

/// A page that loads `uri` again, now as a navigation from this site.
fn reload_page(uri: &axum::http::Uri) -> Response {
    let to = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let body = maud::html! {
        meta http-equiv="refresh" content={ "0;url=" (to) };
        h1 { "Opening forgelink…" }
        p { a.btn.primary href=(to) { "Continue" } }
    };
    let page = super::pages::layout::public_page("Opening", body);
    (StatusCode::OK, page).into_response()
}

async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    let api = req.uri().path().starts_with("/v1");
    if !api && super::problem::prefers_html(req.headers()) {
        let signed = state.inner.access.session(req.headers()).ok().flatten();
        return pages::error_page_as(
            signed.as_ref(),
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is no page at this address. The accounts page links to everything forgelink shows.",
        );
    }
    match state.inner.access.credential(req.headers()) {
        Credential::Bearer(_) | Credential::Session(_) => {
            ApiError::not_found(format!("no route {} {}", req.method(), req.uri().path())).into_response()
        }
        Credential::None | Credential::Invalid => ApiError::unauthorized(
            "send Authorization: Bearer TOKEN (in a browser: open a one-time login link)",
        )
        .into_response(),
    }
}
