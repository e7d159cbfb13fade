//! The vault on PostgreSQL, as several instances share it: the same promises as on sled (sealed
//! at rest, a wrong key refused at open, unlinking shreds the account's key), and what sharing
//! adds: a secret one instance stores is read by another, and two instances that make an
//! account's data key at the same moment end up with one key that opens both their secrets.
//! Each test makes and drops its own database (`pg_testing`); under CI they fail without one.

use super::*;
use forgelink_events::pg_testing::test_database;

fn raw(vault: &Vault, reference: &str) -> Option<Vec<u8>> {
    match &vault.backend {
        Backend::Postgres(pg) => pg.get(reference).unwrap(),
        Backend::Sled { .. } => panic!("not a PostgreSQL vault"),
    }
}

#[test]
fn a_secret_is_sealed_in_the_database_and_another_instance_reads_it() {
    let Some(db) = test_database() else { return };
    let key = VaultKey::generate();
    let one = Vault::open_postgres(db.url(), key.clone()).unwrap();
    let two = Vault::open_postgres(db.url(), key).unwrap();
    let a = uuid::Uuid::new_v4();
    let r = format!("account/{a}/oauth/1/access");
    one.put(&r, &Secret::new("glpat-roundtrip-123")).unwrap();
    assert_eq!(two.get(&r).unwrap(), Some(Secret::new("glpat-roundtrip-123")));
    let stored = raw(&one, &r).expect("a row");
    assert!(
        !stored.windows(7).any(|w| w == b"glpat-r"),
        "the database holds the clear text"
    );
    two.put_many(&[
        (&r, &Secret::new("rotated")),
        (&format!("account/{a}/oauth/1/refresh"), &Secret::new("r2")),
    ])
    .unwrap();
    assert_eq!(one.get(&r).unwrap(), Some(Secret::new("rotated")));
    one.delete(&r).unwrap();
    assert_eq!(two.get(&r).unwrap(), None);
}

#[test]
fn a_wrong_key_is_refused_at_open() {
    let Some(db) = test_database() else { return };
    Vault::open_postgres(db.url(), VaultKey::generate()).unwrap();
    let err = Vault::open_postgres(db.url(), VaultKey::generate()).unwrap_err();
    assert!(matches!(err, VaultError::KeyMismatch { .. }), "{err}");
    assert!(!err.to_string().contains("password"), "{err}");
}

#[test]
fn instances_making_an_accounts_key_at_once_share_the_one_that_was_stored() {
    let Some(db) = test_database() else { return };
    let key = VaultKey::generate();
    let vaults: Vec<Vault> = (0..4)
        .map(|_| Vault::open_postgres(db.url(), key.clone()).unwrap())
        .collect();
    let a = uuid::Uuid::new_v4();
    std::thread::scope(|s| {
        for (i, v) in vaults.iter().enumerate() {
            s.spawn(move || {
                v.put(
                    &format!("account/{a}/secret-{i}"),
                    &Secret::new(format!("value-{i}")),
                )
                .unwrap()
            });
        }
    });
    // Every instance opens what every other sealed: one data key for the account.
    for v in &vaults {
        for i in 0..vaults.len() {
            assert_eq!(
                v.get(&format!("account/{a}/secret-{i}")).unwrap(),
                Some(Secret::new(format!("value-{i}")))
            );
        }
    }
}

#[test]
fn unlinking_shreds_the_accounts_key_for_every_instance() {
    let Some(db) = test_database() else { return };
    let key = VaultKey::generate();
    let one = Vault::open_postgres(db.url(), key.clone()).unwrap();
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    let later = key.clone();
    let r = format!("account/{a}/oauth/1/access");
    one.put(&r, &Secret::new("glpat-a")).unwrap();
    one.put(&format!("account/{b}/x"), &Secret::new("glpat-b"))
        .unwrap();
    let left_behind = raw(&one, &r).unwrap();
    // Another instance, with the account's key in its cache already.
    let two = Vault::open_postgres(db.url(), key).unwrap();
    assert_eq!(two.get(&r).unwrap(), Some(Secret::new("glpat-a")));

    assert_eq!(two.delete_prefix(&format!("account/{a}/")).unwrap(), 1);
    assert_eq!(one.get(&r).unwrap(), None);
    // A copy kept elsewhere (a backup of the row) opens to nothing once the key is gone.
    if let Backend::Postgres(pg) = &one.backend {
        pg.put(vec![(r.clone(), left_behind)]).unwrap();
    }
    let three = Vault::open_postgres(db.url(), later.clone()).unwrap();
    assert_eq!(three.get(&r).unwrap(), None);
    assert_eq!(
        three.get(&format!("account/{b}/x")).unwrap(),
        Some(Secret::new("glpat-b"))
    );
    // The check value is never deleted by a prefix.
    assert_eq!(two.delete_prefix("").unwrap(), 2);
    assert!(Vault::open_postgres(db.url(), later).is_ok());
}

