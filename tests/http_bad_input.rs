//! Every bad input the API refuses: a 4xx RFC 9457 problem (`application/problem+json`:
//! `type`, `title`, `status`, `detail`, `field`?, `hint`?) that names the problem, and nothing
//! appended to the log (the router's own refusals: `http_problems.rs`). Also who may call what
//! (tokens, the login link).

mod http_support;

use http_support::{assert_problem, problem, Http, VIEWER};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Sends `body`, checks the status, that the problem names `field`, and that the log did not grow.
async fn refused(h: &Http, body: impl Into<reqwest::Body>, status: StatusCode, field: Option<&str>) -> Value {
    let before = h.head();
    let (got, answer) = h.post_raw(body).await;
    assert_eq!(got, status, "{answer}");
    assert_problem(&answer, status);
    assert_eq!(answer["field"].as_str(), field, "{answer}");
    assert_eq!(h.head(), before, "a refused command appends nothing");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_command_messages_are_refused_with_the_field_named_and_nothing_appended() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "taken"}))
        .await;

    let e = refused(&h, "{\"type\": \"StartLink\", ", StatusCode::BAD_REQUEST, None).await;
    assert!(e["error"].as_str().unwrap().contains("not valid JSON"), "{e}");
    refused(&h, "[1, 2]", StatusCode::BAD_REQUEST, None).await;
    let e = refused(
        &h,
        json!({"type": "LaunchRocket"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("type"),
    )
    .await;
    assert!(
        e["hint"].as_str().unwrap().contains("StartLink"),
        "the hint lists the types: {e}"
    );
    refused(
        &h,
        json!({"account": "taken"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("type"),
    )
    .await;
    refused(
        &h,
        json!({"type": "StartLink"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("account"),
    )
    .await;
    refused(
        &h,
        json!({"type": "StartLink", "account": 7}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("account"),
    )
    .await;
    refused(
        &h,
        json!({"type": "SelectGroup", "account": "taken", "group_id": "seven"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("group_id"),
    )
    .await;
    refused(
        &h,
        json!({"type": "StartLink", "account": "taken", "colour": "red"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("colour"),
    )
    .await;
    refused(
        &h,
        json!({"type": "NameAccount", "provider": "svn", "unique_name": "x"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("provider"),
    )
    .await;
    refused(
        &h,
        json!({"type": "StartLink", "account": "taken", "command_id": "not-a-uuid"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("command_id"),
    )
    .await;
    refused(
        &h,
        json!({"type": "StartLink", "account": "nobody"}).to_string(),
        StatusCode::NOT_FOUND,
        Some("account"),
    )
    .await;
    refused(
        &h,
        json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "TAKEN"}).to_string(),
        StatusCode::CONFLICT,
        Some("unique_name"),
    )
    .await;
    refused(
        &h,
        json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "bad name!"}).to_string(),
        StatusCode::BAD_REQUEST,
        Some("unique_name"),
    )
    .await;
    let big = json!({"type": "UnlinkAccount", "account": "taken", "reason": "x".repeat(70 * 1024)});
    let e = refused(&h, big.to_string(), StatusCode::PAYLOAD_TOO_LARGE, None).await;
    assert!(e["error"].as_str().unwrap().contains("64 KiB"), "{e}");
    // The server closes a connection whose body it refused unread; give the client's pool a
    // moment to see that before it hands the connection out again.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // A body without the JSON content type.
    let before = h.head();
    let r = h
        .client
        .post(h.url("/v1/commands"))
        .bearer_auth(h.admin())
        .body(json!({"type": "UnlinkAccount", "account": "taken"}).to_string())
        .send()
        .await
        .unwrap();
    let p = problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(p["field"], "Content-Type");
    assert_eq!(h.head(), before);

    // Metrics count every refusal above and the one command applied.
    let r = h
        .client
        .get(h.url("/metrics"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    let metrics = r.text().await.unwrap();
    assert!(
        metrics.contains("forgelink_commands_total{outcome=\"rejected\"} 15"),
        "{metrics}"
    );
    assert!(
        metrics.contains("forgelink_commands_total{outcome=\"applied\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("forgelink_accounts{status=\"pending\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("forgelink_events_appended_total 1"), "{metrics}");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_with_a_forged_state_shows_a_readable_page_with_what_helps_and_records_nothing() {
    let h = Http::start().await;
    h.start_link("gitlab", "acme-gitlab").await;
    let before = h.head();
    let r = h
        .client
        .get(h.url("/callback/gitlab?code=abc&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    let main = page.split("<main").nth(1).unwrap_or_default();
    assert!(
        main.contains("does not recognise") && main.contains("Continue linking") && !main.contains("state"),
        "in plain words, with the one action that helps: {page}"
    );
    let r = h
        .client
        .get(h.url("/callback/github?installation_id=abc&state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("installation_id"));
    assert_eq!(h.head(), before);
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_everything_but_the_open_doors_is_401_and_a_viewer_cannot_command() {
    let h = Http::start().await;
    let c = &h.client;
    for path in [
        "/v1/accounts",
        "/v1/events",
        "/v1/events/stream",
        "/metrics",
        "/",
        "/nowhere",
    ] {
        let r = c.get(h.url(path)).send().await.unwrap();
        problem(r, StatusCode::UNAUTHORIZED).await;
    }
    let r = c
        .get(h.url("/v1/accounts"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    let before = h.head();
    let msg = json!({"type": "NameAccount", "provider": "github", "unique_name": "sneaky"}).to_string();
    let r = c
        .post(h.url("/v1/commands"))
        .header("content-type", "application/json")
        .body(msg.clone())
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    let r = c
        .post(h.url("/v1/commands"))
        .bearer_auth(VIEWER)
        .header("content-type", "application/json")
        .body(msg)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    assert_eq!(h.head(), before, "neither appended anything");
    // The viewer reads; health is open.
    assert_eq!(h.get("/v1/accounts").await.0, StatusCode::OK);
    assert_eq!(
        c.get(h.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_link_works_once_and_its_cookie_opens_the_pages() {
    let h = Http::start().await;
    let link = h.demo.login_link();
    let r = h.client.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let again = h.client.get(&link).send().await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "a login link works once"
    );
    let page = h
        .client
        .get(h.url("/v1/accounts"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the session reads");
    let forged = h
        .client
        .get(h.url("/v1/accounts"))
        .header("cookie", "forgelink_session=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_list_pages_in_name_order_and_refuses_a_bad_limit() {
    let h = Http::start().await;
    for name in ["page-c", "page-a", "page-b"] {
        h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": name}))
            .await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, all) = h.get("/v1/accounts?provider=gitlab").await;
    assert_eq!(status, StatusCode::OK);
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 3, "{all}");
    assert!(all.get("next_offset").is_none(), "no limit, no next page: {all}");
    let (_, first) = h.get("/v1/accounts?provider=gitlab&limit=2").await;
    assert_eq!(first["count"], 2);
    assert_eq!(first["next_offset"], 2);
    let (_, rest) = h.get("/v1/accounts?provider=gitlab&limit=2&offset=2").await;
    let mut paged = names(&first);
    paged.extend(names(&rest));
    let mut next = rest.get("next_offset").and_then(Value::as_u64);
    while let Some(offset) = next {
        let (_, page) = h
            .get(&format!("/v1/accounts?provider=gitlab&limit=2&offset={offset}"))
            .await;
        paged.extend(names(&page));
        next = page.get("next_offset").and_then(Value::as_u64);
    }
    assert_eq!(
        paged,
        names(&all),
        "the pages together are the whole list, in order"
    );
    for bad in ["limit=0", "limit=10001", "limit=two"] {
        let (status, _) = h.get(&format!("/v1/accounts?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    h.demo.shutdown().await;
}
