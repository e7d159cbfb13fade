//! What protects the pages: no session, no page (401); a form without the session's CSRF token
//! is refused and changes nothing; a refused command is shown in the page in an alert.

mod pages_support;

use forgelink::api::pages::visitor::Visitor;
use pages_support::{csrf, start};

fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_401_without_a_session() {
    let site = start().await;
    let stranger = Visitor::new(&site.demo.base_url).unwrap();
    for path in ["/", "/accounts/new", "/accounts/anything"] {
        let page = stranger.get(path).await.unwrap();
        assert_eq!(page.status, 401, "{path}");
        assert!(
            !page.body.contains("Link account"),
            "{path} shows nothing of the dashboard"
        );
    }
    let head = site.head();
    let url = url::Url::parse(&format!("{}/accounts", site.demo.base_url)).unwrap();
    let resp = stranger
        .submit_once(&url, &form(&[("provider", "github"), ("name", "intruder")]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(site.head(), head, "nothing was appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let site = start().await;
    let head = site.head();
    let url = url::Url::parse(&format!("{}/accounts", site.demo.base_url)).unwrap();
    let missing = site
        .visitor
        .submit_once(&url, &form(&[("provider", "github"), ("name", "forged")]))
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    let body = missing.text().await.unwrap();
    assert!(body.contains("role=\"alert\""), "{body}");

    // A token of another session does not do either.
    let mut other = Visitor::new(&site.demo.base_url).unwrap();
    other.sign_in(&site.demo.login_link()).await.unwrap();
    let others_token = csrf(&other.get("/accounts/new").await.unwrap());
    let mine = csrf(&site.visitor.get("/accounts/new").await.unwrap());
    assert_ne!(others_token, mine, "each session has its own token");
    let wrong = site
        .visitor
        .submit_once(
            &url,
            &form(&[
                ("csrf", &others_token),
                ("provider", "github"),
                ("name", "forged"),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(site.head(), head, "nothing was appended");
    assert!(site.demo.server.engine().resolve_account("forged").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_refused_in_an_alert_and_appends_nothing() {
    let site = start().await;
    let first = site.link("gitlab", "acme").await;
    assert_eq!(first.url.path(), "/oauth/authorize");
    let head = site.head();
    let again = site.link("bitbucket", "ACME").await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("role=\"alert\""), "{}", again.body);
    assert!(
        again.body.contains("value=\"ACME\""),
        "the form keeps what was typed"
    );
    assert_eq!(site.head(), head, "nothing was appended");

    let bad = site.link("github", "no spaces").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("role=\"alert\""));
    assert_eq!(site.head(), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_empty_dashboard_invites_to_link_an_account() {
    let site = start().await;
    let page = site.visitor.get("/").await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No accounts linked yet."));
    assert!(page.body.contains("href=\"/accounts/new\""));
    let missing = site.visitor.get("/accounts/nobody").await.unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("role=\"alert\""));
}
