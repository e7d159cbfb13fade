//! The worlds the flow bench drives: one engine over one loopback sandbox per provider, and one
//! whole link flow on each, driven by command messages exactly as a shell sends them. GitHub:
//! name, start, install on the sandbox, setup callback, saga until `active`. GitLab and
//! Bitbucket: name, start, OAuth approval on the sandbox, callback, saga until
//! `awaiting_details`, select the group (GitLab) or workspace + project key (Bitbucket), save.

use forgelink::engine::{CommandMessage, CommandReply, Engine, EngineConfig, Request};
use forgelink::saga::RetryPolicy;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink::vault::VaultKey;
use forgelink_events::{Durability, Provider};
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use forgelink_sandbox::github::GitHubSandbox;
use forgelink_sandbox::gitlab::GitLabSandbox;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest a single flow may take before the bench calls it stuck (fails loudly, never hangs).
pub const FLOW_LIMIT: Duration = Duration::from_secs(120);

/// Where the sandboxes send the person back; the bench passes the query on itself.
const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// The steps of a GitHub link flow, as the summary names them.
pub const GITHUB_STEPS: &[&str] = &["name", "start_link", "approve", "callback", "saga_to_active"];
/// The steps of a GitLab or Bitbucket link flow.
pub const OAUTH_STEPS: &[&str] = &[
    "name",
    "start_link",
    "approve",
    "callback",
    "saga_to_details",
    "select",
    "save_details",
];

/// The sandbox a world runs over.
pub enum Sandbox {
    GitHub(GitHubSandbox),
    GitLab { sandbox: GitLabSandbox, group: u64 },
    Bitbucket(BitbucketSandbox),
}

/// One engine over one provider's sandbox, in its own temporary folder.
pub struct World {
    pub provider: Provider,
    pub sandbox: Sandbox,
    pub engine: Engine,
    _dir: tempfile::TempDir,
}

impl World {
    /// A sandbox for `provider` answering every call `delay` late, and an engine over it with
    /// the engine's own retry policy (not the tests' impatient one).
    pub async fn start(provider: Provider, durability: Durability, delay: Duration) -> World {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut config = EngineConfig::new(dir.path());
        config.durability = durability;
        config.retry = RetryPolicy::default();
        config.vault_key = Some(VaultKey::generate());
        let sandbox = match provider {
            Provider::GitHub => {
                let s = GitHubSandbox::start(0).await.expect("the GitHub sandbox starts");
                config.github = Some(s.client_config(CALLBACK));
                s.faults.set_delay(delay);
                Sandbox::GitHub(s)
            }
            Provider::GitLab => {
                let s = GitLabSandbox::start(0).await.expect("the GitLab sandbox starts");
                s.seed_user("bench-person");
                // Every flow picks the same group: a person's group list does not grow with the
                // number of accounts the platform links.
                let group = s.seed_group("bench/infra");
                config.gitlab = Some(s.client_config(CALLBACK));
                s.faults.set_delay(delay);
                Sandbox::GitLab { sandbox: s, group }
            }
            Provider::Bitbucket => {
                let s = BitbucketSandbox::start(0)
                    .await
                    .expect("the Bitbucket sandbox starts");
                s.seed_user("bench-person");
                s.seed_workspace("bench", &[("INF", "Infrastructure")]);
                config.bitbucket = Some(s.client_config(CALLBACK));
                s.faults.set_delay(delay);
                Sandbox::Bitbucket(s)
            }
        };
        let engine = Engine::open(config).await.expect("the engine opens");
        World {
            provider,
            sandbox,
            engine,
            _dir: dir,
        }
    }

    /// The step names of this world's flow.
    pub fn steps(&self) -> &'static [&'static str] {
        match self.provider {
            Provider::GitHub => GITHUB_STEPS,
            _ => OAUTH_STEPS,
        }
    }

    /// Set-up for flow `n`, outside the timed part: GitHub allows one installation per
    /// organization, so each flow installs on its own.
    pub fn seed(&self, n: u64) {
        if let Sandbox::GitHub(s) = &self.sandbox {
            s.seed_org(&format!("org-{n}"), &["infra"]);
        }
    }

    /// One whole link flow for account `bench-{n}`; the time each step took.
    pub async fn link_flow(&self, n: u64) -> Vec<Duration> {
        let name = format!("bench-{n}");
        let mut laps = Vec::with_capacity(7);
        let mut lap = Instant::now();
        let mut step = |laps: &mut Vec<Duration>| {
            let now = Instant::now();
            laps.push(std::mem::replace(&mut lap, now).elapsed());
        };
        let id = self.send(Request::NameAccount {
            provider: self.provider,
            unique_name: name.clone(),
            account_id: None,
        });
        let id = id.await.account_id;
        step(&mut laps);
        let reply = self
            .send(Request::StartLink {
                account: name.clone(),
            })
            .await;
        let url = reply.authorize_url.expect("StartLink answers with the URL");
        step(&mut laps);
        let redirect = match &self.sandbox {
            Sandbox::GitHub(s) => {
                let state = query(&url).remove("state").expect("the URL carries our state");
                s.approve(&state, &format!("org-{n}"), &["infra"]).await
            }
            Sandbox::GitLab { sandbox, .. } => sandbox.approve(&url).await,
            Sandbox::Bitbucket(s) => s.approve(&url).await,
        };
        let q = query(&redirect.expect("the sandbox accepts the approval"));
        step(&mut laps);
        let reply = self
            .send(Request::CompleteAuthorization {
                state: q.get("state").cloned(),
                installation_id: q.get("installation_id").and_then(|s| s.parse().ok()),
                setup_action: q.get("setup_action").cloned(),
                code: q.get("code").cloned().map(Secret::new),
                error: None,
            })
            .await;
        assert_eq!(reply.events, ["AuthorizationReceived"]);
        step(&mut laps);
        if self.provider == Provider::GitHub {
            self.wait_for(id, "active").await;
            step(&mut laps);
            return laps;
        }
        self.wait_for(id, "awaiting_details").await;
        step(&mut laps);
        let select = match &self.sandbox {
            Sandbox::GitLab { group, .. } => Request::SelectGroup {
                account: name.clone(),
                group_id: *group,
            },
            _ => Request::SelectWorkspace {
                account: name.clone(),
                workspace: "bench".into(),
                project_key: "INF".into(),
            },
        };
        self.send(select).await;
        step(&mut laps);
        let saved = self.send(Request::SaveDetails { account: name }).await;
        assert_eq!(saved.status, "active");
        step(&mut laps);
        laps
    }

    async fn send(&self, request: Request) -> CommandReply {
        let what = request.message_type();
        self.engine
            .execute(CommandMessage::new(request).by("bench"))
            .await
            .unwrap_or_else(|e| panic!("{what} refused in a bench flow: {e}"))
    }

    /// Waits until the account has `status`, waking on every append to the log rather than
    /// polling, so the time measured ends with the append that made it so.
    async fn wait_for(&self, account_id: Uuid, status: &str) {
        let mut head = self.engine.log().subscribe();
        let deadline = tokio::time::Instant::now() + FLOW_LIMIT;
        loop {
            let state = self
                .engine
                .account_state(account_id)
                .expect("the account's state");
            match state.status().as_str() {
                s if s == status => return,
                "failed" => panic!("a bench flow failed instead of reaching {status}"),
                _ => {}
            }
            match tokio::time::timeout_at(deadline, head.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => panic!("the log closed during a bench flow"),
                Err(_) => panic!("a bench flow did not reach {status} within {FLOW_LIMIT:?}"),
            }
        }
    }
}

/// A URL's query as a map.
fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("a valid URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
