//! The GitLab client against the GitLab sandbox over real loopback HTTP: the OAuth flow with
//! PKCE, the approval page, refresh rotation, expiry, revocation, pagination and faults.

use forgelink::providers::gitlab::{GitLabClient, GitLabConfig};
use forgelink::providers::oauth::{Pkce, TokenPair};
use forgelink::providers::ProviderError;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_sandbox::gitlab::GitLabSandbox;
use std::collections::HashMap;
use std::time::Duration;

const CALLBACK: &str = "http://127.0.0.1:9/callback/gitlab";

async fn setup() -> (GitLabSandbox, GitLabClient) {
    let sandbox = GitLabSandbox::start(0).await.expect("sandbox starts");
    let client = GitLabClient::new(sandbox.client_config(CALLBACK), reqwest::Client::new());
    (sandbox, client)
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// Authorize, approve as the signed-in person and exchange: the tokens an account starts with.
async fn link(sandbox: &GitLabSandbox, client: &GitLabClient) -> TokenPair {
    let pkce = Pkce::generate();
    let redirect = sandbox
        .approve(&client.authorize_url("st", &pkce.challenge))
        .await
        .unwrap();
    let code = Secret::new(query_of(&redirect)["code"].clone());
    client.exchange_code(&code, &pkce.verifier).await.unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_person_links_gitlab_with_pkce_and_every_group_page_is_listed() {
    let (sandbox, client) = setup().await;
    let alice = sandbox.seed_user("alice");
    let mut expected = Vec::new();
    for i in 0..230 {
        expected.push(sandbox.seed_group(&format!("acme/team-{i:03}")));
    }
    let reporter_only = sandbox.seed_group_with_access("acme/readonly", 20);

    let pkce = Pkce::generate();
    let url = client.authorize_url("state-123", &pkce.challenge);
    let redirect = sandbox.approve(&url).await.expect("approval redirects");
    assert!(redirect.starts_with(CALLBACK), "{redirect}");
    let q = query_of(&redirect);
    assert_eq!(q["state"], "state-123");
    let tokens = client
        .exchange_code(&Secret::new(q["code"].clone()), &pkce.verifier)
        .await
        .unwrap();
    assert_eq!(tokens.scopes, vec!["api", "read_user"]);
    let lifetime = tokens.expires_at - chrono::Utc::now();
    assert!(lifetime > chrono::Duration::seconds(7100) && lifetime <= chrono::Duration::seconds(7200));

    let me = client.current_user(&tokens.access_token).await.unwrap();
    assert_eq!((me.id, me.username.as_str()), (alice.id, alice.username.as_str()));
    let groups = client.groups(&tokens.access_token).await.unwrap();
    let mut ids: Vec<u64> = groups.iter().map(|g| g.id).collect();
    ids.sort();
    assert_eq!(
        ids, expected,
        "all 230 groups over three pages, without the reporter-only one"
    );
    assert!(!ids.contains(&reporter_only));
    assert!(groups
        .iter()
        .any(|g| g.full_path == "acme/team-229" && g.name == "team-229"));
}

#[tokio::test]
async fn the_sandbox_paginates_groups_with_gitlabs_headers() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("bob");
    for i in 0..25 {
        sandbox.seed_group(&format!("g{i:02}"));
    }
    let token = link(&sandbox, &client).await.access_token;
    let http = reqwest::Client::new();
    let get = |page: &str| {
        let url = format!("{}/api/v4/groups?min_access_level=30{page}", sandbox.base_url());
        http.get(url).bearer_auth(token.expose()).send()
    };
    let first = get("").await.unwrap();
    let h = |r: &reqwest::Response, n: &str| r.headers()[n].to_str().unwrap().to_string();
    assert_eq!(h(&first, "x-total"), "25");
    assert_eq!(h(&first, "x-total-pages"), "2");
    assert_eq!(h(&first, "x-per-page"), "20");
    assert_eq!(h(&first, "x-next-page"), "2");
    assert!(h(&first, "link").contains(r#"page=2&per_page=20&min_access_level=30>; rel="next""#));
    assert_eq!(first.json::<Vec<serde_json::Value>>().await.unwrap().len(), 20);
    let second = get("&page=2").await.unwrap();
    assert_eq!(h(&second, "x-next-page"), "");
    assert!(!h(&second, "link").contains(r#"rel="next""#));
    assert_eq!(second.json::<Vec<serde_json::Value>>().await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_and_the_right_one_still_works() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("carol");
    let pkce = Pkce::generate();
    let redirect = sandbox
        .approve(&client.authorize_url("s", &pkce.challenge))
        .await
        .unwrap();
    let code = Secret::new(query_of(&redirect)["code"].clone());
    let wrong = Pkce::generate().verifier;
    let err = client.exchange_code(&code, &wrong).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidGrant { .. }), "{err:?}");
    assert!(client.exchange_code(&code, &pkce.verifier).await.is_ok());
}

#[tokio::test]
async fn a_code_can_be_redeemed_only_once_and_only_within_ten_minutes() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("dave");
    let pkce = Pkce::generate();
    let code = |r: String| Secret::new(query_of(&r)["code"].clone());
    let first = code(
        sandbox
            .approve(&client.authorize_url("s", &pkce.challenge))
            .await
            .unwrap(),
    );
    client.exchange_code(&first, &pkce.verifier).await.unwrap();
    let again = client.exchange_code(&first, &pkce.verifier).await.unwrap_err();
    assert!(matches!(again, ProviderError::InvalidGrant { .. }), "{again:?}");

    let late = code(
        sandbox
            .approve(&client.authorize_url("s", &pkce.challenge))
            .await
            .unwrap(),
    );
    sandbox.advance_clock(Duration::from_secs(601));
    let expired = client.exchange_code(&late, &pkce.verifier).await.unwrap_err();
    assert!(
        matches!(expired, ProviderError::InvalidGrant { .. }),
        "{expired:?}"
    );
}

#[tokio::test]
async fn a_refresh_rotates_both_tokens_and_the_old_ones_are_refused() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("erin");
    let old = link(&sandbox, &client).await;
    let new = client.refresh(&old.refresh_token).await.unwrap();
    assert_ne!(new.access_token, old.access_token);
    assert_ne!(new.refresh_token, old.refresh_token);
    assert_eq!(
        client.current_user(&new.access_token).await.unwrap().username,
        "erin"
    );
    let reuse = client.refresh(&old.refresh_token).await.unwrap_err();
    assert!(matches!(reuse, ProviderError::InvalidGrant { .. }), "{reuse:?}");
    let stale = client.current_user(&old.access_token).await.unwrap_err();
    assert!(matches!(stale, ProviderError::Unauthorized { .. }), "{stale:?}");
    assert!(client.refresh(&new.refresh_token).await.is_ok());
}

#[tokio::test]
async fn expired_access_tokens_answer_401_and_a_refresh_brings_the_account_back() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("frank");
    let tokens = link(&sandbox, &client).await;
    sandbox.expire_tokens_now();
    let err = client.groups(&tokens.access_token).await.unwrap_err();
    match &err {
        ProviderError::Unauthorized { detail, .. } => assert!(detail.contains("expired"), "{detail}"),
        other => panic!("expected 401, got {other:?}"),
    }
    let fresh = client.refresh(&tokens.refresh_token).await.unwrap();
    assert!(client.groups(&fresh.access_token).await.is_ok());

    // Two hours later the new access token has expired on its own.
    sandbox.advance_clock(Duration::from_secs(7201));
    let err = client.current_user(&fresh.access_token).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn a_revoked_grant_refuses_the_api_and_the_refresh_with_invalid_grant() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("grace");
    let tokens = link(&sandbox, &client).await;
    sandbox.revoke_grant();
    let api = client.current_user(&tokens.access_token).await.unwrap_err();
    assert!(matches!(api, ProviderError::Unauthorized { .. }), "{api:?}");
    let refresh = client.refresh(&tokens.refresh_token).await.unwrap_err();
    assert!(
        matches!(refresh, ProviderError::InvalidGrant { .. }),
        "{refresh:?}"
    );
    assert!(!refresh.is_retryable());
}

#[tokio::test]
async fn the_approval_page_shows_the_app_and_authorize_redirects_with_code_and_state() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("heidi");
    let pkce = Pkce::generate();
    let http = no_redirects();
    let page = http
        .get(client.authorize_url("st<1>", &pkce.challenge))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Authorize forgelink to use your account?"),
        "{html}"
    );
    assert!(html.contains(r#"value="authorize">Authorize</button>"#));
    assert!(html.contains(r#"value="deny">Deny</button>"#));
    assert!(
        html.contains(r#"name="state" value="st&lt;1&gt;""#),
        "state is escaped"
    );

    let mut form: Vec<(String, String)> = query_of(&client.authorize_url("st<1>", &pkce.challenge))
        .into_iter()
        .collect();
    form.push(("decision".into(), "authorize".into()));
    let resp = http
        .post(format!("{}/oauth/authorize", sandbox.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(CALLBACK));
    let q = query_of(&location);
    assert_eq!(q["state"], "st<1>");
    let tokens = client
        .exchange_code(&Secret::new(q["code"].clone()), &pkce.verifier)
        .await;
    assert!(tokens.is_ok(), "{tokens:?}");
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_the_state() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("ivan");
    let url = client.authorize_url("st-9", &Pkce::generate().challenge);
    let mut form: Vec<(String, String)> = query_of(&url).into_iter().collect();
    form.push(("decision".into(), "deny".into()));
    let resp = no_redirects()
        .post(format!("{}/oauth/authorize", sandbox.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-9");
    assert!(!q.contains_key("code"));
    assert!(!q["error_description"].is_empty());
    let helper = query_of(&sandbox.deny(&url).await.unwrap());
    assert_eq!(helper["error"], "access_denied");
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_client_gets_an_error_page_never_a_redirect() {
    let (sandbox, _client) = setup().await;
    sandbox.seed_user("judy");
    let mut config = sandbox.client_config(CALLBACK);
    config.redirect_uri = "http://127.0.0.1:9/elsewhere".into();
    let rogue = GitLabClient::new(config.clone(), reqwest::Client::new());
    let url = rogue.authorize_url("s", &Pkce::generate().challenge);
    let resp = no_redirects().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("redirect URI included is not valid"));
    assert!(sandbox.approve(&url).await.is_err());

    config.redirect_uri = CALLBACK.into();
    config.client_id = "someone-else".into();
    let stranger = GitLabClient::new(config, reqwest::Client::new());
    assert!(sandbox
        .approve(&stranger.authorize_url("s", &Pkce::generate().challenge))
        .await
        .is_err());
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_at_the_token_endpoint() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("ken");
    let pkce = Pkce::generate();
    let redirect = sandbox
        .approve(&client.authorize_url("s", &pkce.challenge))
        .await
        .unwrap();
    let config = GitLabConfig {
        client_secret: Secret::new("gloas-wrong"),
        ..sandbox.client_config(CALLBACK)
    };
    let bad = GitLabClient::new(config, reqwest::Client::new());
    let err = bad
        .exchange_code(&Secret::new(query_of(&redirect)["code"].clone()), &pkce.verifier)
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn api_calls_without_a_token_get_gitlabs_401_body() {
    let (sandbox, _client) = setup().await;
    let resp = reqwest::get(format!("{}/api/v4/user", sandbox.base_url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"message": "401 Unauthorized"}));
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_classified_for_the_saga_to_retry() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("leo");
    sandbox.seed_group("team");
    let tokens = link(&sandbox, &client).await;
    sandbox.faults.fail_next(1);
    let err = client.groups(&tokens.access_token).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }) && err.is_retryable(),
        "{err:?}"
    );
    sandbox.faults.rate_limit_next(1, 7);
    let err = client.refresh(&tokens.refresh_token).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err:?}");
    assert!(matches!(err, ProviderError::RateLimited { .. }));
    // The faults are spent: the same refresh token still works (nothing was rotated).
    let fresh = client.refresh(&tokens.refresh_token).await.unwrap();
    assert_eq!(client.groups(&fresh.access_token).await.unwrap().len(), 1);
}

#[tokio::test]
async fn errors_and_debug_output_never_contain_tokens_or_codes() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("mia");
    let tokens = link(&sandbox, &client).await;
    let new = client.refresh(&tokens.refresh_token).await.unwrap();
    sandbox.revoke_grant();
    let mut printed = vec![format!("{tokens:?} {new:?} {client:?}")];
    printed.push(
        client
            .refresh(&tokens.refresh_token)
            .await
            .unwrap_err()
            .to_string(),
    );
    printed.push(client.refresh(&new.refresh_token).await.unwrap_err().to_string());
    printed.push(client.groups(&new.access_token).await.unwrap_err().to_string());
    let issued = sandbox.issued_tokens();
    assert!(issued.len() >= 5, "a code and two pairs were issued");
    let secret = sandbox.client_secret();
    for text in &printed {
        for t in &issued {
            assert!(!text.contains(t.as_str()), "leaked a token in: {text}");
        }
        assert!(!text.contains(&secret));
    }
}
