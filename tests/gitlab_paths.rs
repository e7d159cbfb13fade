//! GitLab project paths as GitLab documents them since 14.9 ("must not start or end with a
//! special character and must not contain consecutive special characters"), end to end against
//! the sandbox: a project whose name would give such a path gets a valid one and ends ready.

mod common_oauth;
mod common_projects;

use common_oauth::gitlab::*;
use common_projects::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_name_with_runs_of_special_characters_gets_a_path_gitlab_accepts() {
    let w = world().await;
    let account = active(&w).await;
    let id = create_project(&w.engine, NAME, "Data__Lake .v2")
        .await
        .unwrap()
        .project_id
        .unwrap();
    assert_eq!(wait_status(&w.engine, id, "ready").await, "ready");
    let paths: Vec<String> = w.sandbox.projects().into_iter().map(|p| p.path).collect();
    assert_eq!(paths, ["data_lake-v2"], "account {account}");
    w.engine.shutdown().await;
}
