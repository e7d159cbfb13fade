//! Tests of the data keys: unlinking destroys an account's key so copies left on disk no longer
//! open, vaults of the old layout are upgraded, and the vault's files are its owner's only.

use super::*;

fn fresh() -> (tempfile::TempDir, VaultKey) {
    (tempfile::tempdir().unwrap(), VaultKey::generate())
}

#[test]
fn unlinking_destroys_the_accounts_data_key_so_copies_left_on_disk_no_longer_open() {
    let (dir, key) = fresh();
    let vault = Vault::open(&dir.path().join("vault"), key).unwrap();
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    let r = format!("account/{a}/oauth/1/access");
    vault.put(&r, &Secret::new("glpat-a")).unwrap();
    vault
        .put_for_account(a, "state/abc", &Secret::new(a.to_string()))
        .unwrap();
    vault
        .put(&format!("account/{b}/oauth/1/access"), &Secret::new("glpat-b"))
        .unwrap();
    let left_behind = vault.tree().get(&r).unwrap().unwrap();
    let keys = data_keys_dir(&dir.path().join("vault"));
    assert!(keys.join(format!("account-{a}.key")).exists());

    assert_eq!(vault.delete_prefix(&format!("account/{a}/")).unwrap(), 1);
    assert!(
        !keys.join(format!("account-{a}.key")).exists(),
        "the data key is destroyed"
    );
    // What sled may keep in its files: the old sealed value is there but opens to nothing.
    vault.tree().insert(r.as_bytes(), left_behind).unwrap();
    assert_eq!(vault.get(&r).unwrap(), None);
    assert_eq!(
        vault.get("state/abc").unwrap(),
        None,
        "its state entry goes with it"
    );
    // A new secret for the same account gets a new key; the old copy still opens to nothing.
    vault.put(&format!("account/{a}/x"), &Secret::new("new")).unwrap();
    assert_eq!(vault.get(&r).unwrap(), None);
    assert_eq!(
        vault.get(&format!("account/{b}/oauth/1/access")).unwrap(),
        Some(Secret::new("glpat-b")),
        "other accounts keep theirs"
    );
}

#[test]
fn a_vault_of_the_old_layout_is_upgraded_and_keeps_its_secrets() {
    use chacha20poly1305::aead::{Aead, AeadCore, OsRng, Payload};
    let (dir, key) = fresh();
    let path = dir.path().join("vault");
    {
        // Written the way vaults were before data keys: under the master key directly.
        let db = sled::open(&path).unwrap();
        let tree = db.open_tree("secrets").unwrap();
        let cipher = XChaCha20Poly1305::new((&key.0).into());
        for (r, v) in [
            (CANARY, "forgelink vault"),
            ("account/7/oauth/1/access", "old-token"),
        ] {
            let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
            let ct = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: v.as_bytes(),
                        aad: r.as_bytes(),
                    },
                )
                .unwrap();
            tree.insert(r, [nonce.as_slice(), &ct].concat()).unwrap();
        }
        db.flush().unwrap();
    }
    let err = Vault::open(&path, VaultKey::generate()).unwrap_err();
    assert!(matches!(err, VaultError::KeyMismatch { .. }), "{err}");
    let vault = Vault::open(&path, key.clone()).unwrap();
    assert_eq!(
        vault.get("account/7/oauth/1/access").unwrap(),
        Some(Secret::new("old-token"))
    );
    assert!(vault.tree().iter().all(|i| !sealed::is_legacy(&i.unwrap().1)));
    assert!(!dir.path().join("vault.legacy").exists() && !dir.path().join("vault.upgrading").exists());
    drop(vault);
    let vault = Vault::open(&path, key).unwrap();
    assert_eq!(
        vault.get("account/7/oauth/1/access").unwrap(),
        Some(Secret::new("old-token"))
    );
}

#[cfg(unix)]
#[test]
fn vault_folders_are_owner_only_and_files_too_after_restricting() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, key) = fresh();
    let path = dir.path().join("vault");
    let vault = Vault::open(&path, key).unwrap();
    vault.put("account/1/x", &Secret::new("s")).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o700);
    assert_eq!(mode(&data_keys_dir(&path)), 0o700);
    restrict_permissions(dir.path()).unwrap();
    for entry in std::fs::read_dir(&path).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(
            mode(&p),
            if p.is_dir() { 0o700 } else { 0o600 },
            "{}",
            p.display()
        );
    }
    assert_eq!(mode(&data_keys_dir(&path).join("shared.key")), 0o600);
}

#[test]
fn a_local_command_on_a_folder_whose_key_is_kept_elsewhere_makes_no_new_key() {
    if std::env::var(KEY_ENV).is_ok_and(|v| !v.trim().is_empty()) {
        return; // the environment names a key: nothing is looked up in the folder
    }
    let dir = tempfile::tempdir().unwrap();
    drop(Vault::open(&dir.path().join("vault"), VaultKey::generate()).unwrap());
    let err = VaultKey::from_env_or_file(dir.path()).unwrap_err();
    assert!(matches!(err, VaultError::MissingKey { .. }), "{err}");
    assert!(err.to_string().contains(KEY_ENV), "{err}");
    assert!(
        !dir.path().join(KEY_FILE).exists(),
        "no key file was made in the folder"
    );
}
