//! The Bitbucket Cloud client against the Bitbucket sandbox over real loopback HTTP: the OAuth
//! flow with basic-auth client credentials, the "Grant access" page, refresh rotation, expiry,
//! revocation, workspaces and projects across pages, and faults.

use forgelink::providers::bitbucket::{BitbucketClient, BitbucketConfig};
use forgelink::providers::oauth::TokenPair;
use forgelink::providers::ProviderError;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use std::collections::HashMap;
use std::time::Duration;

const CALLBACK: &str = "http://127.0.0.1:9/callback/bitbucket";

async fn setup() -> (BitbucketSandbox, BitbucketClient) {
    let sandbox = BitbucketSandbox::start(0).await.expect("sandbox starts");
    let client = BitbucketClient::new(sandbox.client_config(CALLBACK), reqwest::Client::new());
    (sandbox, client)
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

async fn code_for(sandbox: &BitbucketSandbox, client: &BitbucketClient) -> Secret {
    let redirect = sandbox.approve(&client.authorize_url("st")).await.unwrap();
    Secret::new(query_of(&redirect)["code"].clone())
}

async fn link(sandbox: &BitbucketSandbox, client: &BitbucketClient) -> TokenPair {
    let code = code_for(sandbox, client).await;
    client.exchange_code(&code).await.unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_person_links_bitbucket_and_sees_every_workspace_and_project_page() {
    let (sandbox, client) = setup().await;
    let alice = sandbox.seed_user("alice");
    let projects: Vec<(String, String)> = (0..130)
        .map(|i| (format!("P{i:03}"), format!("Project {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = projects.iter().map(|(k, n)| (k.as_str(), n.as_str())).collect();
    sandbox.seed_workspace("acme", &refs);
    for i in 0..104 {
        sandbox.seed_workspace_as(&format!("ws-{i:03}"), &[], "member");
    }
    sandbox.seed_workspace_as("someone-elses", &[("X", "X")], "collaborator");

    let url = client.authorize_url("state-42");
    let redirect = sandbox.approve(&url).await.expect("approval redirects");
    assert!(redirect.starts_with(CALLBACK), "{redirect}");
    let q = query_of(&redirect);
    assert_eq!(q["state"], "state-42");
    let tokens = client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .unwrap();
    assert!(
        tokens.scopes.contains(&"project".to_string()),
        "{:?}",
        tokens.scopes
    );
    let lifetime = tokens.expires_at - chrono::Utc::now();
    assert!(lifetime > chrono::Duration::seconds(7100) && lifetime <= chrono::Duration::seconds(7200));

    let me = client.current_user(&tokens.access_token).await.unwrap();
    // Identified by uuid and account id; shown by nickname (Bitbucket has no username).
    assert_eq!(me.uuid, alice.uuid);
    assert_eq!(me.account_id.as_deref(), Some(alice.account_id.as_str()));
    assert_eq!(me.label(), "alice");
    assert_eq!(me.display_name.as_deref(), Some(alice.display_name.as_str()));
    let workspaces = client.workspaces(&tokens.access_token).await.unwrap();
    assert_eq!(
        workspaces.len(),
        105,
        "owner and member workspaces over two pages"
    );
    assert!(workspaces
        .iter()
        .any(|w| w.slug == "acme" && w.uuid.starts_with('{')));
    assert!(workspaces.iter().any(|w| w.slug == "ws-103"));
    assert!(
        !workspaces.iter().any(|w| w.slug == "someone-elses"),
        "a collaborator cannot create repositories"
    );

    let listed = client.projects(&tokens.access_token, "acme").await.unwrap();
    let keys: Vec<(String, String)> = listed
        .iter()
        .map(|p| (p.key.clone(), p.name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(keys, projects, "all 130 projects over two pages, in order");
    let err = client
        .projects(&tokens.access_token, "nowhere")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn the_sandbox_paginates_with_bitbuckets_envelope() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("bob");
    let refs: Vec<(String, String)> = (0..12).map(|i| (format!("K{i}"), format!("N{i}"))).collect();
    let refs: Vec<(&str, &str)> = refs.iter().map(|(k, n)| (k.as_str(), n.as_str())).collect();
    sandbox.seed_workspace("team", &refs);
    let token = link(&sandbox, &client).await.access_token;
    let http = reqwest::Client::new();
    let url = format!("{}/2.0/workspaces/team/projects", sandbox.base_url());
    let first: serde_json::Value = http
        .get(&url)
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["pagelen"], 10);
    assert_eq!(first["size"], 12);
    assert_eq!(first["page"], 1);
    assert_eq!(first["values"].as_array().unwrap().len(), 10);
    let next = first["next"].as_str().expect("a next link").to_string();
    let second: serde_json::Value = http
        .get(&next)
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["values"].as_array().unwrap().len(), 2);
    assert!(second.get("next").is_none());
    let too_big = http
        .get(format!("{url}?pagelen=500"))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 400);
}

#[tokio::test]
async fn a_wrong_consumer_secret_is_refused_and_the_code_stays_usable() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("carol");
    let code = code_for(&sandbox, &client).await;
    let bad = BitbucketClient::new(
        BitbucketConfig {
            client_secret: Secret::new("not-the-secret"),
            ..sandbox.client_config(CALLBACK)
        },
        reqwest::Client::new(),
    );
    let err = bad.exchange_code(&code).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(client.exchange_code(&code).await.is_ok());
}

#[tokio::test]
async fn a_code_can_be_redeemed_only_once_and_only_within_ten_minutes() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("dave");
    let code = code_for(&sandbox, &client).await;
    client.exchange_code(&code).await.unwrap();
    let again = client.exchange_code(&code).await.unwrap_err();
    assert!(matches!(again, ProviderError::InvalidGrant { .. }), "{again:?}");
    let late = code_for(&sandbox, &client).await;
    sandbox.advance_clock(Duration::from_secs(601));
    let expired = client.exchange_code(&late).await.unwrap_err();
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
        client.current_user(&new.access_token).await.unwrap().label(),
        "erin"
    );
    let reuse = client.refresh(&old.refresh_token).await.unwrap_err();
    assert!(matches!(reuse, ProviderError::InvalidGrant { .. }), "{reuse:?}");
    let stale = client.current_user(&old.access_token).await.unwrap_err();
    assert!(matches!(stale, ProviderError::Unauthorized { .. }), "{stale:?}");
}

#[tokio::test]
async fn expired_access_tokens_answer_401_and_a_refresh_brings_the_account_back() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("frank");
    sandbox.seed_workspace("w", &[("K", "Key")]);
    let tokens = link(&sandbox, &client).await;
    sandbox.expire_tokens_now();
    match client.workspaces(&tokens.access_token).await.unwrap_err() {
        ProviderError::Unauthorized { detail, .. } => assert!(detail.contains("expired"), "{detail}"),
        other => panic!("expected 401, got {other:?}"),
    }
    let fresh = client.refresh(&tokens.refresh_token).await.unwrap();
    assert_eq!(client.projects(&fresh.access_token, "w").await.unwrap().len(), 1);
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
    let api = client.workspaces(&tokens.access_token).await.unwrap_err();
    assert!(matches!(api, ProviderError::Unauthorized { .. }), "{api:?}");
    let refresh = client.refresh(&tokens.refresh_token).await.unwrap_err();
    assert!(
        matches!(refresh, ProviderError::InvalidGrant { .. }),
        "{refresh:?}"
    );
}