#[test]
fn a_folder_vault_moves_into_an_empty_database_once_still_sealed() {
    let Some(db) = test_database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("vault");
    let key = VaultKey::generate();
    let a = uuid::Uuid::new_v4();
    {
        let before = Vault::open(&folder, key.clone()).unwrap();
        before
            .put(
                &format!("account/{a}/oauth/1/access"),
                &Secret::new("glpat-moved"),
            )
            .unwrap();
        before.put("repo/pending/1", &Secret::new("shared-one")).unwrap();
        before
            .put_for_account(a, "state/abc", &Secret::new(a.to_string()))
            .unwrap();
    }
    let moved = Vault::open_postgres_carrying(db.url(), key.clone(), Some(&folder)).unwrap();
    assert_eq!(
        moved.get(&format!("account/{a}/oauth/1/access")).unwrap(),
        Some(Secret::new("glpat-moved"))
    );
    assert_eq!(
        moved.get("repo/pending/1").unwrap(),
        Some(Secret::new("shared-one"))
    );
    assert_eq!(moved.get("state/abc").unwrap(), Some(Secret::new(a.to_string())));
    // Unlinking on the database shreds the key that came from the folder.
    moved.delete_prefix(&format!("account/{a}/")).unwrap();
    // The folder changing afterwards changes nothing: the database is the vault now.
    Vault::open(&folder, key.clone())
        .unwrap()
        .put("repo/pending/2", &Secret::new("late"))
        .unwrap();
    let again = Vault::open_postgres_carrying(db.url(), key.clone(), Some(&folder)).unwrap();
    assert_eq!(again.get("repo/pending/2").unwrap(), None);
    assert_eq!(again.get("state/abc").unwrap(), None, "shredded with its account");
    // A folder vault under another key is refused, not copied.
    let Some(other_db) = test_database() else { return };
    let err = Vault::open_postgres_carrying(other_db.url(), VaultKey::generate(), Some(&folder)).unwrap_err();
    assert!(matches!(err, VaultError::KeyMismatch { .. }), "{err}");
}

#[test]
fn a_shared_lock_is_held_by_one_instance_at_a_time() {
    let Some(db) = test_database() else { return };
    let key = VaultKey::generate();
    let one = Vault::open_postgres(db.url(), key.clone()).unwrap();
    let two = Vault::open_postgres(db.url(), key).unwrap();
    assert_eq!(one.try_lock_shared("refresh a").unwrap(), Some(true));
    assert_eq!(two.try_lock_shared("refresh a").unwrap(), Some(false));
    assert_eq!(
        two.try_lock_shared("refresh b").unwrap(),
        Some(true),
        "another name is free"
    );
    one.unlock_shared("refresh a").unwrap();
    assert_eq!(two.try_lock_shared("refresh a").unwrap(), Some(true));
    // An instance that goes away releases what it held.
    drop(two);
    let mut taken = false;
    for _ in 0..250 {
        if one.try_lock_shared("refresh a").unwrap() == Some(true) {
            taken = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(taken, "the lock of an instance that went away was never released");
    // A folder vault has no other instance to exclude.
    let dir = tempfile::tempdir().unwrap();
    let folder = Vault::open(&dir.path().join("vault"), VaultKey::generate()).unwrap();
    assert_eq!(folder.try_lock_shared("refresh a").unwrap(), None);
}

#[test]
fn instances_starting_at_the_same_moment_all_open_the_vault() {
    let Some(db) = test_database() else { return };
    let key = VaultKey::generate();
    let opened: Vec<Result<Vault, VaultError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Vault::open_postgres(db.url(), key.clone())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for v in opened {
        let v = v.expect("every instance opens the fresh database's vault");
        assert_eq!(v.get("nothing").unwrap(), None);
    }
}
