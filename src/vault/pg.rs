//! The vault's storage on PostgreSQL, for several instances that share one database: the sealed
//! secrets (`forgelink_vault`: reference -> sealed bytes, sealed exactly as on sled; references
//! are stored as bytes, as sled keys them, since the vault's own check value holds a NUL) and the
//! wrapped data keys (`forgelink_vault_keys`: scope -> wrapped key, the bytes of a key file).
//! Nothing here sees a secret in clear: sealing stays in [`super::Vault`].
//!
//! The vault's callers are synchronous (as with sled), so one thread owns the connection and a
//! runtime of its own; a call sends its request there and waits for the answer. A data key is
//! made with `INSERT … ON CONFLICT DO NOTHING` and read back, so two instances that make an
//! account's key at the same moment both end up sealing with the one that was stored.
//!
//! Crypto-shredding on PostgreSQL is as strong as the database's own deletion: a deleted key row
//! stays in the table's dead tuples until VACUUM reclaims it, and in WAL archives and backups
//! taken before; the README says so.

use std::sync::mpsc;
use tokio_postgres::NoTls;

/// The tables, made under the advisory lock the event log's schema uses ("forgelnk"), in one
/// transaction: instances starting at the same moment would otherwise race in
/// `CREATE TABLE IF NOT EXISTS` (PostgreSQL refuses the loser with a duplicate type).
const SCHEMA: &str = "
BEGIN;
SELECT pg_advisory_xact_lock(7381244102692335211);
CREATE TABLE IF NOT EXISTS forgelink_vault (
    reference bytea PRIMARY KEY,
    sealed bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS forgelink_vault_keys (
    kind smallint NOT NULL,
    scope uuid NOT NULL,
    wrapped bytea NOT NULL,
    PRIMARY KEY (kind, scope)
);
COMMIT;";

/// What went wrong talking to the database (never holds a secret: only SQL errors).
pub type PgResult<T> = Result<T, String>;

enum Request {
    Get(String, mpsc::Sender<PgResult<Option<Vec<u8>>>>),
    Put(Vec<(String, Vec<u8>)>, mpsc::Sender<PgResult<()>>),
    Delete(String, mpsc::Sender<PgResult<()>>),
    /// Deletes every reference under the prefix except `keep`; how many went.
    DeletePrefix(String, String, mpsc::Sender<PgResult<u64>>),
    KeyGet(i16, uuid::Uuid, mpsc::Sender<PgResult<Option<Vec<u8>>>>),
    /// Stores the key unless the scope has one; the stored one either way.
    KeyInsert(i16, uuid::Uuid, Vec<u8>, mpsc::Sender<PgResult<Vec<u8>>>),
    KeyDelete(i16, uuid::Uuid, mpsc::Sender<PgResult<bool>>),
    /// `pg_try_advisory_lock` / `pg_advisory_unlock` on the vault's own session.
    TryLock(i64, mpsc::Sender<PgResult<bool>>),
    /// Every sealed secret and every wrapped key, as stored.
    Dump(mpsc::Sender<PgResult<Dump>>),
    Unlock(i64, mpsc::Sender<PgResult<bool>>),
}

/// Everything the tables hold: (reference bytes, sealed) and (kind, scope, wrapped key).
pub type Dump = (Vec<(Vec<u8>, Vec<u8>)>, Vec<(i16, uuid::Uuid, Vec<u8>)>);

/// A handle on the vault's tables; cheap to clone (all clones share the one connection thread).
#[derive(Clone)]
pub struct PgVaultStore {
    tx: tokio::sync::mpsc::UnboundedSender<Request>,
    location: String,
}

impl std::fmt::Debug for PgVaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgVaultStore")
            .field("location", &self.location)
            .finish()
    }
}

