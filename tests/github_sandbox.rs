//! The GitHub client against the GitHub sandbox over real HTTP on 127.0.0.1: the verification
//! chain the saga relies on, what GitHub refuses (forged installation ids, spent codes, JWTs
//! outside the window, expired tokens), the token cache, faults, webhook signatures and the
//! browser install page.

use forgelink::providers::github::auth::AppClaims;
use forgelink::providers::github::{GitHubClient, GitHubConfig};
use forgelink::providers::ProviderError;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_sandbox::github::GitHubSandbox;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const SETUP_URL: &str = "http://127.0.0.1:9/github/setup";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sandbox_and_client() -> (GitHubSandbox, GitHubClient, GitHubConfig) {
    let sandbox = GitHubSandbox::start(0).await.unwrap();
    let config = sandbox.client_config(SETUP_URL);
    let client = GitHubClient::new(config.clone(), http()).unwrap();
    (sandbox, client, config)
}

/// The query of a setup redirect, checked to go to our setup URL.
fn setup_query(redirect: &str) -> HashMap<String, String> {
    let url = url::Url::parse(redirect).unwrap();
    assert!(
        redirect.starts_with(SETUP_URL),
        "redirect goes elsewhere: {redirect}"
    );
    url.query_pairs().into_owned().collect()
}

fn installation_id(q: &HashMap<String, String>) -> u64 {
    q["installation_id"].parse().unwrap()
}

