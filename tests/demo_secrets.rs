//! `forgelink demo` tells where its webhook secrets are: a file in its data folder, readable by
//! its owner only, and all three secrets stay the same across a restart on the same folder (the
//! GitHub sandbox keeps its app in its saved world), so deliveries signed for the demo keep
//! working.

use forgelink::api::demo::{self, DemoOptions};
use forgelink::webhooks::Provider;

fn secrets(text: &str) -> toml::Table {
    text.parse().expect("the secrets file is TOML")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_keeps_its_webhook_secrets_in_its_data_folder_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let handle = demo::start(DemoOptions::new(dir.path()))
            .await
            .expect("the demo starts");
        let file = handle.secrets_file.clone();
        assert!(file.starts_with(dir.path()), "{}", file.display());
        let t = secrets(&std::fs::read_to_string(&file).unwrap());
        let inner = &handle.server.state().inner;
        assert_eq!(
            t["gitlab_webhook_token"].as_str(),
            Some(inner.webhook_secret(Provider::GitLab).expose())
        );
        assert_eq!(
            t["github_webhook_secret"].as_str(),
            Some(inner.webhook_secret(Provider::GitHub).expose())
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        seen.push((
            t["github_webhook_secret"].clone(),
            t["gitlab_webhook_token"].clone(),
            t["bitbucket_webhook_secret"].clone(),
        ));
        handle.shutdown().await;
    }
    assert_eq!(seen[0], seen[1], "the same secrets after the restart");
}
