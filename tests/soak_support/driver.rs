//! The load driver: workers that link accounts on the three providers the way a platform and a
//! person do (name, start link, approve on the sandbox, follow the callback, pick the group or
//! workspace, save), create a project on each active account, and send signed push webhooks
//! (some twice, with the same delivery id). Every flow it starts is written down for the end.

use super::api::Api;
use super::server::{BITBUCKET_WEBHOOK_SECRET, GITLAB_WEBHOOK_TOKEN};
use forgelink::secret::Secret;
use forgelink::webhooks::sha256_signature;
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use forgelink_sandbox::github::GitHubSandbox;
use forgelink_sandbox::gitlab::GitLabSandbox;
use rand::Rng;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long the driver waits for an account to reach the next step before it moves on.
const STEP_WAIT: Duration = Duration::from_secs(60);

pub struct Sandboxes {
    pub github: GitHubSandbox,
    pub gitlab: GitLabSandbox,
    pub bitbucket: BitbucketSandbox,
}

/// One link flow the driver started (its `StartLink` was acknowledged).
#[derive(Debug, Clone)]
pub struct Flow {
    pub provider: &'static str,
    pub name: String,
    /// The GitHub organization, GitLab group or Bitbucket workspace made for it.
    pub owner: String,
    /// The project created on it once active: (id, name).
    pub project: Option<(Uuid, String)>,
}

pub struct Driver {
    pub api: Api,
    pub sandboxes: Sandboxes,
    pub stop: AtomicBool,
    next: AtomicU64,
    pub flows: Mutex<Vec<Flow>>,
    pub github_secret: Secret,
}

const PROVIDERS: [&str; 3] = ["github", "gitlab", "bitbucket"];

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_slice(&text).expect("a JSON fixture")
}

fn sha() -> String {
    let bytes: [u8; 20] = rand::thread_rng().gen();
    hex::encode(bytes)
}

impl Driver {
    pub fn new(api: Api, sandboxes: Sandboxes, github_secret: Secret) -> Driver {
        Driver {
            api,
            sandboxes,
            stop: AtomicBool::new(false),
            next: AtomicU64::new(0),
            flows: Mutex::new(Vec::new()),
            github_secret,
        }
    }

    fn flows_lock(&self) -> std::sync::MutexGuard<'_, Vec<Flow>> {
        self.flows.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn flows(&self) -> Vec<Flow> {
        self.flows_lock().clone()
    }

    /// One worker: flows one after another until told to stop (the current one finishes).
    pub async fn worker(&self) {
        while !self.stop.load(Ordering::SeqCst) {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            let provider = PROVIDERS[(n % 3) as usize];
            self.one_flow(provider, n).await;
        }
    }

    /// Polls the account until its status is one of `wanted`; the last status seen.
    pub async fn wait_status(&self, name: &str, wanted: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let (_, row) = self.api.get(&format!("/v1/accounts/{name}")).await;
            let status = row["status"].as_str().unwrap_or("").to_string();
            if wanted.contains(&status.as_str()) || Instant::now() > deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn one_flow(&self, provider: &'static str, n: u64) {
        let name = format!("soak-{provider}-{n}");
        let owner = format!("soak-{}-{n}", &provider[..2]);
        let s = &self.sandboxes;
        match provider {
            "github" => s.github.seed_org(&owner, &["infra", "apps"]),
            "gitlab" => {
                s.gitlab.seed_group(&owner);
            }
            _ => {
                s.bitbucket.seed_workspace(&owner, &[("INFRA", "Infrastructure")]);
            }
        }
        let named = self
            .api
            .command(json!({"type": "NameAccount", "provider": provider, "unique_name": name}))
            .await;
        if let Err(e) = named {
            panic!("NameAccount {name} refused: {e:?}");
        }
        // A StartLink whose answer was lost with a killed server is sent again as a new link
        // attempt: only the newest attempt's state works, as for a person who clicks twice.
        let mut url = None;
        for _ in 0..3 {
            match self
                .api
                .command(json!({"type": "StartLink", "account": name}))
                .await
            {
                Ok(reply) => {
                    url = reply["authorize_url"].as_str().map(str::to_string);
                    if url.is_some() {
                        break;
                    }
                }
                Err(e) => panic!("StartLink {name} refused: {e:?}"),
            }
        }
        let url = url.unwrap_or_else(|| panic!("StartLink {name} gave no authorize_url"));
        // The person opens the one-time continuation URL; spent by a lost answer, the flow stops.
        let Some((url, cookie)) = self.api.open_continuation(&url).await else {
            return;
        };
        self.flows_lock().push(Flow {
            provider,
            name: name.clone(),
            owner: owner.clone(),
            project: None,
        });
        let redirect = match provider {
            "github" => {
                let state = query_value(&url, "state");
                s.github.approve(&state, &owner, &["infra"]).await
            }
            "gitlab" => s.gitlab.approve(&url).await,
            _ => s.bitbucket.approve(&url).await,
        };
        let redirect = redirect.unwrap_or_else(|e| panic!("the {provider} sandbox refused {name}: {e}"));
        // 303 accepted; a 4xx after a lost answer means the state was used already.
        self.api.callback(&redirect, cookie.as_deref()).await;
        let status = self
            .wait_status(
                &name,
                &["active", "awaiting_details", "failed", "expired"],
                STEP_WAIT,
            )
            .await;
        if status == "awaiting_details" && !self.details(provider, &name, &owner).await {
            return;
        }
        let status = self
            .wait_status(&name, &["active", "failed", "expired"], STEP_WAIT)
            .await;
        if status != "active" {
            return;
        }
        if provider == "github" {
            // The person grants one more repository on GitHub: the sandbox sends
            // `installation_repositories` (unless it drops it, or the server is down), and
            // reconciliation must catch what the webhook did not bring.
            let (_, row) = self.api.get(&format!("/v1/accounts/{name}")).await;
            if let Some(installation) = row["installation_id"].as_u64() {
                let _ = s.github.add_repos_to_installation(installation, &["apps"]);
            }
        }
        let project_id = Uuid::new_v4();
        let project = format!("p{n}x");
        let created = self
            .api
            .command(
                json!({"type": "CreateProject", "project_id": project_id, "name": project, "account": name}),
            )
            .await;
        if created.is_ok() {
            if let Some(f) = self.flows_lock().iter_mut().find(|f| f.name == name) {
                f.project = Some((project_id, project.clone()));
            }
        }
        // Let the project saga make the repository, then push to the owner's repositories.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..2 {
            self.push_webhook(provider, &owner).await;
        }
    }

