//! `forgelink demo` as a library call: the three sandbox providers started in-process on
//! loopback ports and seeded (GitHub organization `acme` with repositories, a GitLab user with
//! groups, a Bitbucket user with workspaces and projects), the server started on 127.0.0.1 with
//! the sandboxes' approval pages sending the person back to its callback URLs and the GitHub
//! sandbox's webhooks going to its webhook URL, and a generated admin token. The walkthrough and
//! the browser test start the same thing through [`start`].

use super::auth::random_token;
use super::server::{Server, ServerConfig, ServerError, WebhookSecrets};
use crate::engine::EngineConfig;
use crate::sandbox_settings::ClientConfig;
use crate::secret::Secret;
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use forgelink_sandbox::github::GitHubSandbox;
use forgelink_sandbox::gitlab::GitLabSandbox;
use std::path::PathBuf;

/// Where and how the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub data_dir: PathBuf,
    /// The server's port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Where the event log lives (`--store`): None is the folder `data_dir/log`.
    pub store: Option<forgelink_events::StoreLocation>,
    /// Adjusts the engine's configuration before it opens (tests: fast retries, a vault key).
    pub engine: Option<fn(&mut EngineConfig)>,
    /// A read-only token for the queries, if wanted.
    pub viewer_token: Option<Secret>,
    /// How the webhook inbox's workers run (tests: fast retries, few attempts).
    pub inbox: crate::inbox::WorkerConfig,
}

impl DemoOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        DemoOptions {
            data_dir: data_dir.into(),
            port: 0,
            store: None,
            engine: None,
            viewer_token: None,
            inbox: crate::inbox::WorkerConfig::default(),
        }
    }
}

/// The running demo: the server, the sandboxes (to act as the person on the provider's side),
/// and the credentials to drive it.
pub struct DemoHandle {
    pub server: Server,
    pub github: GitHubSandbox,
    pub gitlab: GitLabSandbox,
    pub bitbucket: BitbucketSandbox,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Bearer token for `POST /v1/commands` and every query.
    pub admin_token: Secret,
    /// The file in the data folder that holds the three webhook secrets (readable by its owner
    /// only), to sign deliveries to the demo by hand.
    pub secrets_file: PathBuf,
}

/// The demo's webhook secrets file, in its data folder.
pub const SECRETS_FILE: &str = "demo-webhook-secrets.toml";

/// The GitLab token and Bitbucket secret the demo used before in `data_dir` (so deliveries
/// signed for it keep working after a restart), or new ones; written back with GitHub's (the
/// GitHub sandbox's app keeps its secret in its saved world).
fn webhook_secrets(
    data_dir: &std::path::Path,
    github: &Secret,
) -> Result<(Secret, Secret, PathBuf), DemoError> {
    let path = data_dir.join(SECRETS_FILE);
    let before: toml::Table = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let kept = |key: &str| {
        before
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map_or_else(|| Secret::new(random_token()), Secret::new)
    };
    let (gitlab, bitbucket) = (kept("gitlab_webhook_token"), kept("bitbucket_webhook_secret"));
    let text = format!(
        "# The webhook secrets of this forgelink demo (they stay the same across restarts on this folder).\n\
         github_webhook_secret = \"{}\"\ngitlab_webhook_token = \"{}\"\nbitbucket_webhook_secret = \"{}\"\n",
        github.expose(),
        gitlab.expose(),
        bitbucket.expose()
    );
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(&path)?, text.as_bytes())
    };
    write().map_err(|e| DemoError::Seed(format!("cannot write {}: {e}", path.display())))?;
    Ok((gitlab, bitbucket, path))
}

/// The seeded names, for walkthroughs and tests.
pub mod seed {
    pub const GITHUB_ORG: &str = "acme";
    pub const GITHUB_REPOS: &[&str] = &["infra", "apps", "docs"];
    /// An organization where the demo's person is only a member: installing there makes an
    /// installation request, approved by an owner on the sandbox's
    /// `/organizations/initech/settings/installations` page.
    pub const GITHUB_MEMBER_ORG: &str = "initech";
    pub const GITHUB_MEMBER_REPOS: &[&str] = &["platform"];
    pub const GITLAB_USER: &str = "alice";
    pub const GITLAB_GROUPS: &[&str] = &["acme", "acme/platform"];
    pub const BITBUCKET_USER: &str = "alice";
    pub const BITBUCKET_WORKSPACE: &str = "acme";
    pub const BITBUCKET_PROJECTS: &[(&str, &str)] = &[("INFRA", "Infrastructure"), ("APPS", "Applications")];
    pub const BITBUCKET_OTHER_WORKSPACE: &str = "acme-labs";
    pub const BITBUCKET_OTHER_PROJECTS: &[(&str, &str)] = &[("LAB", "Experiments")];
    /// The repository each provider holds with the blueprint marker at its root (GitHub:
    /// `acme/blueprints`; GitLab: `acme/platform/blueprints`; Bitbucket: `acme/blueprints`).
    pub const BLUEPRINT_REPO: &str = "blueprints";
    pub const BLUEPRINT_CONTENT: &str = "kind: blueprint\nname: service\n";
}

/// Why the demo did not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("a sandbox provider did not start: {0}")]
    Sandbox(std::io::Error),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("the demo's sandbox refused its seed: {0}")]
    Seed(String),
}

