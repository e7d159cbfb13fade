//! Every route of the server, walked with every kind of credential: nothing, the viewer token,
//! the admin token, a made-up session cookie, the viewer token with a made-up cookie and the
//! CSRF value an attacker can compute from it, a real viewer session and a real admin session.
//! Each answer must be what the route's row in THE table (`forgelink::api::routes::table`)
//! says: let through, or refused (401 without a valid credential, 403 with one of the wrong
//! kind) with nothing appended to the log.

mod http_support;

use forgelink::api::auth::Role;
use forgelink::api::pages::visitor::hidden_inputs;
use forgelink::api::routes::{table, Need};
use http_support::{Http, VIEWER};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    None,
    ViewerBearer,
    AdminBearer,
    ForgedCookie,
    ViewerBearerForgedCookie,
    ViewerSession,
    AdminSession,
}

const ALL: [Cred; 7] = [
    Cred::None,
    Cred::ViewerBearer,
    Cred::AdminBearer,
    Cred::ForgedCookie,
    Cred::ViewerBearerForgedCookie,
    Cred::ViewerSession,
    Cred::AdminSession,
];

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Through,
    Refused(u16),
}

/// What the table's need promises for each credential.
fn expect(need: Need, cred: Cred) -> Expect {
    use Cred::*;
    use Expect::*;
    match (need, cred) {
        (Need::None, _) => Through,
        (_, None | ForgedCookie) => Refused(401),
        (Need::Admin, AdminBearer) => Through,
        (Need::Admin, _) => Refused(403),
        (Need::Viewer, _) => Through,
        (Need::Session | Need::AdminSession, ViewerBearerForgedCookie) => Refused(401),
        (Need::Session, ViewerSession | AdminSession) => Through,
        (Need::AdminSession, AdminSession) => Through,
        (Need::Session | Need::AdminSession, _) => Refused(403),
    }
}

const FORGED: &str = "forgelink_session=made-up-by-the-attacker";

/// What the old pages accepted as the CSRF token of a cookie: computable by anyone.
fn computed_csrf() -> String {
    let mut h = Sha256::new();
    h.update(b"forgelink page csrf v1\0");
    h.update(b"made-up-by-the-attacker");
    hex::encode(h.finalize())
}

/// A fresh session of `role` and its CSRF token (read from a page, as a browser would).
async fn session(h: &Http, role: Role, n: usize) -> (String, String) {
    let link = h.demo.server.state().login_link_for(&format!("person-{n}"), role);
    let r = h.client.get(&link).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = h
        .client
        .get(h.url("/accounts/new"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_inputs(&page)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
        .expect("a page with a form");
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_kind_of_credential_as_its_row_in_the_table_says() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "matrix"}))
        .await;
    let mut n = 0;
    for route in table() {
        let path = route
            .path
            .replace("{provider}", "github")
            .replace("{id}", "matrix")
            .replace("{name}", "matrix");
        let mut open_answer = None;
        for cred in ALL {
            n += 1;
            let (cookie, csrf) = match cred {
                Cred::ViewerSession => session(&h, Role::Viewer, n).await,
                Cred::AdminSession => session(&h, Role::Admin, n).await,
                Cred::ForgedCookie | Cred::ViewerBearerForgedCookie => (FORGED.to_string(), computed_csrf()),
                _ => (String::new(), String::new()),
            };
            let mut req = h.client.request(route.method.clone(), h.url(&path));
            if !cookie.is_empty() {
                req = req.header("cookie", &cookie);
            }
            match cred {
                Cred::ViewerBearer | Cred::ViewerBearerForgedCookie => req = req.bearer_auth(VIEWER),
                Cred::AdminBearer => req = req.bearer_auth(h.admin()),
                _ => {}
            }
            if route.method == Method::POST {
                req = match route.path {
                    "/v1/commands" => req.header("content-type", "application/json").body(
                        json!({"type": "NameAccount", "provider": "gitlab", "unique_name": format!("m-{n}")})
                            .to_string(),
                    ),
                    "/v1/login-links" => req.json(&json!({"for": "mallory"})),
                    "/accounts" => req.form(&[
                        ("csrf", csrf.as_str()),
                        ("provider", "gitlab"),
                        ("name", &format!("form-{n}")),
                    ]),
                    "/webhooks/{provider}" => req.header("content-type", "application/json").body("{}"),
                    _ => req.form(&[("csrf", csrf.as_str())]),
                };
            }
            let head = h.head();
            let answer = req.send().await.expect("the server answers");
            let status = answer.status();
            let what = format!("{} {} with {cred:?}", route.method, route.path);
            match expect(route.need, cred) {
                Expect::Through => {
                    assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN
                            || route.need == Need::None,
                        "{what} must be let through, got {status}: {}",
                        answer.text().await.unwrap_or_default()
                    );
                    // A spent login link opened by someone signed in leads to the dashboard.
                    let signed_in_login =
                        route.path == "/login" && matches!(cred, Cred::AdminSession | Cred::ViewerSession);
                    if route.need == Need::None && !signed_in_login {
                        // An open route answers the same whatever credential comes along.
                        let first = *open_answer.get_or_insert(status);
                        assert_eq!(status, first, "{what}");
                    }
                }
                Expect::Refused(code) => {
                    let body = answer.text().await.unwrap_or_default();
                    assert_eq!(status.as_u16(), code, "{what}: {body}");
                    assert_eq!(h.head(), head, "{what} appended nothing");
                    assert!(!body.contains("state="), "{what} leaks no approval URL: {body}");
                }
            }
        }
    }
    // No route outside the table: an unknown path is 404 with a credential, 401 without.
    let unknown = h
        .client
        .get(h.url("/v1/nothing-here"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let unknown = h.client.get(h.url("/v1/nothing-here")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_with_a_made_up_cookie_cannot_start_a_link_from_the_pages() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "target"}))
        .await;
    let head = h.head();
    for (path, form) in [
        ("/accounts", vec![("provider", "github"), ("name", "viewer-made")]),
        ("/accounts/target/link", vec![]),
    ] {
        let csrf = computed_csrf();
        let mut fields = form.clone();
        fields.push(("csrf", &csrf));
        let r = h
            .client
            .post(h.url(path))
            .bearer_auth(VIEWER)
            .header("cookie", FORGED)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            r.headers().get("location").is_none(),
            "{path}: no redirect to the provider"
        );
    }
    assert_eq!(h.head(), head, "nothing was appended");
    assert!(h.demo.server.engine().resolve_account("viewer-made").is_err());
    h.demo.shutdown().await;
}

#[test]
fn the_audit_reads_of_the_command_line_are_routes_with_the_roles_they_need() {
    let need = |method: Method, path: &str| {
        table()
            .into_iter()
            .find(|r| r.method == method && r.path == path)
            .map(|r| r.need)
    };
    // The export holds what /v1/events pages through: a viewer may read it.
    assert_eq!(need(Method::GET, "/v1/export"), Some(Need::Viewer));
    // The comparison replays the whole log: an operator's call.
    assert_eq!(need(Method::GET, "/v1/projections/verify"), Some(Need::Admin));
    assert_eq!(need(Method::GET, "/v1/accounts/{id}/history"), Some(Need::Viewer));
    assert_eq!(need(Method::GET, "/v1/deliveries"), Some(Need::Viewer));
}