impl PgVaultStore {
    /// Connects to `url`, creates the tables when missing and starts the connection thread.
    pub fn open(url: &str) -> PgResult<PgVaultStore> {
        let location = forgelink_events::redact_store_address(url);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let url = url.to_string();
        let where_ = location.clone();
        std::thread::Builder::new()
            .name("vault-postgres".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("no runtime for the vault: {e}")));
                        return;
                    }
                };
                runtime.block_on(serve(url, where_, rx, ready_tx));
            })
            .map_err(|e| format!("cannot start the vault's database thread: {e}"))?;
        ready_rx
            .recv()
            .map_err(|_| "the vault's database thread ended at start".to_string())??;
        Ok(PgVaultStore { tx, location })
    }

    /// Where the tables are, without a password.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn ask<T>(&self, make: impl FnOnce(mpsc::Sender<PgResult<T>>) -> Request) -> PgResult<T> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(make(tx))
            .map_err(|_| "the vault's database thread is gone".to_string())?;
        rx.recv()
            .map_err(|_| "the vault's database thread is gone".to_string())?
    }

    pub fn get(&self, reference: &str) -> PgResult<Option<Vec<u8>>> {
        self.ask(|tx| Request::Get(reference.to_string(), tx))
    }

    /// Stores every entry in one transaction: all or none.
    pub fn put(&self, entries: Vec<(String, Vec<u8>)>) -> PgResult<()> {
        self.ask(|tx| Request::Put(entries, tx))
    }

    pub fn delete(&self, reference: &str) -> PgResult<()> {
        self.ask(|tx| Request::Delete(reference.to_string(), tx))
    }

    pub fn delete_prefix(&self, prefix: &str, keep: &str) -> PgResult<u64> {
        self.ask(|tx| Request::DeletePrefix(prefix.to_string(), keep.to_string(), tx))
    }

    pub fn key_get(&self, kind: u8, scope: uuid::Uuid) -> PgResult<Option<Vec<u8>>> {
        self.ask(|tx| Request::KeyGet(kind as i16, scope, tx))
    }

    pub fn key_insert(&self, kind: u8, scope: uuid::Uuid, wrapped: Vec<u8>) -> PgResult<Vec<u8>> {
        self.ask(|tx| Request::KeyInsert(kind as i16, scope, wrapped, tx))
    }

    pub fn key_delete(&self, kind: u8, scope: uuid::Uuid) -> PgResult<bool> {
        self.ask(|tx| Request::KeyDelete(kind as i16, scope, tx))
    }

    /// Takes the session-level advisory lock `key` if no other session holds it (never
    /// waits: the one connection serves every vault call of this instance). Released by
    /// [`Self::unlock`], or by the database when this instance's connection ends.
    pub fn try_lock(&self, key: i64) -> PgResult<bool> {
        self.ask(|tx| Request::TryLock(key, tx))
    }

    pub fn unlock(&self, key: i64) -> PgResult<bool> {
        self.ask(|tx| Request::Unlock(key, tx))
    }

    /// Every row of both tables, as stored (for copying the vault back to a folder).
    pub fn dump(&self) -> PgResult<Dump> {
        self.ask(Request::Dump)
    }
}

async fn connect(url: &str, location: &str) -> PgResult<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("cannot reach the vault's database {location}: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "the vault's database connection ended");
        }
    });
    Ok(client)
}

async fn serve(
    url: String,
    location: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Request>,
    ready: mpsc::Sender<PgResult<()>>,
) {
    let first = async {
        let client = connect(&url, &location).await?;
        client.batch_execute(SCHEMA).await.map_err(|e| {
            let why = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string());
            format!("cannot create the vault's tables in {location}: {why}")
        })?;
        Ok::<_, String>(client)
    }
    .await;
    let mut client = match first {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    while let Some(request) = rx.recv().await {
        // A connection the server closed is opened again once, for this request.
        if client.is_closed() {
            match connect(&url, &location).await {
                Ok(c) => client = c,
                Err(e) => {
                    fail(request, e);
                    continue;
                }
            }
        }
        run(&mut client, request, &location).await;
    }
}

fn fail(request: Request, e: String) {
    match request {
        Request::Get(_, tx) | Request::KeyGet(_, _, tx) => drop(tx.send(Err(e))),
        Request::Put(_, tx) | Request::Delete(_, tx) => drop(tx.send(Err(e))),
        Request::DeletePrefix(_, _, tx) => drop(tx.send(Err(e))),
        Request::KeyInsert(_, _, _, tx) => drop(tx.send(Err(e))),
        Request::KeyDelete(_, _, tx) | Request::TryLock(_, tx) | Request::Unlock(_, tx) => {
            drop(tx.send(Err(e)))
        }
        Request::Dump(tx) => drop(tx.send(Err(e))),
    }
}