#[tokio::test]
async fn approval_is_verified_end_to_end_and_lists_exactly_the_picked_repositories() {
    let (sandbox, client, config) = sandbox_and_client().await;
    let names: Vec<String> = (0..150).map(|i| format!("repo-{i:03}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    sandbox.seed_org("acme", &name_refs);
    sandbox.seed_org("other-org", &["unrelated"]);
    // 120 picked: more than one page of 100.
    let picked: Vec<&str> = name_refs
        .iter()
        .copied()
        .filter(|n| !n.ends_with('7'))
        .take(120)
        .collect();

    let redirect = sandbox.approve("state-123", "acme", &picked).await.unwrap();
    let q = setup_query(&redirect);
    assert_eq!(q["setup_action"], "install");
    assert_eq!(q["state"], "state-123");
    let id = installation_id(&q);

    let user = client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .unwrap();
    assert!(user.access_token.expose().starts_with("ghu_"));
    assert!(user.expires_at.is_some() && user.refresh_token.is_some());
    assert!(client
        .user_installation_ids(&user.access_token)
        .await
        .unwrap()
        .contains(&id));

    let inst = client.installation(id).await.unwrap();
    assert_eq!(inst.id, id);
    assert_eq!(inst.account_login, "acme");
    assert_eq!(inst.target_type, "Organization");
    assert_eq!(inst.repository_selection, "selected");
    assert!(!inst.suspended);

    let token = client.installation_token(id).await.unwrap();
    assert!(token.expose().starts_with("ghs_"));
    let (selection, repos) = client.installation_repositories(id).await.unwrap();
    assert_eq!(selection, "selected");
    let got: BTreeSet<String> = repos.iter().map(|r| r.full_name.clone()).collect();
    let want: BTreeSet<String> = picked.iter().map(|n| format!("acme/{n}")).collect();
    assert_eq!(got, want);
    assert!(repos.iter().all(|r| r.id.parse::<u64>().is_ok()));

    // Nothing secret shows in the client's or the config's Debug output.
    let shown = format!("{client:?} {config:?}");
    for secret in sandbox
        .issued_tokens()
        .iter()
        .chain([token.expose().to_string()].iter())
    {
        assert!(!shown.contains(secret.as_str()), "Debug leaks a secret");
    }
    assert!(!shown.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn all_repositories_selection_lists_every_repository_across_pages() {
    let (sandbox, client, _) = sandbox_and_client().await;
    let names: Vec<String> = (0..230).map(|i| format!("r{i}")).collect();
    sandbox.seed_org("big", &names.iter().map(String::as_str).collect::<Vec<_>>());
    let q = setup_query(&sandbox.approve_all("s", "big").await.unwrap());
    let (selection, repos) = client
        .installation_repositories(installation_id(&q))
        .await
        .unwrap();
    assert_eq!(selection, "all");
    assert_eq!(repos.len(), 230);
}

#[tokio::test]
async fn a_forged_installation_id_is_not_among_the_users_installations() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    sandbox.forge_installation_id(true);
    let q = setup_query(&sandbox.approve("s", "acme", &["app"]).await.unwrap());
    let forged = installation_id(&q);
    // The forged id is a real installation: only the user check can catch it.
    assert_eq!(
        client.installation(forged).await.unwrap().account_login,
        "someone-elses-org"
    );
    let user = client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .unwrap();
    let mine = client.user_installation_ids(&user.access_token).await.unwrap();
    assert!(!mine.contains(&forged));
    assert_eq!(mine.len(), 1, "the user's own installation is listed");
    assert!(sandbox.installation_ids().contains(&mine[0]));
}

#[tokio::test]
async fn the_one_installation_check_accepts_the_users_own_and_refuses_a_forged_one() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    sandbox.forge_installation_id(true);
    let forged = installation_id(&setup_query(
        &sandbox.approve("s", "acme", &["app"]).await.unwrap(),
    ));
    sandbox.forge_installation_id(false);
    let q = setup_query(&sandbox.approve("s", "acme", &["app"]).await.unwrap());
    let own = installation_id(&q);
    let user = client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .unwrap();
    let token = &user.access_token;
    assert!(client.user_can_access_installation(token, own).await.unwrap());
    assert!(!client.user_can_access_installation(token, forged).await.unwrap());
    assert!(
        !client.user_can_access_installation(token, 1).await.unwrap(),
        "no such installation"
    );
    let bad = client
        .user_can_access_installation(&Secret::new("ghu_not-a-token"), own)
        .await
        .unwrap_err();
    assert!(matches!(bad, ProviderError::Unauthorized { .. }), "{bad:?}");
}

#[tokio::test]
async fn an_oauth_code_works_once_and_not_after_it_expires() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    let q = setup_query(&sandbox.approve("s", "acme", &["app"]).await.unwrap());
    let code = Secret::new(q["code"].clone());
    client.exchange_code(&code).await.unwrap();
    let again = client.exchange_code(&code).await.unwrap_err();
    assert!(matches!(again, ProviderError::InvalidGrant { .. }), "{again:?}");
    assert!(
        !again.to_string().contains(code.expose()),
        "the error echoes the code"
    );

    let q = setup_query(&sandbox.approve("s2", "acme", &["app"]).await.unwrap());
    assert_eq!(
        q["setup_action"], "update",
        "a second install on one org is an update"
    );
    sandbox.expire_codes();
    let expired = client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(expired, ProviderError::InvalidGrant { .. }),
        "{expired:?}"
    );
    let unknown = client.exchange_code(&Secret::new("nope")).await.unwrap_err();
    assert!(
        matches!(unknown, ProviderError::InvalidGrant { .. }),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn wrong_client_credentials_are_not_a_token() {
    let (sandbox, _, mut config) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    config.client_secret = Secret::new("wrong");
    let client = GitHubClient::new(config, http()).unwrap();
    let q = setup_query(&sandbox.approve("s", "acme", &["app"]).await.unwrap());
    let err = client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
}

/// GETs `/app/installations/{id}` with a hand-made JWT; returns the status and the message.
async fn get_with_jwt(sandbox: &GitHubSandbox, id: u64, jwt: &str) -> (u16, serde_json::Value) {
    let resp = http()
        .get(format!("{}/app/installations/{id}", sandbox.api_url()))
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn app_jwts_outside_githubs_rules_are_refused_with_401() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    let id = installation_id(&setup_query(
        &sandbox.approve("s", "acme", &["app"]).await.unwrap(),
    ));
    let key = forgelink::providers::github::app_key::EncodingKey::from_rsa_pem(
        sandbox.private_key_pem().as_bytes(),
    )
    .unwrap();
    let sign = |iat: i64, exp: i64, iss: String| {
        forgelink::providers::github::auth::sign_app_jwt(&key, &AppClaims { iat, exp, iss }).unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let app = sandbox.app_id().to_string();

    let (status, _) = get_with_jwt(&sandbox, id, &sign(now - 60, now + 540, app.clone())).await;
    assert_eq!(status, 200, "a JWT inside the window works");
    assert_eq!(
        get_with_jwt(&sandbox, id, &client.app_jwt().unwrap()).await.0,
        200
    );

    let cases = [
        ("exp 20 minutes ahead", sign(now, now + 1200, app.clone())),
        ("iat in the future", sign(now + 300, now + 540, app.clone())),
        ("expired", sign(now - 700, now - 100, app.clone())),
        ("another app", sign(now - 60, now + 540, "1".into())),
    ];
    for (what, jwt) in cases {
        let (status, body) = get_with_jwt(&sandbox, id, &jwt).await;
        assert_eq!(status, 401, "{what} was accepted");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
        assert!(body["documentation_url"].is_string(), "{what}: {body}");
    }
    // A valid JWT with its payload swapped: the signature no longer matches.
    let good = sign(now - 60, now + 540, app.clone());
    let evil = sign(now - 60, now + 540, "1".into());
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], evil.split('.').nth(1).unwrap(), parts[2]);
    assert_eq!(get_with_jwt(&sandbox, id, &tampered).await.0, 401);
    assert_eq!(get_with_jwt(&sandbox, 999, &good).await.0, 404);
}

#[tokio::test]
async fn an_expired_installation_token_is_refused() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    let id = installation_id(&setup_query(
        &sandbox.approve("s", "acme", &["app"]).await.unwrap(),
    ));
    // Long enough that a loaded machine still uses a fresh token within its life, short
    // enough to wait out.
    sandbox.set_installation_token_ttl(Duration::from_secs(4));
    let minted = client.mint_installation_token(id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(4600)).await;
    let resp = http()
        .get(format!("{}/installation/repositories", sandbox.api_url()))
        .header("authorization", format!("token {}", minted.token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let anonymous = http()
        .get(format!("{}/installation/repositories", sandbox.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    // The client does not cache a token that is about to expire, so it still works.
    assert_eq!(client.installation_repositories(id).await.unwrap().1.len(), 1);
}

#[tokio::test]
async fn installation_tokens_are_reused_until_near_expiry_then_renewed() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    let id = installation_id(&setup_query(
        &sandbox.approve("s", "acme", &["app"]).await.unwrap(),
    ));

    // Many callers at once share one mint.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = client.clone();
        set.spawn(async move { c.installation_token(id).await.unwrap() });
    }
    let mut tokens = Vec::new();
    while let Some(t) = set.join_next().await {
        tokens.push(t.unwrap());
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(sandbox.installation_tokens_minted(), 1);
    assert_eq!(client.installation_token(id).await.unwrap(), tokens[0]);
    assert_eq!(sandbox.installation_tokens_minted(), 1);

    // A token with 5 min + 2 s to live is fresh for about a second, then renewed.
    sandbox.set_installation_token_ttl(Duration::from_secs(302));
    client.forget_installation_token(id);
    let a = client.installation_token(id).await.unwrap();
    assert_ne!(a, tokens[0], "forget drops the cached token");
    assert_eq!(client.installation_token(id).await.unwrap(), a);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let b = client.installation_token(id).await.unwrap();
    assert_ne!(a, b, "a token near its expiry is renewed");
    assert_eq!(sandbox.installation_tokens_minted(), 3);
}

#[tokio::test]
async fn armed_faults_reach_the_caller_classified_for_retry() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["app"]);
    let id = installation_id(&setup_query(
        &sandbox.approve("s", "acme", &["app"]).await.unwrap(),
    ));

    sandbox.faults.fail_next(1);
    let err = client.installation(id).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());

    sandbox.faults.rate_limit_next(1, 7);
    let err = client.installation(id).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::RateLimited {
            provider: "GitHub",
            retry_after: Duration::from_secs(7)
        }
    );
    assert_eq!(client.installation(id).await.unwrap().id, id, "faults are spent");

    sandbox.faults.set_delay(Duration::from_millis(600));
    let slow = client.clone().with_timeout(Duration::from_millis(150));
    let err = slow.installation(id).await.unwrap_err();
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");
}

