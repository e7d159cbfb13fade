//! The router's own refusals are RFC 9457 problems like every other: no such route, a method the
//! path does not take, a query that does not parse, a body that is not JSON, a webhook in the
//! wrong type or with a bad signature, a token on a page; and a browser outside `/v1` gets the
//! refusal as an HTML page instead.

mod http_support;

use http_support::{problem, Http, VIEWER};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routers_own_refusals_are_problems_too() {
    let h = Http::start().await;
    let c = &h.client;
    let before = h.head();
    // No such route (with a credential; without one it is 401, above).
    let r = c
        .get(h.url("/v1/nowhere"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    let p = problem(r, StatusCode::NOT_FOUND).await;
    assert!(p["detail"].as_str().unwrap().contains("/v1/nowhere"), "{p}");
    // A method the path does not take: 405 with the methods it takes.
    let r = c
        .delete(h.url("/v1/commands"))
        .bearer_auth(h.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    let p = problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
    assert!(p["detail"].as_str().unwrap().contains("DELETE"), "{p}");
    // A query that does not parse names its parameter.
    let r = c
        .get(h.url("/v1/accounts?limit=two"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, StatusCode::BAD_REQUEST).await["field"], "limit");
    let r = c
        .get(h.url("/v1/deliveries?state=lost"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, StatusCode::BAD_REQUEST).await["field"], "state");
    // A login-link request that is not JSON, and one with a bad role.
    for (body, field) in [("{nope", None), (r#"{"for": "a", "role": "root"}"#, Some("role"))] {
        let r = c
            .post(h.url("/v1/login-links"))
            .bearer_auth(h.admin())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(r, StatusCode::BAD_REQUEST).await["field"].as_str(), field);
    }
    // A webhook in a type no provider sends, and one whose signature does not hold.
    let r = c
        .post(h.url("/webhooks/github"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let r = c
        .post(h.url("/webhooks/gitlab"))
        .header("content-type", "application/json")
        .header("x-gitlab-token", "wrong")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    // A viewer token on a page, a bad retry number.
    let r = c.get(h.url("/")).bearer_auth(VIEWER).send().await.unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = c
        .post(h.url("/v1/deliveries/seven/retry"))
        .bearer_auth(h.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, StatusCode::BAD_REQUEST).await["field"], "id");
    assert_eq!(h.head(), before, "no refusal appended anything");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_gets_a_refusal_as_a_page_outside_the_api_and_a_problem_inside_it() {
    let h = Http::start().await;
    let c = &h.client;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    // Words for a person: a page that needs a session says how to sign in; an unknown address
    // is a page not found, signed in or not.
    for (path, status, words) in [
        ("/", StatusCode::UNAUTHORIZED, "Sign in to forgelink"),
        ("/nowhere", StatusCode::NOT_FOUND, "Page not found"),
    ] {
        let r = c.get(h.url(path)).header("accept", browser).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        assert!(r.headers().contains_key("content-security-policy"), "{path}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains(words) && page.contains("name=\"viewport\""),
            "{page}"
        );
        if status == StatusCode::UNAUTHORIZED {
            assert!(page.contains("login link"), "{page}");
        }
    }
    let r = c
        .get(h.url("/accounts/nobody/none"))
        .bearer_auth(VIEWER)
        .header("accept", browser)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("<h1>Page not found</h1>"));
    // The API answers problems whatever the Accept header says.
    let r = c
        .get(h.url("/v1/accounts"))
        .header("accept", browser)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    h.demo.shutdown().await;
}
