//! Tests of the vault on sled: sealed at rest, a wrong key refused, a ciphertext bound to its
//! reference, prefixes deleted, reopening, the key file's permissions, keys never printed.

use super::*;

fn fresh() -> (tempfile::TempDir, VaultKey) {
    (tempfile::tempdir().unwrap(), VaultKey::generate())
}

#[test]
fn a_stored_secret_reads_back_and_is_not_stored_in_clear() {
    let (dir, key) = fresh();
    let vault = Vault::open(&dir.path().join("vault"), key).unwrap();
    let token = Secret::new("ghu_roundtrip_value_123");
    vault.put("account/a/user_token", &token).unwrap();
    assert_eq!(vault.get("account/a/user_token").unwrap(), Some(token));
    assert_eq!(vault.get("account/a/other").unwrap(), None);
    let raw = vault.tree().get("account/a/user_token").unwrap().unwrap();
    assert!(
        !raw.windows(7).any(|w| w == b"ghu_rou"),
        "ciphertext holds the clear text"
    );
}

#[test]
fn a_wrong_key_is_refused_at_open_with_a_clear_error() {
    let (dir, key) = fresh();
    {
        let vault = Vault::open(&dir.path().join("vault"), key).unwrap();
        vault.put("account/a/user_token", &Secret::new("t")).unwrap();
    }
    let err = Vault::open(&dir.path().join("vault"), VaultKey::generate()).unwrap_err();
    assert!(matches!(err, VaultError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not match the secrets in"), "{err}");
}

#[test]
fn a_ciphertext_moved_to_another_reference_does_not_decrypt() {
    let (dir, key) = fresh();
    let vault = Vault::open(&dir.path().join("vault"), key).unwrap();
    vault.put("account/a/user_token", &Secret::new("alice")).unwrap();
    let sealed = vault.tree().get("account/a/user_token").unwrap().unwrap();
    vault.tree().insert("account/b/user_token", sealed).unwrap();
    let err = vault.get("account/b/user_token").unwrap_err();
    assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
}

#[test]
fn deleting_an_accounts_prefix_destroys_only_its_secrets() {
    let (dir, key) = fresh();
    let vault = Vault::open(&dir.path().join("vault"), key).unwrap();
    let s = Secret::new("x");
    vault
        .put_many(&[("account/a/user_token", &s), ("account/a/refresh_token", &s)])
        .unwrap();
    vault.put("account/ab/user_token", &s).unwrap();
    assert_eq!(vault.delete_prefix("account/a/").unwrap(), 2);
    assert_eq!(vault.get("account/a/user_token").unwrap(), None);
    assert_eq!(vault.get("account/a/refresh_token").unwrap(), None);
    assert_eq!(vault.get("account/ab/user_token").unwrap(), Some(s.clone()));
    vault.delete("account/ab/user_token").unwrap();
    assert_eq!(vault.get("account/ab/user_token").unwrap(), None);
}

#[test]
fn secrets_survive_reopening_with_the_same_key() {
    let (dir, key) = fresh();
    {
        let vault = Vault::open(&dir.path().join("vault"), key.clone()).unwrap();
        vault.put("r", &Secret::new("kept")).unwrap();
    }
    let vault = Vault::open(&dir.path().join("vault"), key).unwrap();
    assert_eq!(vault.get("r").unwrap(), Some(Secret::new("kept")));
}

#[cfg(unix)]
#[test]
fn the_key_file_is_created_once_with_owner_only_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(KEY_FILE);
    let first = VaultKey::from_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = VaultKey::from_file(&path).unwrap();
    assert_eq!(first.0, again.0, "a second start must reuse the key");
}

#[test]
fn bad_keys_are_refused_and_keys_never_print() {
    assert!(matches!(VaultKey::from_hex("zz"), Err(VaultError::BadKey(_))));
    assert!(matches!(VaultKey::from_hex("abcd"), Err(VaultError::BadKey(_))));
    let key = VaultKey::from_hex(&"ab".repeat(32)).unwrap();
    assert_eq!(format!("{key:?}"), "VaultKey([redacted])");
}
