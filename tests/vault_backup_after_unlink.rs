//! Secrets really gone: a backup (a plain copy) of the data folder taken after an account is
//! unlinked holds nothing of that account that decrypts with the master key. Every file of the
//! copy (the vault's sled files, the wrapped data keys, the log, the projections) is scanned for
//! sealed values and wrapped keys in the layout `src/vault/sealed.rs` and
//! `src/vault/data_keys.rs` document, and each is tried: wrapped keys with the master key, sealed
//! values with every key that opened. The same scan of a copy taken before the unlink finds and
//! opens the account's tokens, so the scan is shown to work.

mod http_support;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use forgelink::api::demo::{self, DemoOptions};
use forgelink::engine::EngineConfig;
use forgelink::saga::RetryPolicy;
use forgelink::secret::Secret;
use http_support::{Http, PATIENCE, VIEWER};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

const MASTER: [u8; 32] = [0x5a; 32];

fn config(c: &mut EngineConfig) {
    c.retry = RetryPolicy {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(3),
        give_up_after: Duration::from_secs(5),
    };
    c.vault_key = Some(forgelink::vault::VaultKey::from_bytes(MASTER));
}

async fn start() -> Http {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DemoOptions::new(dir.path());
    options.engine = Some(config);
    options.viewer_token = Some(Secret::new(VIEWER));
    let demo = demo::start(options).await.expect("the demo starts");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Http::new(demo, dir, client)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if let Ok(bytes) = std::fs::read(entry.path()) {
            std::fs::write(target, bytes).unwrap();
        }
    }
}

fn all_files(dir: &Path, out: &mut Vec<Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(std::fs::read(&path).unwrap());
        }
    }
}

fn occurrences<'a>(bytes: &'a [u8], magic: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    bytes
        .windows(magic.len())
        .enumerate()
        .filter(move |(_, w)| *w == magic)
        .map(|(i, _)| i)
}

/// One sealed value that decrypted: its scope (nil for shared), reference and clear text.
#[derive(Debug, Clone)]
struct Opened {
    scope: Uuid,
    reference: String,
    plain: String,
}

/// Everything in the copy that opens with the master key.
fn scan(copy: &Path) -> (Vec<Uuid>, Vec<Opened>) {
    let master = XChaCha20Poly1305::new((&MASTER).into());
    let mut files = Vec::new();
    all_files(copy, &mut files);
    // Wrapped keys: FLK1 | kind | scope (16) | key id (16) | nonce (24) | 48 bytes.
    let mut keys: HashMap<[u8; 16], XChaCha20Poly1305> = HashMap::new();
    let mut key_scopes = Vec::new();
    for bytes in &files {
        for at in occurrences(bytes, b"FLK1") {
            let Some(b) = bytes.get(at..at + 37 + 24 + 48) else {
                continue;
            };
            let (head, rest) = b.split_at(37);
            let (nonce, wrapped) = rest.split_at(24);
            let Ok(raw) = master.decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: wrapped,
                    aad: head,
                },
            ) else {
                continue;
            };
            let raw: [u8; 32] = raw.try_into().unwrap();
            keys.insert(
                head[21..37].try_into().unwrap(),
                XChaCha20Poly1305::new((&raw).into()),
            );
            key_scopes.push(Uuid::from_slice(&head[5..21]).unwrap());
        }
    }
    // Sealed values: FLS2 | kind | scope | key id | ref len (2) | ref | ct len (4) | nonce | ct.
    let mut opened = Vec::new();
    for bytes in &files {
        for at in occurrences(bytes, b"FLS2") {
            let b = &bytes[at..];
            let Some(len) = b.get(37..39) else { continue };
            let ref_len = u16::from_be_bytes(len.try_into().unwrap()) as usize;
            let end_ref = 39 + ref_len;
            let Some(ct_len) = b.get(end_ref..end_ref + 4) else {
                continue;
            };
            let ct_len = u32::from_be_bytes(ct_len.try_into().unwrap()) as usize;
            let head_end = end_ref + 4;
            let (Some(nonce), Some(ct)) = (
                b.get(head_end..head_end + 24),
                b.get(head_end + 24..head_end + 24 + ct_len),
            ) else {
                continue;
            };
            let key_id: [u8; 16] = b[21..37].try_into().unwrap();
            // Every key that opened is tried, not only the one named.
            let mut tries: Vec<&XChaCha20Poly1305> = keys.get(&key_id).into_iter().collect();
            tries.extend(keys.values());
            tries.push(&master);
            let plain = tries.iter().find_map(|k| {
                k.decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: &b[..head_end],
                    },
                )
                .ok()
            });
            if let Some(plain) = plain {
                opened.push(Opened {
                    scope: Uuid::from_slice(&b[5..21]).unwrap(),
                    reference: String::from_utf8_lossy(&b[39..end_ref]).into_owned(),
                    plain: String::from_utf8_lossy(&plain).into_owned(),
                });
            }
        }
    }
    (key_scopes, opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_after_unlink_holds_nothing_of_the_account_that_decrypts() {
    let h = start().await;
    let url = h.start_link("gitlab", "acme-gitlab").await;
    let redirect = h.demo.gitlab.approve(&url).await.expect("alice approves");
    h.follow_callback(&redirect).await;
    assert_eq!(
        h.wait_status("acme-gitlab", "awaiting_details").await,
        "awaiting_details"
    );
    let (_, row) = h.get("/v1/accounts/acme-gitlab").await;
    let account: Uuid = row["id"].as_str().unwrap().parse().unwrap();

    let before = tempfile::tempdir().unwrap();
    copy_dir(h.dir.path(), before.path());
    let (scopes, opened) = scan(before.path());
    assert!(
        scopes.contains(&account),
        "the account's data key opens before the unlink"
    );
    let theirs: Vec<Opened> = opened.iter().filter(|o| o.scope == account).cloned().collect();
    assert!(
        theirs
            .iter()
            .any(|o| o.reference.contains("/oauth/") && !o.plain.is_empty()),
        "the scan opens the account's tokens in a copy taken before the unlink: {theirs:?}"
    );
    let secrets: Vec<String> = theirs
        .iter()
        .map(|o| o.plain.clone())
        .filter(|p| p.len() >= 16 && *p != account.to_string())
        .collect();
    assert!(!secrets.is_empty(), "{theirs:?}");

    h.ok(json!({"type": "UnlinkAccount", "account": "acme-gitlab"}))
        .await;
    let key_file =
        forgelink::vault::data_keys_dir(&h.dir.path().join("vault")).join(format!("account-{account}.key"));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while key_file.exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!key_file.exists(), "unlinking destroys the account's data key");

    let after = tempfile::tempdir().unwrap();
    copy_dir(h.dir.path(), after.path());
    let (scopes, opened) = scan(after.path());
    assert!(
        !scopes.contains(&account),
        "no wrapped key of the account is left"
    );
    let theirs: Vec<&Opened> = opened.iter().filter(|o| o.scope == account).collect();
    assert!(theirs.is_empty(), "{theirs:?}");
    for o in &opened {
        assert!(
            !o.reference.contains(&account.to_string()) && !secrets.contains(&o.plain),
            "{} still decrypts from the backup",
            o.reference
        );
    }
    assert!(
        opened.iter().any(|o| o.plain == "forgelink vault"),
        "the scan still opens what is not the account's"
    );
    h.demo.shutdown().await;
}
