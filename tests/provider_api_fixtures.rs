//! Every client parses the providers' documented response examples
//! (`tests/fixtures/providers/api/`, sources in its SOURCES.md): a loopback server answers each
//! documented path with the documentation's example, byte for byte, and the real clients call
//! it over HTTP. A client that requires a field the documentation does not guarantee fails here.

use axum::routing::{get, post};
use forgelink::providers::bitbucket::{BitbucketClient, BitbucketConfig};
use forgelink::providers::github::{parse, GitHubClient};
use forgelink::providers::gitlab::{GitLabClient, GitLabConfig};
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use std::path::PathBuf;

fn fixture(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/providers/api")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A server answering `GET`/`POST` `path` with the fixture `file` as JSON.
async fn serve(routes: &[(&'static str, &'static str, &'static str)]) -> String {
    let mut router = axum::Router::new();
    for (method, path, file) in routes {
        let body = fixture(file);
        let answer = move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        };
        router = match *method {
            "POST" => router.route(path, post(answer)),
            _ => router.route(path, get(answer)),
        };
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn token() -> Secret {
    Secret::new("documented-example-token")
}

#[tokio::test]
async fn the_bitbucket_client_parses_bitbucket_s_documented_examples() {
    let base = serve(&[
        ("POST", "/site/oauth2/access_token", "bitbucket/access_token.json"),
        ("GET", "/2.0/user", "bitbucket/user.json"),
        (
            "GET",
            "/2.0/user/permissions/workspaces",
            "bitbucket/user_permissions_workspaces.json",
        ),
        (
            "GET",
            "/2.0/workspaces/bbworkspace1/projects",
            "bitbucket/workspace_projects.json",
        ),
        (
            "GET",
            "/2.0/repositories/tutorials/tutorials.bitbucket.org",
            "bitbucket/repository.json",
        ),
    ])
    .await;
    let config = BitbucketConfig {
        web_url: base.clone(),
        api_url: format!("{base}/2.0"),
        client_id: "key".into(),
        client_secret: Secret::new("secret"),
    };
    let client = BitbucketClient::new(config, reqwest::Client::new());

    let pair = client.exchange_code(&Secret::new("code")).await.unwrap();
    assert_eq!(pair.refresh_token.expose(), "rLnUvnhsjZdVfHk2Zh");
    assert_eq!(pair.scopes, ["account", "repository", "project", "webhook"]);

    let user = client
        .current_user(&token())
        .await
        .expect("a user without username or nickname");
    assert_eq!(user.uuid, "{470c176d-3574-44ea-bb41-89e8638bcca4}");
    assert_eq!(user.label(), "Erik van Zijst");

    let workspaces = client.workspaces(&token()).await.unwrap();
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0].slug, "bbworkspace1");
    assert_eq!(workspaces[0].uuid, "{a15fb181-db1f-48f7-b41f-e1eff06929d6}");

    let projects = client.projects(&token(), "bbworkspace1").await.unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].key, "BBP");

    let repo = client
        .repository(&token(), "tutorials", "tutorials.bitbucket.org")
        .await
        .unwrap()
        .expect("the repository");
    assert_eq!(repo.uuid, "{21fa9bf8-b5b2-4891-97ed-d590bad0f871}");
    assert_eq!(
        repo.slug, "tutorials.bitbucket.org",
        "no slug field: taken from full_name"
    );
    assert_eq!(
        repo.clone_url,
        "https://bitbucket.org/tutorials/tutorials.bitbucket.org.git"
    );
    assert_eq!(repo.main_branch.as_deref(), Some("master"));
    assert_eq!(repo.project_key.as_deref(), Some("PROJ"));
    assert_eq!(
        repo.updated_on.as_deref(),
        Some("2016-12-05T15:31:46.946564+00:00")
    );
}

