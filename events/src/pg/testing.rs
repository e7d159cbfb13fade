//! For tests only: a fresh PostgreSQL database per test, dropped at the end. The one place that
//! decides what a test does when PostgreSQL cannot be reached: under CI (`CI` set) it FAILS,
//! elsewhere it prints a notice and the test returns early.

use tokio_postgres::NoTls;

/// The server tests create their databases on (`FORGELINK_TEST_POSTGRES` overrides it).
pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database made for one test, dropped (with any connection left to it) when this is dropped.
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// The address to open the store with.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = on_own_thread(async move {
            let (client, conn) = tokio_postgres::connect(&admin, NoTls).await?;
            tokio::spawn(conn);
            client.batch_execute(&sql).await
        });
    }
}

fn admin_url() -> String {
    std::env::var("FORGELINK_TEST_POSTGRES").unwrap_or_else(|_| ADMIN_URL.to_string())
}

/// Runs `fut` to completion on a new thread with its own runtime (callable from anywhere).
fn on_own_thread<T: Send + 'static>(fut: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test database")
            .block_on(fut)
    })
    .join()
    .expect("the test database thread panicked")
}

/// A new empty database `forgelink_t_<random>`, or None (with a notice) when PostgreSQL is
/// unreachable outside CI. Panics under CI when it is unreachable.
pub fn test_database() -> Option<TestDatabase> {
    let admin = admin_url();
    let name = format!("forgelink_t_{}", uuid::Uuid::new_v4().simple());
    let created = {
        let admin = admin.clone();
        let sql = format!("CREATE DATABASE {name}");
        on_own_thread(async move {
            let (client, conn) = tokio_postgres::connect(&admin, NoTls).await?;
            tokio::spawn(conn);
            client.batch_execute(&sql).await
        })
    };
    match created {
        Ok(()) => {
            let url = match admin.rfind('/') {
                Some(i) => format!("{}/{name}", &admin[..i]),
                None => format!("{admin}/{name}"),
            };
            Some(TestDatabase { admin, name, url })
        }
        Err(e) => {
            let what = format!("PostgreSQL at {} is unreachable: {e}", super::redact(&admin));
            if std::env::var_os("CI").is_some() {
                panic!("{what} (under CI every PostgreSQL test must run)");
            }
            eprintln!("notice: {what}; this PostgreSQL test did nothing");
            None
        }
    }
}
