//! GitLab projects over loopback HTTP against the sandbox: creating one in the selected group
//! (and GitLab's refusals), looking before creating, listing every page, reading the blueprint
//! marker, and following renames, transfers and deletions by project id.

use forgelink::events::Provider;
use forgelink::providers::gitlab::GitLabClient;
use forgelink::providers::naming::repository_name_for;
use forgelink::providers::oauth::Pkce;
use forgelink::providers::ProviderError;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_sandbox::gitlab::GitLabSandbox;

const CALLBACK: &str = "http://127.0.0.1:9/callback/gitlab";

/// A sandbox with a person signed in, and their access token.
async fn linked() -> (GitLabSandbox, GitLabClient, Secret) {
    let sandbox = GitLabSandbox::start(0).await.expect("sandbox starts");
    let client = GitLabClient::new(sandbox.client_config(CALLBACK), reqwest::Client::new());
    sandbox.seed_user("alice");
    let pkce = Pkce::generate();
    let redirect = sandbox
        .approve(&client.authorize_url("st", &pkce.challenge))
        .await
        .unwrap();
    let code = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .unwrap();
    let tokens = client
        .exchange_code(&Secret::new(code), &pkce.verifier)
        .await
        .unwrap();
    (sandbox, client, tokens.access_token)
}

#[tokio::test]
async fn a_new_project_is_one_private_repository_in_the_selected_group() {
    let (sandbox, client, token) = linked().await;
    let group = sandbox.seed_group("acme/platform");
    let path = repository_name_for(Provider::GitLab, "Payments API").unwrap();
    let created = client
        .create_project(&token, group, "Payments API", &path)
        .await
        .unwrap();
    assert_eq!(created.path_with_namespace, "acme/platform/payments-api");
    assert_eq!(created.namespace.id, group);
    assert_eq!(created.default_branch, None, "a new project is empty");
    assert!(created
        .http_url_to_repo
        .ends_with("/acme/platform/payments-api.git"));
    assert!(created.web_url.starts_with(&sandbox.base_url()));

    let found = client
        .find_project(&token, "acme/platform/payments-api")
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&created), "look before you create finds it");
    assert_eq!(
        client.project_by_id(&token, created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        client
            .find_project(&token, "acme/platform/nothing")
            .await
            .unwrap(),
        None
    );
    let seen: Vec<_> = sandbox
        .projects()
        .into_iter()
        .map(|p| {
            (
                p.id,
                p.name,
                p.path,
                p.path_with_namespace,
                p.http_url_to_repo,
                p.web_url,
                p.default_branch,
                p.namespace.id,
                p.namespace.full_path,
            )
        })
        .collect();
    let c = created;
    let namespace = (c.namespace.id, c.namespace.full_path);
    let created = (
        c.id,
        c.name,
        c.path,
        c.path_with_namespace,
        c.http_url_to_repo,
        c.web_url,
        c.default_branch,
        namespace.0,
        namespace.1,
    );
    assert_eq!(seen, vec![created]);
}

#[tokio::test]
async fn a_taken_name_or_an_invalid_path_is_refused_with_gitlabs_reasons() {
    let (sandbox, client, token) = linked().await;
    let group = sandbox.seed_group("acme");
    client
        .create_project(&token, group, "infra", "infra")
        .await
        .unwrap();
    let err = client
        .create_project(&token, group, "infra", "infra")
        .await
        .unwrap_err();
    let ProviderError::Rejected { status, detail, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 400);
    assert!(
        detail.contains("name has already been taken") && detail.contains("path has already been taken"),
        "{detail}"
    );
    let err = client
        .create_project(&token, group, "mirror", "mirror.git")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 400, detail, .. } if detail.contains("path")),
        "{err:?}"
    );
    assert_eq!(
        sandbox.projects().len(),
        1,
        "nothing was created by the refused calls"
    );
}

