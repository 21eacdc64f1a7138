//! Test support for this and other crates (feature `testing`): fresh databases on
//! each backend, and a macro that runs one behaviour against every backend.

use crate::{OutboxPosition, OutboxRecord, Store};

/// A store backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `ERRAND_TEST_POSTGRES_URL`.
    Postgres,
}

/// The PostgreSQL server for tests (`ERRAND_TEST_POSTGRES_URL`, set by `make test`).
/// Without it PostgreSQL tests are skipped — except under `CI=true`, where a missing
/// PostgreSQL is a failure.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("ERRAND_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but ERRAND_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI (use `make test`)")
        }
        _ => None,
    }
}

/// A database nobody else uses, and a temporary directory beside it (which holds
/// the SQLite file, and can serve as a data dir).
pub struct TestDb {
    /// Connection URL.
    pub url: String,
    /// Removed on drop.
    pub dir: tempfile::TempDir,
}

/// A fresh, empty database on `backend`; `None` when that backend is unavailable here.
pub async fn fresh_db(backend: Backend) -> Option<TestDb> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}/errand.db", dir.path().display()),
        Backend::Postgres => {
            let admin = postgres_admin_url()?;
            let name = format!("errand_test_{:016x}", rand::random::<u64>());
            let pool = sqlx::PgPool::connect(&admin).await.expect("connect to test postgres");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create test database");
            pool.close().await;
            with_database(&admin, &name)
        }
    };
    Some(TestDb { url, dir })
}

/// `admin_url` with its database name replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// A migrated store on a fresh database; `None` when the backend is unavailable.
pub async fn fresh_store(backend: Backend) -> Option<(Store, TestDb)> {
    let db = fresh_db(backend).await?;
    let store = Store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((store, db))
}

/// Creates an account with `email` (timezone UTC) and returns its id.
pub async fn create_user(store: &Store, email: &str) -> String {
    let id = errand_domain::new_id();
    let user = crate::NewUser {
        id: id.clone(),
        email: email.into(),
        name: None,
        password_hash: "not a real hash".into(),
        timezone: "UTC".into(),
        created_at: chrono::Utc::now(),
    };
    store.create_user(&user).await.expect("create user").expect("email is free");
    id
}

/// The outbox after `after`, once at least `expected` records are visible. On
/// PostgreSQL records wait for every older transaction in the cluster to finish
/// (other tests' included), so they can show up a moment after their commit.
pub async fn outbox_settled(store: &Store, after: OutboxPosition, expected: usize) -> Vec<OutboxRecord> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let records = store.outbox_after(after, 1000).await.expect("read outbox");
        if records.len() >= expected || std::time::Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Expands each named behaviour `async fn name(backend: Backend)` into one test per
/// backend, in modules `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::testing::postgres_admin_url().is_none() {
                        eprintln!("skipped: ERRAND_TEST_POSTGRES_URL is not set");
                        return;
                    }
                    super::$name($crate::testing::Backend::Postgres).await
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_replaced() {
        assert_eq!(super::with_database("postgres://u@h:1/postgres", "x"), "postgres://u@h:1/x");
        assert_eq!(
            super::with_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    }
}