async fn run(client: &mut tokio_postgres::Client, request: Request, location: &str) {
    let sql = |e: tokio_postgres::Error| {
        let why = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string());
        format!("the vault's database {location} refused: {why}")
    };
    match request {
        Request::Get(reference, tx) => {
            let r = client
                .query_opt(
                    "SELECT sealed FROM forgelink_vault WHERE reference = $1",
                    &[&reference.as_bytes()],
                )
                .await
                .map(|row| row.map(|r| r.get::<_, Vec<u8>>(0)))
                .map_err(sql);
            let _ = tx.send(r);
        }
        Request::Put(entries, tx) => {
            let r = async {
                let t = client.transaction().await?;
                for (reference, sealed) in &entries {
                    t.execute(
                        "INSERT INTO forgelink_vault (reference, sealed) VALUES ($1, $2)
                         ON CONFLICT (reference) DO UPDATE SET sealed = EXCLUDED.sealed",
                        &[&reference.as_bytes(), sealed],
                    )
                    .await?;
                }
                t.commit().await
            }
            .await
            .map_err(sql);
            let _ = tx.send(r);
        }
        Request::Delete(reference, tx) => {
            let r = client
                .execute(
                    "DELETE FROM forgelink_vault WHERE reference = $1",
                    &[&reference.as_bytes()],
                )
                .await
                .map(|_| ())
                .map_err(sql);
            let _ = tx.send(r);
        }
        Request::DeletePrefix(prefix, keep, tx) => {
            // The prefix compared as bytes: a reference may hold `%` or `_`.
            let len = prefix.len() as i32;
            let r = client
                .execute(
                    "DELETE FROM forgelink_vault
                     WHERE substring(reference FROM 1 FOR $3) = $1 AND reference <> $2",
                    &[&prefix.as_bytes(), &keep.as_bytes(), &len],
                )
                .await
                .map_err(sql);
            let _ = tx.send(r);
        }
        Request::KeyGet(kind, scope, tx) => {
            let r = client
                .query_opt(
                    "SELECT wrapped FROM forgelink_vault_keys WHERE kind = $1 AND scope = $2",
                    &[&kind, &scope],
                )
                .await
                .map(|row| row.map(|r| r.get::<_, Vec<u8>>(0)))
                .map_err(sql);
            let _ = tx.send(r);
        }
        Request::KeyInsert(kind, scope, wrapped, tx) => {
            let r = async {
                client
                    .execute(
                        "INSERT INTO forgelink_vault_keys (kind, scope, wrapped) VALUES ($1, $2, $3)
                         ON CONFLICT (kind, scope) DO NOTHING",
                        &[&kind, &scope, &wrapped],
                    )
                    .await?;
                let row = client
                    .query_one(
                        "SELECT wrapped FROM forgelink_vault_keys WHERE kind = $1 AND scope = $2",
                        &[&kind, &scope],
                    )
                    .await?;
                Ok(row.get::<_, Vec<u8>>(0))
            }
            .await
            .map_err(sql);
            let _ = tx.send(r);
        }
        Request::Dump(tx) => {
            let r = async {
                let secrets = client
                    .query("SELECT reference, sealed FROM forgelink_vault", &[])
                    .await?
                    .into_iter()
                    .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                    .collect();
                let keys = client
                    .query("SELECT kind, scope, wrapped FROM forgelink_vault_keys", &[])
                    .await?
                    .into_iter()
                    .map(|r| {
                        (
                            r.get::<_, i16>(0),
                            r.get::<_, uuid::Uuid>(1),
                            r.get::<_, Vec<u8>>(2),
                        )
                    })
                    .collect();
                Ok((secrets, keys))
            }
            .await
            .map_err(sql);
            let _ = tx.send(r);
        }
        Request::TryLock(key, tx) => {
            let r = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map(|row| row.get::<_, bool>(0))
                .map_err(sql);
            let _ = tx.send(r);
        }
        Request::Unlock(key, tx) => {
            let r = client
                .query_one("SELECT pg_advisory_unlock($1)", &[&key])
                .await
                .map(|row| row.get::<_, bool>(0))
                .map_err(sql);
            let _ = tx.send(r);
        }
        Request::KeyDelete(kind, scope, tx) => {
            let r = client
                .execute(
                    "DELETE FROM forgelink_vault_keys WHERE kind = $1 AND scope = $2",
                    &[&kind, &scope],
                )
                .await
                .map(|n| n > 0)
                .map_err(sql);
            let _ = tx.send(r);
        }
    }
}
