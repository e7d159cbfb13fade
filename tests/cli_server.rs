//! Every read command of the command line prints the same against a running server
//! (`--server URL --token T`, through `forgelink::client::Client`) as against the data folder
//! once the server has stopped: `accounts`, `account`, `history` (with and without `--as-of`),
//! `replay --verify`, `export` and `deliveries`, as text and as `--json`. And the exit status
//! tells usage mistakes (2) from refusals (1), each with the server's own words.

mod http_support;

use http_support::{Http, VIEWER};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

/// Runs the built binary off the async workers (the server answers it from this process);
/// `FORGELINK_SERVER` / `FORGELINK_TOKEN` of the caller's environment are not inherited.
async fn forgelink(dir: PathBuf, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_forgelink"))
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .env_remove("FORGELINK_SERVER")
            .env_remove("FORGELINK_TOKEN")
            .output()
            .expect("run forgelink")
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The log head once nothing has been appended for a while and the inbox is drained.
async fn settled(h: &Http) -> u64 {
    let mut last = h.head();
    loop {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (_, inbox) = h.get("/v1/deliveries").await;
        let now = h.head();
        if now == last && inbox["counts"]["pending"] == 0 {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_command_prints_the_same_from_a_server_as_from_the_folder() {
    let h = Http::start().await;
    h.link_github("acme-gh").await;
    h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "acme-gl"}))
        .await;
    h.ok(json!({"type": "NameAccount", "provider": "bitbucket", "unique_name": "acme-bb"}))
        .await;
    let head = settled(&h).await;
    let middle = (head / 2).max(1).to_string();
    let commands: Vec<Vec<String>> = vec![
        strings(&["accounts"]),
        strings(&["accounts", "--json"]),
        strings(&["accounts", "--provider", "github", "--status", "active"]),
        strings(&["account", "acme-gh"]),
        strings(&["account", "ACME-GL", "--json"]),
        strings(&["history", "acme-gh"]),
        strings(&["history", "acme-gh", "--json"]),
        vec![
            "history".into(),
            "acme-gh".into(),
            "--as-of".into(),
            middle.clone(),
        ],
        vec![
            "history".into(),
            "acme-gh".into(),
            "--as-of".into(),
            middle,
            "--json".into(),
        ],
        strings(&["replay", "--verify"]),
        strings(&["replay", "--verify", "--json"]),
        strings(&["export"]),
        strings(&["deliveries"]),
        strings(&["deliveries", "--json", "--provider", "github"]),
    ];
    let (server, admin) = (h.demo.base_url.clone(), h.admin().to_string());
    let unused = h.dir.path().join("not-the-data-folder");
    let mut remote = Vec::new();
    for args in &commands {
        let mut with_server = args.clone();
        with_server.extend([
            "--server".to_string(),
            server.clone(),
            "--token".into(),
            admin.clone(),
        ]);
        let out = forgelink(unused.clone(), with_server).await;
        assert!(
            out.status.success(),
            "{args:?} --server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        remote.push(out);
    }
    assert_eq!(h.head(), head, "nothing happened while the server was asked");
    let data: PathBuf = h.dir.path().to_path_buf();
    let Http { demo, dir, .. } = h;
    demo.shutdown().await;
    for (args, from_server) in commands.iter().zip(remote) {
        let out = forgelink(data.clone(), args.clone()).await;
        assert!(
            out.status.success(),
            "{args:?} on the folder: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (a, b) = (
            String::from_utf8_lossy(&from_server.stdout),
            String::from_utf8_lossy(&out.stdout),
        );
        assert!(!b.trim().is_empty(), "{args:?} printed something");
        assert_eq!(a, b, "{args:?}: the server's output, then the folder's");
        assert_eq!(
            String::from_utf8_lossy(&from_server.stderr),
            String::from_utf8_lossy(&out.stderr),
            "{args:?}: what goes to stderr"
        );
    }
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_status_tells_a_usage_mistake_from_a_refusal_in_the_servers_words() {
    let h = Http::start().await;
    let server = h.demo.base_url.clone();
    let nowhere = h.dir.path().join("unused");
    let run = |args: &[&str]| forgelink(nowhere.clone(), strings(args));

    // A server without a token, and an unknown option: the command line is wrong (2).
    let out = run(&["accounts", "--server", &server]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("FORGELINK_TOKEN"));
    let out = run(&["accounts", "--colour"]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = run(&["replay", "--server", &server, "--token", VIEWER]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "only --verify is offered by a server: {out:?}"
    );

    // The server refuses: status 1, and the server's own words.
    let out = run(&["replay", "--verify", "--server", &server, "--token", VIEWER]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("403") && err.contains("viewer token can only read"),
        "{err}"
    );
    let out = run(&[
        "accounts",
        "--server",
        &server,
        "--token",
        "wrong-token-0123456789",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"), "{out:?}");
    let out = run(&["account", "nobody", "--server", &server, "--token", VIEWER]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no account named `nobody`"),
        "{out:?}"
    );
    let out = run(&["history", "nobody", "--server", &server, "--token", VIEWER]).await;
    assert_eq!(out.status.code(), Some(1));

    // The viewer token reads everything but the comparison.
    let out = run(&["accounts", "--json", "--server", &server, "--token", VIEWER]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");

    // Nothing listens there: status 1, naming the address.
    h.demo.shutdown().await;
    let out = run(&["accounts", "--server", &server, "--token", VIEWER]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach") && err.contains(&server), "{err}");
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_forgelink"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["accounts", "history", "deliveries", "--server"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_forgelink"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_early_ends_the_server_forms_output_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let h = Http::start().await;
    for i in 0..300 {
        h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": format!("acme-{i}")}))
            .await;
    }
    let server = h.demo.base_url.clone();
    for args in [&["accounts", "--json"][..], &["accounts"][..], &["export"][..]] {
        let server = server.clone();
        let args: Vec<String> = strings(args);
        let out = tokio::task::spawn_blocking(move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_forgelink"))
                .args(&args)
                .args(["--server", &server, "--token", VIEWER])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut first = [0u8; 64];
            child.stdout.take().unwrap().read_exact(&mut first).unwrap();
            (args, child.wait_with_output().unwrap())
        })
        .await
        .unwrap();
        let (args, out) = out;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{args:?} said: {stderr}");
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "{args:?} ended {:?}",
            out.status
        );
    }
    h.demo.shutdown().await;
}