#[tokio::test]
async fn the_gitlab_client_parses_gitlab_s_documented_examples() {
    let base = serve(&[
        ("POST", "/oauth/token", "gitlab/oauth_token.json"),
        ("GET", "/api/v4/user", "gitlab/user.json"),
        ("GET", "/api/v4/groups", "gitlab/groups.json"),
        ("GET", "/api/v4/projects/3", "gitlab/project.json"),
    ])
    .await;
    let config = GitLabConfig {
        base_url: format!("{base}/api/v4"),
        client_id: "id".into(),
        client_secret: Secret::new("secret"),
        redirect_uri: "http://127.0.0.1:9/callback/gitlab".into(),
        scopes: GitLabConfig::default_scopes(),
    };
    let client = GitLabClient::new(config, reqwest::Client::new());

    let verifier = Secret::new("v".repeat(43));
    let pair = client
        .exchange_code(&Secret::new("code"), &verifier)
        .await
        .unwrap();
    assert_eq!(
        pair.access_token.expose(),
        "de6780bc506a0446309bd9362820ba8aed28aa506c71eedbe1c5c4f9dd350e54"
    );
    let lifetime = pair.expires_at - chrono::Utc::now();
    assert!(lifetime > chrono::Duration::seconds(7100), "expires_in 7200");

    let user = client.current_user(&token()).await.unwrap();
    assert_eq!((user.id, user.username.as_str()), (1, "john_smith"));

    let groups = client.groups(&token()).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].id, groups[0].full_path.as_str()), (1, "foo-bar"));

    let project = client
        .project_by_id(&token(), 3)
        .await
        .unwrap()
        .expect("the project");
    assert_eq!(project.path_with_namespace, "diaspora/diaspora-project-site");
    assert_eq!(project.namespace.id, 3);
    assert_eq!(project.default_branch.as_deref(), Some("main"));
    assert_eq!(project.last_activity_at.as_deref(), Some("2013-09-30T13:46:02Z"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_client_parses_github_s_documented_examples() {
    // Each documented body through the functions the client's calls use.
    let installation = parse::installation(fixture("github/installation.json").as_bytes()).unwrap();
    assert_eq!(installation.id, 1);
    assert_eq!(installation.account_login, "github");
    assert_eq!(installation.target_type, "Organization");
    assert_eq!(installation.repository_selection, "selected");
    assert!(!installation.suspended);
    let token = parse::installation_token(fixture("github/installation_token.json").as_bytes()).unwrap();
    assert_eq!(token.token.expose(), "ghs_16C7e42F292c6912E7710c838347Ae178B4a");
    let (selection, repos) =
        parse::installation_repositories(fixture("github/installation_repositories.json").as_bytes())
            .unwrap();
    assert_eq!(selection.as_deref(), Some("selected"));
    assert_eq!(repos[0].full_name, "octocat/Hello-World");
    assert_eq!(repos[0].id, "1296269");
    let repo = parse::repository(fixture("github/repository.json").as_bytes()).unwrap();
    assert_eq!(
        (repo.id, repo.full_name.as_str()),
        (1296269, "octocat/Hello-World")
    );

    // And over HTTP, through the client's calls (the App JWT needs a real key: a sandbox's).
    let base = serve(&[
        ("GET", "/api/v3/app/installations/1", "github/installation.json"),
        (
            "POST",
            "/api/v3/app/installations/1/access_tokens",
            "github/installation_token.json",
        ),
        (
            "GET",
            "/api/v3/installation/repositories",
            "github/installation_repositories.json",
        ),
        (
            "GET",
            "/api/v3/repos/octocat/Hello-World",
            "github/repository.json",
        ),
    ])
    .await;
    let sandbox = forgelink_sandbox::github::GitHubSandbox::start(0).await.unwrap();
    let mut config = sandbox.client_config("http://127.0.0.1:9/setup");
    config.api_url = format!("{base}/api/v3/");
    config.web_url = base;
    let client = GitHubClient::new(config, reqwest::Client::new()).unwrap();
    assert_eq!(client.installation(1).await.unwrap(), installation);
    let (selection, listed) = client.installation_repositories(1).await.unwrap();
    assert_eq!((selection.as_str(), listed), ("selected", repos));
    let fetched = client
        .repository(1, "octocat", "Hello-World")
        .await
        .unwrap()
        .expect("the repository");
    assert_eq!(fetched.full_name, "octocat/Hello-World");
    assert_eq!(fetched.default_branch, "master");
}
