//! Webhooks forgelink registers on GitLab and Bitbucket, end to end over HTTP: a project's
//! repository gets one hook pointing at forgelink with its own secret; a push in the sandbox
//! reaches forgelink only through that hook (the sandbox, like the providers, delivers only to
//! registered hooks, signed with the hook's secret); a deleted hook is recreated by
//! reconciliation; detaching the project removes it.

mod http_support;
mod provider_support;

use forgelink::domain::ProjectStatus;
use http_support::Http;
use provider_support::{create_project, link, wait_project};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// The provider-specific part: a repository's hooks, a push delivered to them, a hook deleted.
struct Repo<'a> {
    h: &'a Http,
    provider: &'a str,
    /// GitLab: the project id; Bitbucket: `workspace/slug`.
    key: String,
}

impl Repo<'_> {
    fn hooks(&self) -> Vec<(String, String)> {
        match self.provider {
            "gitlab" => self.h.demo.gitlab.hooks(self.key.parse().unwrap()),
            _ => {
                let (ws, slug) = self.key.split_once('/').unwrap();
                self.h.demo.bitbucket.hooks(ws, slug)
            }
        }
    }

    /// Pushes one commit; the commit and how many hooks took the delivery.
    async fn push(&self) -> (String, usize) {
        match self.provider {
            "gitlab" => self
                .h
                .demo
                .gitlab
                .push_and_deliver(self.key.parse().unwrap(), "alice")
                .await
                .unwrap(),
            _ => {
                let (ws, slug) = self.key.split_once('/').unwrap();
                self.h
                    .demo
                    .bitbucket
                    .push_and_deliver(ws, slug, "alice")
                    .await
                    .unwrap()
            }
        }
    }

    fn delete_hook(&self, id: &str) -> bool {
        match self.provider {
            "gitlab" => self.h.demo.gitlab.delete_hook(self.key.parse().unwrap(), id),
            _ => {
                let (ws, slug) = self.key.split_once('/').unwrap();
                self.h.demo.bitbucket.delete_hook(ws, slug, id)
            }
        }
    }
}

async fn ready(h: &Http, provider: &str) -> (Uuid, String) {
    let account = format!("hooks-{provider}");
    link(h, provider, &account).await;
    let id = create_project(h, &account, "Payments").await;
    let s = wait_project(h, id, Duration::from_secs(20), |s| {
        s.status == ProjectStatus::Ready
    })
    .await;
    let repo = s
        .repository
        .clone()
        .unwrap_or_else(|| panic!("{provider}: {s:?}"));
    let key = match provider {
        "gitlab" => repo.provider_id,
        _ => repo.full_name,
    };
    (id, key)
}

async fn last_commit(h: &Http, id: Uuid, commit: &str) -> Option<String> {
    let s = wait_project(h, id, Duration::from_secs(5), |s| {
        s.last_push.as_ref().is_some_and(|p| p.commit == commit)
    })
    .await;
    s.last_push.map(|p| p.commit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_reaches_forgelink_only_through_the_hook_it_registered_and_a_deleted_hook_comes_back() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("forgelink=info"))
        .with_test_writer()
        .try_init();
    let h = Http::start().await;
    for provider in ["gitlab", "bitbucket"] {
        let (id, key) = ready(&h, provider).await;
        let repo = Repo { h: &h, provider, key };
        let hooks = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let hooks = repo.hooks();
                if !hooks.is_empty() {
                    return hooks;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{provider}: no hook was registered"));
        assert_eq!(hooks.len(), 1, "{provider}: {hooks:?}");
        let expected = format!("{}/webhooks/{provider}?hook={id}", h.demo.base_url);
        assert_eq!(hooks[0].1, expected, "{provider}");

        let (commit, delivered) = repo.push().await;
        assert_eq!(delivered, 1, "{provider}: the registered hook took the push");
        assert_eq!(
            last_commit(&h, id, &commit).await.as_deref(),
            Some(commit.as_str()),
            "{provider}"
        );

        // Without the hook, a push reaches forgelink no more; reconciliation finds both.
        assert!(repo.delete_hook(&hooks[0].0), "{provider}");
        let (lost, delivered) = repo.push().await;
        assert_eq!(delivered, 0, "{provider}: nothing is delivered without a hook");
        h.demo.server.engine().reconcile(None).await.unwrap();
        let again = repo.hooks();
        assert_eq!(
            again.len(),
            1,
            "{provider}: reconciliation recreated the hook: {again:?}"
        );
        assert_ne!(again[0].0, hooks[0].0, "{provider}: a new hook");
        assert_eq!(again[0].1, expected, "{provider}");
        assert_eq!(
            last_commit(&h, id, &lost).await.as_deref(),
            Some(lost.as_str()),
            "{provider}"
        );
        let (commit, delivered) = repo.push().await;
        assert_eq!(delivered, 1, "{provider}: the recreated hook delivers");
        assert_eq!(
            last_commit(&h, id, &commit).await.as_deref(),
            Some(commit.as_str()),
            "{provider}"
        );

        // Detaching the project removes its hook.
        h.ok(json!({"type": "DetachProject", "project_id": id, "reason": "moving away"}))
            .await;
        let tidy = tokio::time::timeout(Duration::from_secs(10), async {
            while !repo.hooks().is_empty() {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        assert!(
            tidy.is_ok(),
            "{provider}: the hook is removed on detach: {:?}",
            repo.hooks()
        );
    }
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_with_another_hooks_secret_is_refused() {
    let h = Http::start().await;
    let (id, _) = ready(&h, "gitlab").await;
    let body = json!({"object_kind": "push"}).to_string();
    let r = h
        .client
        .post(h.url(&format!("/webhooks/gitlab?hook={id}")))
        .header("X-Gitlab-Event", "Push Hook")
        .header("X-Gitlab-Event-UUID", "0e3a6d43-5d1e-4d5e-9b0e-5d2a1c0d8f11")
        .header("X-Gitlab-Token", "not-the-hooks-secret")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_repository_gets_forgelinks_hook_too() {
    let h = Http::start().await;
    for provider in ["gitlab", "bitbucket"] {
        let account = format!("import-{provider}");
        link(&h, provider, &account).await;
        let full_name = match provider {
            "gitlab" => format!("acme/platform/{}", forgelink::api::demo::seed::BLUEPRINT_REPO),
            _ => format!("acme/{}", forgelink::api::demo::seed::BLUEPRINT_REPO),
        };
        let reply = h
            .ok(json!({"type": "ImportProject", "account": account, "name": "Blueprint", "repository": full_name}))
            .await;
        let id: Uuid = reply["project_id"].as_str().unwrap().parse().unwrap();
        let s = wait_project(&h, id, Duration::from_secs(10), |s| {
            s.status == ProjectStatus::Ready
        })
        .await;
        let repo = s
            .repository
            .clone()
            .unwrap_or_else(|| panic!("{provider}: {s:?}"));
        let key = match provider {
            "gitlab" => repo.provider_id,
            _ => repo.full_name,
        };
        let repo = Repo { h: &h, provider, key };
        let registered = tokio::time::timeout(Duration::from_secs(10), async {
            while repo.hooks().is_empty() {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        assert!(
            registered.is_ok(),
            "{provider}: the imported repository got no hook"
        );
        assert_eq!(
            repo.hooks()[0].1,
            format!("{}/webhooks/{provider}?hook={id}", h.demo.base_url),
            "{provider}"
        );
    }
    h.demo.shutdown().await;
}
