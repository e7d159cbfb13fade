//! Bitbucket Cloud repositories over loopback HTTP against the sandbox: creating one in the
//! selected workspace and project (and Bitbucket's refusals), looking before creating, listing
//! every page, reading the blueprint marker, and following renames and deletions.

use forgelink::events::Provider;
use forgelink::providers::bitbucket::BitbucketClient;
use forgelink::providers::naming::repository_name_for;
use forgelink::providers::ProviderError;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_sandbox::bitbucket::BitbucketSandbox;

const CALLBACK: &str = "http://127.0.0.1:9/callback/bitbucket";

/// A sandbox with a person signed in who owns workspace `acme` (projects `INFRA` and `WEB`),
/// and their access token.
async fn linked() -> (BitbucketSandbox, BitbucketClient, Secret) {
    let sandbox = BitbucketSandbox::start(0).await.expect("sandbox starts");
    let client = BitbucketClient::new(sandbox.client_config(CALLBACK), reqwest::Client::new());
    sandbox.seed_user("emma");
    sandbox.seed_workspace("acme", &[("INFRA", "Infrastructure"), ("WEB", "Web")]);
    let redirect = sandbox.approve(&client.authorize_url("st")).await.unwrap();
    let code = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .unwrap();
    let tokens = client.exchange_code(&Secret::new(code)).await.unwrap();
    (sandbox, client, tokens.access_token)
}

#[tokio::test]
async fn a_new_repository_is_private_in_the_selected_workspace_and_project() {
    let (sandbox, client, token) = linked().await;
    let slug = repository_name_for(Provider::Bitbucket, "Data Lake").unwrap();
    let created = client
        .create_repository(&token, "acme", &slug, "INFRA")
        .await
        .unwrap();
    assert_eq!(created.full_name, "acme/data-lake");
    assert_eq!(created.slug, "data-lake");
    assert_eq!(created.project_key.as_deref(), Some("INFRA"));
    assert!(
        created.uuid.starts_with('{') && created.uuid.ends_with('}'),
        "{}",
        created.uuid
    );
    assert!(
        created.clone_url.ends_with("/acme/data-lake.git"),
        "{}",
        created.clone_url
    );
    assert!(created.html_url.ends_with("/acme/data-lake"));
    assert_eq!(created.main_branch, None, "a new repository is empty");

    let found = client.repository(&token, "acme", "data-lake").await.unwrap();
    assert_eq!(found.as_ref(), Some(&created), "look before you create finds it");
    assert_eq!(client.repository(&token, "acme", "nothing").await.unwrap(), None);
    let seen: Vec<_> = sandbox
        .repositories("acme")
        .into_iter()
        .map(|r| {
            (
                r.uuid,
                r.slug,
                r.name,
                r.full_name,
                r.clone_url,
                r.html_url,
                r.main_branch,
                r.project_key,
            )
        })
        .collect();
    let c = created;
    let created = (
        c.uuid,
        c.slug,
        c.name,
        c.full_name,
        c.clone_url,
        c.html_url,
        c.main_branch,
        c.project_key,
    );
    assert_eq!(seen, vec![created]);
}

#[tokio::test]
async fn a_taken_slug_or_an_unknown_project_key_is_refused_with_bitbuckets_reasons() {
    let (sandbox, client, token) = linked().await;
    client
        .create_repository(&token, "acme", "infra", "INFRA")
        .await
        .unwrap();
    let err = client
        .create_repository(&token, "acme", "infra", "WEB")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 400, detail, .. } if detail.contains("already exists")),
        "{err:?}"
    );
    let err = client
        .create_repository(&token, "acme", "other", "NOPE")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 400, detail, .. } if detail.contains("NOPE") && detail.contains("project")),
        "{err:?}"
    );
    let err = client
        .create_repository(&token, "acme", "Upper", "INFRA")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    let err = client
        .create_repository(&token, "nowhere", "x", "INFRA")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert_eq!(
        sandbox.repositories("acme").len(),
        1,
        "the refused calls created nothing"
    );
}

#[tokio::test]
async fn a_collaborator_cannot_create_repositories() {
    let (sandbox, client, token) = linked().await;
    // The same person, as a mere collaborator of another workspace.
    sandbox.seed_workspace_as("guest", &[("G", "Guest")], "collaborator");
    let err = client
        .create_repository(&token, "guest", "x", "G")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    assert!(sandbox.repositories("guest").is_empty());
}

#[tokio::test]
async fn the_blueprint_marker_is_read_from_seeded_repositories_only() {
    let (sandbox, client, token) = linked().await;
    let seeded = sandbox
        .seed_repository_with_file(
            "acme",
            "web-blueprint",
            "WEB",
            "blueprint.yaml",
            "kind: blueprint\n",
        )
        .unwrap();
    sandbox
        .seed_repository_with_file("acme", "nested", "WEB", "infra/blueprint.yaml", "kind: nested\n")
        .unwrap();
    client
        .create_repository(&token, "acme", "plain", "INFRA")
        .await
        .unwrap();
    assert_eq!(seeded.main_branch.as_deref(), Some("main"));
    let got = client
        .src_file(&token, "acme", "web-blueprint", "main", "blueprint.yaml")
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some("kind: blueprint\n"));
    let inner = client
        .src_file(&token, "acme", "nested", "main", "infra/blueprint.yaml")
        .await
        .unwrap();
    assert_eq!(inner.as_deref(), Some("kind: nested\n"));
    for (slug, git_ref, path) in [
        ("nested", "main", "blueprint.yaml"),
        ("web-blueprint", "develop", "blueprint.yaml"),
        ("plain", "main", "blueprint.yaml"),
        ("missing", "main", "blueprint.yaml"),
    ] {
        let got = client
            .src_file(&token, "acme", slug, git_ref, path)
            .await
            .unwrap();
        assert_eq!(got, None, "{slug}@{git_ref}:{path}");
    }
}

#[tokio::test]
async fn every_page_of_a_workspaces_repositories_is_listed() {
    let (sandbox, client, token) = linked().await;
    let mut expected = Vec::new();
    for i in 0..215 {
        let r = sandbox
            .seed_repository_with_file("acme", &format!("bp-{i:03}"), "INFRA", "blueprint.yaml", "x")
            .unwrap();
        expected.push(r.uuid);
    }
    let listed: Vec<String> = client
        .repositories(&token, "acme")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uuid)
        .collect();
    assert_eq!(listed, expected, "215 repositories over three pages, in order");
}

#[tokio::test]
async fn renamed_and_deleted_repositories_keep_or_lose_their_uuid() {
    let (sandbox, client, token) = linked().await;
    let r = sandbox
        .seed_repository_with_file("acme", "old", "INFRA", "blueprint.yaml", "x")
        .unwrap();
    let renamed = sandbox.rename_repository("acme", "old", "new").unwrap();
    assert_eq!(renamed.uuid, r.uuid);
    assert_eq!(client.repository(&token, "acme", "old").await.unwrap(), None);
    let now = client.repository(&token, "acme", "new").await.unwrap().unwrap();
    assert_eq!(
        (now.uuid.as_str(), now.full_name.as_str()),
        (r.uuid.as_str(), "acme/new")
    );
    assert!(sandbox.delete_repository("acme", "new"));
    assert_eq!(client.repository(&token, "acme", "new").await.unwrap(), None);
    assert!(!sandbox.delete_repository("acme", "new"));
}
