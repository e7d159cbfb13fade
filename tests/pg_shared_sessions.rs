//! Two `serve` instances on one PostgreSQL database share who is signed in: a login link made
//! by one is spent on the other, once; the session it starts opens pages on both, with the same
//! CSRF token; signing out on one ends the session on both.

use forgelink::api::pages::visitor::{hidden_inputs, Visitor};
use forgelink::api::{Server, ServerConfig};
use forgelink::engine::EngineConfig;
use forgelink::vault::VaultKey;
use forgelink_events::pg_testing::test_database;
use forgelink_events::StoreLocation;
use reqwest::StatusCode;

async fn instance(url: &str, key: &VaultKey, dir: &std::path::Path, sagas: bool) -> Server {
    let mut engine = EngineConfig::new(dir);
    engine.store = Some(StoreLocation::parse(url));
    engine.vault_key = Some(key.clone());
    engine.run_sagas = sagas;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Server::start_on(listener, ServerConfig::new(engine))
        .await
        .expect("the instance starts")
}

fn csrf(body: &str) -> String {
    hidden_inputs(body)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
        .expect("a form")
}

async fn status_with(client: &reqwest::Client, base: &str, cookie: &str) -> StatusCode {
    client
        .get(format!("{base}/"))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_on_one_instance_works_and_ends_on_both() {
    let Some(db) = test_database() else { return };
    let key = VaultKey::generate();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = instance(db.url(), &key, dir_a.path(), true).await;
    let b = instance(db.url(), &key, dir_b.path(), false).await;
    let link = a.login_link();
    let on_b = link.replace(a.base_url(), b.base_url());
    assert_ne!(link, on_b);

    let mut person = Visitor::new(b.base_url()).unwrap();
    person
        .sign_in(&on_b)
        .await
        .expect("the link made on A signs in on B");
    let cookie = format!("forgelink_session={}", person.session().unwrap());
    // Spent on B, so spent everywhere.
    let mut again = Visitor::new(a.base_url()).unwrap();
    assert!(
        again.sign_in(&link).await.is_err(),
        "a login link works once, on any instance"
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(status_with(&client, a.base_url(), &cookie).await, StatusCode::OK);
    assert_eq!(status_with(&client, b.base_url(), &cookie).await, StatusCode::OK);
    let page_b = person.get("/").await.unwrap();
    let page_a = client
        .get(format!("{}/", a.base_url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csrf(&page_a),
        csrf(&page_b.body),
        "one CSRF key for both instances"
    );

    // Signing out on B ends the session on A too.
    let url = page_b.resolve("/logout").unwrap();
    let out = person
        .submit_once(&url, &[("csrf".to_string(), csrf(&page_b.body))])
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(
        status_with(&client, a.base_url(), &cookie).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_with(&client, b.base_url(), &cookie).await,
        StatusCode::UNAUTHORIZED
    );
    b.shutdown().await;
    a.shutdown().await;
}
