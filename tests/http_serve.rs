//! `forgelink serve` and `forgelink send` as a person runs them: a missing or bad setting stops
//! start-up with a message naming it; a good config serves, and `send` posts a command message
//! to it (or applies one to a data folder when no server runs).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const ADMIN: &str = "admin-token-0123456789abcdef";

fn forgelink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forgelink"));
    // The tests' own environment must not leak settings in.
    for (k, _) in std::env::vars() {
        if k.starts_with("FORGELINK_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `serve` with `toml` and `env`; it must fail: its stderr.
fn refused(toml: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("forgelink.toml");
    std::fs::write(&file, toml).unwrap();
    let mut c = forgelink();
    c.arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("serve")
        .arg("--config")
        .arg(&file);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        !out.status.success(),
        "serve must not start with {toml:?} {env:?}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn serve_refuses_to_start_and_names_the_missing_or_bad_setting() {
    let base = format!("public_url = \"http://127.0.0.1:1\"\nadmin_token = \"{ADMIN}\"\n");
    let e = refused(&format!("admin_token = \"{ADMIN}\"\n"), &[]);
    assert!(
        e.contains("public_url") && e.contains("FORGELINK_PUBLIC_URL"),
        "{e}"
    );
    let e = refused("public_url = \"http://x\"\n", &[]);
    assert!(e.contains("admin_token"), "{e}");
    // Everything else in order, but no master vault key outside the data folder.
    let e = refused(&base, &[]);
    assert!(
        e.contains("vault_key_file") && e.contains("FORGELINK_VAULT_KEY"),
        "{e}"
    );
    let e = refused(&base, &[("FORGELINK_LISTEN", "not-an-address")]);
    assert!(e.contains("`listen`"), "{e}");
    let e = refused(&format!("{base}[github]\napp_id = 5\napp_slug = \"x\"\nclient_id = \"c\"\nclient_secret = \"s\"\nwebhook_secret = \"w\"\nprivate_key_file = \"/nonexistent/key.pem\"\n"), &[]);
    assert!(e.contains("github.private_key_file"), "{e}");
    // gitlab.webhook_token is only for a webhook added by hand: not required.
    let e = refused(&format!("{base}[gitlab]\nclient_id = \"c\"\n"), &[]);
    assert!(e.contains("gitlab.client_secret"), "{e}");
    let e = refused(
        &format!(
            "{base}[bitbucket]\nkey = \"k\"\nsecret = \"s\"\nwebhook_secret = \"w\"\napi_url = \"nope\"\n"
        ),
        &[],
    );
    assert!(e.contains("bitbucket.api_url"), "{e}");
    let e = refused(&format!("{base}admin_tokn = \"typo\"\n"), &[]);
    assert!(e.contains("admin_tokn"), "{e}");
    let e = refused("this is = not toml [", &[]);
    assert!(e.contains("forgelink.toml"), "{e}");
    assert!(!e.contains(ADMIN));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn serve_starts_from_environment_variables_and_send_posts_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = forgelink()
        .arg("serve")
        .env("FORGELINK_DATA_DIR", dir.path().join("data"))
        .env("FORGELINK_LISTEN", format!("127.0.0.1:{port}"))
        .env("FORGELINK_PUBLIC_URL", &url)
        .env("FORGELINK_ADMIN_TOKEN", ADMIN)
        .env("FORGELINK_VAULT_KEY", "11".repeat(32))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while std::time::Instant::now() < deadline {
        if client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = up.then(|| {
        let mut send = forgelink()
            .args(["send", "-", "--server", &url])
            .env("FORGELINK_TOKEN", ADMIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        send.stdin
            .take()
            .unwrap()
            .write_all(br#"{"type": "NameAccount", "provider": "gitlab", "unique_name": "sent-one"}"#)
            .unwrap();
        send.wait_with_output().unwrap()
    });
    let _ = server.kill();
    let _ = server.wait();
    assert!(up, "serve answered /healthz");
    let sent = sent.unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(String::from_utf8_lossy(&sent.stdout).contains("AccountNamed"));
    // Everything serve created, the stores opened after start-up included, is the owner's only.
    #[cfg(unix)]
    assert_owner_only(&dir.path().join("data"));
}

#[cfg(unix)]
fn assert_owner_only(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).unwrap();
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_dir() {
        assert_eq!(mode, 0o700, "{}", path.display());
        for entry in std::fs::read_dir(path).unwrap() {
            assert_owner_only(&entry.unwrap().path());
        }
    } else {
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn send_without_a_server_applies_the_command_to_the_data_folder_and_names_bad_fields() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cmd.json");
    std::fs::write(
        &file,
        r#"{"type": "NameAccount", "provider": "bitbucket", "unique_name": "offline"}"#,
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        forgelink()
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("FORGELINK_VAULT_KEY", "22".repeat(32))
            .arg("send")
            .arg(file)
            .output()
            .unwrap()
    };
    let out = run(&file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("AccountNamed"));
    std::fs::write(&file, r#"{"type": "StartLink"}"#).unwrap();
    let out = run(&file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"field\":\"account\""));
}