#[tokio::test]
async fn api_answers_carry_rate_limit_headers() {
    let (sandbox, client, _) = sandbox_and_client().await;
    let resp = http()
        .get(format!("{}/app", sandbox.api_url()))
        .bearer_auth(client.app_jwt().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    for h in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
        assert!(resp.headers().contains_key(h), "missing {h}");
    }
}

#[tokio::test]
async fn webhook_deliveries_are_accepted_only_with_a_matching_signature() {
    let (sandbox, client, _) = sandbox_and_client().await;
    let body = br#"{"action":"created","installation":{"id":1}}"#;
    let sig = sandbox.sign(body);
    assert!(client.verify_webhook_signature(body, Some(&sig)));
    assert!(!client.verify_webhook_signature(br#"{"action":"deleted","installation":{"id":1}}"#, Some(&sig)));
    assert!(!client.verify_webhook_signature(body, None));
    assert!(!client.verify_webhook_signature(body, Some("sha256=")));

    // A delivery over HTTP carries GitHub's headers and a signature the client accepts.
    let receiver = client.clone();
    let route = axum::routing::post(move |headers: axum::http::HeaderMap, got: axum::body::Bytes| {
        let receiver = receiver.clone();
        async move {
            let sig = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
            let ok = receiver.verify_webhook_signature(&got, sig)
                && headers["x-github-event"] == "installation"
                && headers["x-github-delivery"] == "d-1";
            if ok {
                axum::http::StatusCode::NO_CONTENT
            } else {
                axum::http::StatusCode::UNAUTHORIZED
            }
        }
    });
    let server = forgelink_sandbox::serve(axum::Router::new().route("/hooks", route), 0)
        .await
        .unwrap();
    let url = format!("{}/hooks", server.base_url());
    assert_eq!(
        sandbox.deliver_webhook(&url, "installation", "d-1", body).await,
        Ok(204)
    );
    assert_eq!(
        sandbox.deliver_webhook(&url, "installation", "d-2", body).await,
        Ok(401)
    );
}

#[tokio::test]
async fn the_install_page_is_a_form_a_person_can_use() {
    let (sandbox, client, _) = sandbox_and_client().await;
    sandbox.seed_org("acme", &["web", "api"]);
    let state = "st<\"&>ate";
    let page_url = client.install_url(state);
    assert!(page_url.starts_with(&format!("{}/apps/", sandbox.base_url())));
    let page = http().get(&page_url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    for needle in [
        "<form method=\"post\"",
        "<select id=\"org\" name=\"org\"",
        "<label for=\"org\">",
        "type=\"checkbox\"",
        "value=\"acme/web\"",
        "All repositories",
        "Only select repositories",
        "<button type=\"submit\">Install</button>",
        "value=\"st&lt;&quot;&amp;&gt;ate\"",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    assert!(!html.contains(state), "the state is not escaped");

    let post = |form: Vec<(&'static str, &'static str)>| {
        let url = format!(
            "{}/apps/{}/installations/new",
            sandbox.base_url(),
            sandbox.app_slug()
        );
        let mut form = form;
        form.push(("state", "st<\"&>ate"));
        async move { http().post(url).form(&form).send().await.unwrap() }
    };
    let refused = post(vec![("org", "acme"), ("repository_selection", "selected")]).await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("at least one repository"));
    assert!(
        sandbox.installation_ids().is_empty(),
        "a refused form installs nothing"
    );

    let done = post(vec![
        ("org", "acme"),
        ("repository_selection", "selected"),
        ("repositories", "acme/web"),
        ("repositories", "acme/api"),
    ])
    .await;
    assert_eq!(done.status().as_u16(), 302);
    let location = done.headers()["location"].to_str().unwrap().to_string();
    let q = setup_query(&location);
    assert_eq!(q["state"], state);
    assert_eq!(q["setup_action"], "install");
    assert!(!q["code"].is_empty());
    let id = installation_id(&q);
    assert_eq!(client.installation_repositories(id).await.unwrap().1.len(), 2);
}