    /// The person's details step (GitLab group, Bitbucket workspace and project); false when
    /// the choice could not be made.
    async fn details(&self, provider: &str, name: &str, owner: &str) -> bool {
        let chosen = if provider == "gitlab" {
            let (_, body) = self.api.get(&format!("/v1/accounts/{name}/groups")).await;
            let group = body["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|g| g["full_path"] == owner)
                .and_then(|g| g["id"].as_u64());
            let Some(group) = group else { return false };
            self.api
                .command(json!({"type": "SelectGroup", "account": name, "group_id": group}))
                .await
        } else {
            self.api
                .command(json!({"type": "SelectWorkspace", "account": name, "workspace": owner, "project_key": "INFRA"}))
                .await
        };
        if chosen.is_err() {
            return false;
        }
        self.api
            .command(json!({"type": "SaveDetails", "account": name}))
            .await
            .is_ok()
    }

    /// A signed push delivery for one of `owner`'s repositories, and with some luck its twin.
    async fn push_webhook(&self, provider: &'static str, owner: &str) {
        let s = &self.sandboxes;
        let delivery_id = Uuid::new_v4().to_string();
        let (headers, body) = match provider {
            "github" => {
                let repos = s.github.repos_of_owner(owner);
                let Some(full) = pick(&repos) else { return };
                let repo = full.split('/').nth(1).unwrap_or_default();
                let Some(id) = s.github.repo_id(owner, repo) else {
                    return;
                };
                let mut v = fixture("github/push.json");
                v["after"] = json!(sha());
                v["repository"]["id"] = json!(id);
                v["repository"]["full_name"] = json!(full);
                let body = serde_json::to_vec(&v).expect("JSON");
                let headers = vec![
                    ("X-GitHub-Event".to_string(), "push".to_string()),
                    ("X-GitHub-Delivery".to_string(), delivery_id.clone()),
                    (
                        "X-Hub-Signature-256".to_string(),
                        sha256_signature(&self.github_secret, &body),
                    ),
                ];
                (headers, body)
            }
            "gitlab" => {
                let projects = s.gitlab.projects();
                let mine: Vec<_> = projects
                    .iter()
                    .filter(|p| p.namespace.full_path == owner)
                    .collect();
                let Some(p) = pick(&mine) else { return };
                let mut v = fixture("gitlab/project_hook_push.json");
                v["after"] = json!(sha());
                v["project_id"] = json!(p.id);
                v["project"]["id"] = json!(p.id);
                v["project"]["path_with_namespace"] = json!(p.path_with_namespace);
                let body = serde_json::to_vec(&v).expect("JSON");
                let headers = vec![
                    ("X-Gitlab-Event".to_string(), "Push Hook".to_string()),
                    ("X-Gitlab-Event-UUID".to_string(), delivery_id.clone()),
                    ("X-Gitlab-Token".to_string(), GITLAB_WEBHOOK_TOKEN.to_string()),
                ];
                (headers, body)
            }
            _ => {
                let repos = s.bitbucket.repositories(owner);
                let Some(r) = pick(&repos) else { return };
                let mut v = fixture("bitbucket/repo-push.json");
                v["repository"]["uuid"] = json!(r.uuid);
                v["repository"]["full_name"] = json!(r.full_name);
                if let Some(change) = v["push"]["changes"].get_mut(0) {
                    change["new"]["target"]["hash"] = json!(sha());
                }
                let body = serde_json::to_vec(&v).expect("JSON");
                let secret = Secret::new(BITBUCKET_WEBHOOK_SECRET);
                let headers = vec![
                    ("X-Event-Key".to_string(), "repo:push".to_string()),
                    ("X-Request-UUID".to_string(), delivery_id.clone()),
                    ("X-Hub-Signature".to_string(), sha256_signature(&secret, &body)),
                ];
                (headers, body)
            }
        };
        let answered = self.api.deliver(provider, &delivery_id, &headers, &body).await;
        // Providers send a delivery again when they saw no answer, and sometimes anyway.
        if answered.is_none() || rand::thread_rng().gen_bool(0.3) {
            self.api.counts.duplicates_sent.fetch_add(1, Ordering::Relaxed);
            self.api.deliver(provider, &delivery_id, &headers, &body).await;
        }
    }
}

fn pick<T: Clone>(items: &[T]) -> Option<T> {
    if items.is_empty() {
        return None;
    }
    Some(items[rand::thread_rng().gen_range(0..items.len())].clone())
}

pub fn query_value(url: &str, key: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| panic!("{url} has no {key}"))
}