#[tokio::test]
async fn a_group_without_developer_access_or_out_of_sight_refuses_new_projects() {
    let (sandbox, client, token) = linked().await;
    let reporter = sandbox.seed_group_with_access("acme/readonly", 20);
    let err = client
        .create_project(&token, reporter, "x", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    let err = client
        .create_project(&token, 999_999, "x", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn the_blueprint_marker_is_read_from_seeded_projects_only() {
    let (sandbox, client, token) = linked().await;
    let group = sandbox.seed_group("acme");
    let blueprint = sandbox
        .seed_project_with_file(
            "acme",
            "Web Blueprint",
            "blueprint.yaml",
            "kind: blueprint\nname: web\n",
        )
        .unwrap();
    let nested = sandbox
        .seed_project_with_file("acme", "nested", "infra/blueprint.yaml", "kind: nested\n")
        .unwrap();
    let plain = client
        .create_project(&token, group, "plain", "plain")
        .await
        .unwrap();
    assert_eq!(blueprint.path_with_namespace, "acme/web-blueprint");
    assert_eq!(blueprint.default_branch.as_deref(), Some("main"));

    let file = client
        .blueprint_file(&token, blueprint.id, "blueprint.yaml", "main")
        .await
        .unwrap()
        .expect("the marker is there");
    assert_eq!(file.content, "kind: blueprint\nname: web\n");
    assert_eq!(file.file_path, "blueprint.yaml");
    assert_eq!(file.last_commit_id.len(), 40);
    let inner = client
        .blueprint_file(&token, nested.id, "infra/blueprint.yaml", "main")
        .await
        .unwrap();
    assert_eq!(inner.map(|f| f.content).as_deref(), Some("kind: nested\n"));
    for (id, path, git_ref) in [
        (nested.id, "blueprint.yaml", "main"),
        (blueprint.id, "blueprint.yaml", "no-such-branch"),
        (plain.id, "blueprint.yaml", "main"),
        (424_242, "blueprint.yaml", "main"),
    ] {
        let got = client.blueprint_file(&token, id, path, git_ref).await.unwrap();
        assert_eq!(got, None, "{id} {path}@{git_ref}");
    }
}

#[tokio::test]
async fn every_page_of_member_projects_is_listed() {
    let (sandbox, client, token) = linked().await;
    sandbox.seed_group("acme");
    let mut expected = Vec::new();
    for i in 0..205 {
        let p = sandbox
            .seed_project_with_file("acme", &format!("bp-{i:03}"), "blueprint.yaml", "x")
            .unwrap();
        expected.push(p.id);
    }
    // A project in a group alice is not in stays out of sight.
    sandbox.seed_user("mallory");
    sandbox.seed_group("elsewhere");
    sandbox
        .seed_project_with_file("elsewhere", "hidden", "blueprint.yaml", "x")
        .unwrap();
    let ids: Vec<u64> = client
        .member_projects(&token)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(
        ids, expected,
        "205 projects over three pages, in id order, without mallory's"
    );
}

#[tokio::test]
async fn renamed_transferred_and_deleted_projects_are_followed_by_id() {
    let (sandbox, client, token) = linked().await;
    sandbox.seed_group("acme");
    sandbox.seed_group("acme/moved");
    let p = sandbox
        .seed_project_with_file("acme", "old", "blueprint.yaml", "x")
        .unwrap();
    sandbox.rename_project(p.id, "new").unwrap();
    assert_eq!(client.find_project(&token, "acme/old").await.unwrap(), None);
    let renamed = client.project_by_id(&token, p.id).await.unwrap().unwrap();
    assert_eq!(renamed.path_with_namespace, "acme/new");
    sandbox.transfer_project(p.id, "acme/moved").unwrap();
    let moved = client
        .find_project(&token, "acme/moved/new")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.id, p.id);
    assert!(sandbox.delete_project(p.id));
    assert_eq!(client.project_by_id(&token, p.id).await.unwrap(), None);
    assert!(!sandbox.delete_project(p.id));
}