#[tokio::test]
async fn the_grant_access_page_shows_the_consumer_and_posting_grant_redirects_with_a_code() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("heidi");
    let http = no_redirects();
    let url = client.authorize_url("st\"1");
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("forgelink is requesting access to your Bitbucket account"),
        "{html}"
    );
    assert!(html.contains(r#"value="grant">Grant access</button>"#));
    assert!(
        html.contains(r#"name="state" value="st&quot;1""#),
        "state is escaped"
    );

    let mut form: Vec<(String, String)> = query_of(&url).into_iter().collect();
    form.push(("decision".into(), "grant".into()));
    let resp = http
        .post(format!("{}/site/oauth2/authorize", sandbox.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["state"], "st\"1");
    assert!(client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .is_ok());
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_and_the_state() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("ivan");
    let url = client.authorize_url("st-9");
    let mut form: Vec<(String, String)> = query_of(&url).into_iter().collect();
    form.push(("decision".into(), "cancel".into()));
    let resp = no_redirects()
        .post(format!("{}/site/oauth2/authorize", sandbox.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(CALLBACK));
    let q = query_of(&location);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-9");
    assert!(!q.contains_key("code"));
    assert_eq!(
        query_of(&sandbox.deny(&url).await.unwrap())["error"],
        "access_denied"
    );
}

#[tokio::test]
async fn an_unknown_consumer_gets_an_error_page_never_a_redirect() {
    let (sandbox, _client) = setup().await;
    sandbox.seed_user("judy");
    let stranger = BitbucketClient::new(
        BitbucketConfig {
            client_id: "unknown".into(),
            ..sandbox.client_config(CALLBACK)
        },
        reqwest::Client::new(),
    );
    let url = stranger.authorize_url("s");
    let resp = no_redirects().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(sandbox.approve(&url).await.is_err());
}

#[tokio::test]
async fn api_calls_without_a_token_get_bitbuckets_error_body() {
    let (sandbox, _client) = setup().await;
    let resp = reqwest::get(format!("{}/2.0/user", sandbox.base_url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_classified_for_the_saga_to_retry() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("leo");
    sandbox.seed_workspace("w", &[("K", "Key")]);
    let tokens = link(&sandbox, &client).await;
    sandbox.faults.fail_next(1);
    let err = client.projects(&tokens.access_token, "w").await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Server { status: 500, .. }) && err.is_retryable(),
        "{err:?}"
    );
    sandbox.faults.rate_limit_next(1, 1);
    let err = client.refresh(&tokens.refresh_token).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)), "{err:?}");
    // Nothing goes to Bitbucket before the second it asked for has passed.
    let held = client.refresh(&tokens.refresh_token).await.unwrap_err();
    assert!(matches!(held, ProviderError::RateLimited { .. }), "{held:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = client.refresh(&tokens.refresh_token).await.unwrap();
    assert_eq!(client.workspaces(&fresh.access_token).await.unwrap().len(), 1);
}

#[tokio::test]
async fn errors_and_debug_output_never_contain_tokens_or_codes() {
    let (sandbox, client) = setup().await;
    sandbox.seed_user("mia");
    let code = code_for(&sandbox, &client).await;
    let tokens = client.exchange_code(&code).await.unwrap();
    let reused = client.exchange_code(&code).await.unwrap_err();
    sandbox.revoke_grant();
    let printed = [
        format!("{tokens:?} {client:?}"),
        reused.to_string(),
        client
            .refresh(&tokens.refresh_token)
            .await
            .unwrap_err()
            .to_string(),
        client
            .workspaces(&tokens.access_token)
            .await
            .unwrap_err()
            .to_string(),
    ];
    let issued = sandbox.issued_tokens();
    assert!(issued.len() >= 3);
    let secret = sandbox.client_secret();
    for text in &printed {
        for t in &issued {
            assert!(!text.contains(t.as_str()), "leaked a token in: {text}");
        }
        assert!(!text.contains(&secret));
    }
}