impl DemoHandle {
    /// A new one-time dashboard login link.
    pub fn login_link(&self) -> String {
        self.server.login_link()
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The folder, in the data folder, where the sandboxes keep their worlds.
pub const SANDBOXES_DIR: &str = "demo-sandboxes";

/// Starts the sandboxes and the server. The sandboxes keep their worlds in the data folder
/// (`demo-sandboxes/`): started again on the same folder, the demo finds the organizations,
/// installations, grants and tokens it had (on the same ports when they are free), so the
/// accounts linked before keep working and no id is given twice. They are seeded on the first
/// start only.
pub async fn start(options: DemoOptions) -> Result<DemoHandle, DemoError> {
    let worlds = options.data_dir.join(SANDBOXES_DIR);
    let (github, gitlab, bitbucket) = tokio::try_join!(
        GitHubSandbox::start_saved(worlds.join("github.json")),
        GitLabSandbox::start_saved(worlds.join("gitlab.json")),
        BitbucketSandbox::start_saved(worlds.join("bitbucket.json"))
    )
    .map_err(DemoError::Sandbox)?;
    if !github.restored() {
        seed_github(&github);
    }
    if !gitlab.restored() {
        seed_gitlab(&gitlab)?;
    }
    if !bitbucket.restored() {
        seed_bitbucket(&bitbucket)?;
    }
    serve(options, github, gitlab, bitbucket).await
}

fn seed_github(github: &GitHubSandbox) {
    github.seed_org(seed::GITHUB_ORG, seed::GITHUB_REPOS);
    github.seed_org(seed::GITHUB_MEMBER_ORG, seed::GITHUB_MEMBER_REPOS);
    github.members_request_installs(seed::GITHUB_MEMBER_ORG);
    // One blueprint repository each, for the import step of the walkthrough and the dashboard.
    let marker = crate::engine::DEFAULT_BLUEPRINT_MARKER;
    github.seed_repo_with_file(
        seed::GITHUB_ORG,
        seed::BLUEPRINT_REPO,
        marker,
        seed::BLUEPRINT_CONTENT,
    );
    github.save();
}

fn seed_gitlab(gitlab: &GitLabSandbox) -> Result<(), DemoError> {
    gitlab.seed_user(seed::GITLAB_USER);
    for g in seed::GITLAB_GROUPS {
        gitlab.seed_group(g);
    }
    let marker = crate::engine::DEFAULT_BLUEPRINT_MARKER;
    let group = seed::GITLAB_GROUPS.last().copied().unwrap_or("acme");
    gitlab
        .seed_project_with_file(group, seed::BLUEPRINT_REPO, marker, seed::BLUEPRINT_CONTENT)
        .map_err(|e| DemoError::Seed(e.to_string()))?;
    gitlab.save();
    Ok(())
}

fn seed_bitbucket(bitbucket: &BitbucketSandbox) -> Result<(), DemoError> {
    bitbucket.seed_user(seed::BITBUCKET_USER);
    bitbucket.seed_workspace(seed::BITBUCKET_WORKSPACE, seed::BITBUCKET_PROJECTS);
    bitbucket.seed_workspace(seed::BITBUCKET_OTHER_WORKSPACE, seed::BITBUCKET_OTHER_PROJECTS);
    let marker = crate::engine::DEFAULT_BLUEPRINT_MARKER;
    bitbucket
        .seed_repository_with_file(
            seed::BITBUCKET_WORKSPACE,
            seed::BLUEPRINT_REPO,
            seed::BITBUCKET_PROJECTS[0].0,
            marker,
            seed::BLUEPRINT_CONTENT,
        )
        .map_err(|e| DemoError::Seed(e.to_string()))?;
    bitbucket.save();
    Ok(())
}

/// Starts the server on the sandboxes.
async fn serve(
    options: DemoOptions,
    github: GitHubSandbox,
    gitlab: GitLabSandbox,
    bitbucket: BitbucketSandbox,
) -> Result<DemoHandle, DemoError> {
    let addr = format!("127.0.0.1:{}", options.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| ServerError::Listen {
            addr: addr.clone(),
            detail: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| ServerError::Listen {
        addr,
        detail: e.to_string(),
    })?;
    let base_url = format!("http://{local}");

    let mut engine = EngineConfig::new(&options.data_dir);
    engine.store = options.store.clone();
    let github_config = github.client_config(&format!("{base_url}/callback/github"));
    let github_secret = github_config.webhook_secret.clone();
    engine.github = Some(github_config);
    engine.gitlab = Some(gitlab.client_config(&format!("{base_url}/callback/gitlab")));
    engine.webhook_base_url = Some(base_url.clone());
    engine.bitbucket = Some(bitbucket.client_config(&format!("{base_url}/callback/bitbucket")));
    if let Some(adjust) = options.engine {
        adjust(&mut engine);
    }
    github.set_webhook_url(&format!("{base_url}/webhooks/github"));

    let admin_token = Secret::new(random_token());
    let mut config = ServerConfig::new(engine);
    config.public_url = Some(base_url.clone());
    config.admin_tokens = vec![admin_token.clone()];
    config.viewer_tokens = options.viewer_token.into_iter().collect();
    config.inbox = options.inbox;
    // The GitLab and Bitbucket sandboxes send no webhooks; their secrets are for deliveries
    // signed by hand, and kept in the data folder across restarts.
    let (gitlab_secret, bitbucket_secret, secrets_file) = webhook_secrets(&options.data_dir, &github_secret)?;
    config.webhook_secrets = WebhookSecrets {
        github: Some(github_secret),
        gitlab: Some(gitlab_secret),
        bitbucket: Some(bitbucket_secret),
    };
    let server = Server::start_on(listener, config).await?;
    Ok(DemoHandle {
        server,
        github,
        gitlab,
        bitbucket,
        base_url,
        admin_token,
        secrets_file,
    })
}
