//! Durabletask sidecars for workflow tests: Errand's engine (`errand engine`) on SQLite
//! or PostgreSQL, and the durabletask-go sidecar that Dapr's runtime embeds. Each runs
//! as a real process on a free port and can be SIGKILLed and restarted on the same
//! port and database.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use errand_store::testing::{fresh_db, Backend, TestDb};

/// Which sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `errand engine` on a SQLite file.
    ErrandSqlite,
    /// `errand engine` on a fresh PostgreSQL database.
    ErrandPostgres,
    /// `errand engine --db sqlite::memory:` (state lives as long as the process).
    ErrandMemory,
    /// The durabletask-go sidecar (`DURABLETASK_GO_BIN`) on a SQLite file.
    DurabletaskGo,
}

/// The durabletask-go binary for tests (`DURABLETASK_GO_BIN`, set by `make test`).
/// Without it those tests are skipped, except under `CI=true`, where it is a failure.
pub fn durabletask_go_bin() -> Option<String> {
    match std::env::var("DURABLETASK_GO_BIN") {
        Ok(bin) if std::path::Path::new(&bin).exists() => Some(bin),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but DURABLETASK_GO_BIN does not name the durabletask-go binary (use `make test`)")
        }
        _ => None,
    }
}

/// A sidecar process, killed when dropped.
pub struct Sidecar {
    pub kind: Kind,
    pub port: u16,
    db: TestDb,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Sidecar {
    /// Starts a sidecar of `kind` on fresh state; `None` when that kind is unavailable here.
    pub async fn start(kind: Kind) -> Option<Sidecar> {
        Sidecar::start_with(kind, &[]).await
    }

    /// Like [`Sidecar::start`], with extra flags for `errand engine`.
    pub async fn start_with(kind: Kind, extra: &[&str]) -> Option<Sidecar> {
        let db = match kind {
            Kind::ErrandPostgres => fresh_db(Backend::Postgres).await?,
            Kind::ErrandSqlite | Kind::ErrandMemory => fresh_db(Backend::Sqlite).await?,
            Kind::DurabletaskGo => {
                durabletask_go_bin()?;
                fresh_db(Backend::Sqlite).await?
            }
        };
        let mut sidecar =
            Sidecar { kind, port: 0, db, child: None, extra: extra.iter().map(|s| s.to_string()).collect() };
        sidecar.spawn();
        Some(sidecar)
    }

    /// A second engine process on the same database (PostgreSQL only).
    pub fn sibling(&self) -> Sidecar {
        assert_eq!(self.kind, Kind::ErrandPostgres, "only engines on PostgreSQL share a database");
        let db = TestDb { url: self.db.url.clone(), dir: tempfile::tempdir().expect("tempdir") };
        let mut sibling = Sidecar { kind: self.kind, port: 0, db, child: None, extra: self.extra.clone() };
        sibling.spawn();
        sibling
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> Command {
        let port = self.port.to_string();
        match self.kind {
            Kind::DurabletaskGo => {
                let mut command = Command::new(durabletask_go_bin().expect("durabletask-go"));
                let file = self.db.dir.path().join("durabletask-go.db");
                command.args(["--host", "127.0.0.1", "--port", &port, "--db", &file.display().to_string()]);
                command
            }
            Kind::ErrandSqlite | Kind::ErrandPostgres | Kind::ErrandMemory => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_errand"));
                let url = match self.kind {
                    Kind::ErrandSqlite => format!("sqlite://{}/engine.db", self.db.dir.path().display()),
                    Kind::ErrandMemory => "sqlite::memory:".to_string(),
                    _ => self.db.url.clone(),
                };
                command.args(["engine", "--port", &port, "--db", &url, "--lease-secs", "3"]).args(&self.extra);
                command.env("ERRAND_LOG_FORMAT", "json").env("RUST_LOG", "warn");
                command
            }
        }
    }

    /// Starts the process (on the same port after the first time) and waits until it accepts connections.
    fn spawn(&mut self) {
        for _ in 0..3 {
            if self.port == 0 {
                self.port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
            }
            // Errand's engine logs only warnings here, which help explain a failure;
            // durabletask-go logs every step.
            let stderr = if self.kind == Kind::DurabletaskGo { Stdio::null() } else { Stdio::inherit() };
            let mut child = self.command().stdout(Stdio::null()).stderr(stderr).spawn().expect("spawn sidecar");
            for _ in 0..200 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    self.child = Some(child);
                    return;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{:?} sidecar did not start on port {}", self.kind, self.port);
    }

    /// Ends the process at once (SIGKILL): nothing gets to finish or flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL, then start again on the same port and database.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the process.
    pub fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal}");
    }

    /// Starts a killed sidecar again on the same port and database.
    pub fn spawn_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Expands each named behaviour `async fn name(kind: Kind)` into one test per sidecar,
/// in modules `errand_sqlite`, `errand_postgres` and `durabletask_go`.
#[macro_export]
macro_rules! on_every_sidecar {
    ($($name:ident),* $(,)?) => {
        mod errand_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::sidecars::Kind::ErrandSqlite).await }
            )*
        }
        mod errand_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::sidecars::Kind::ErrandPostgres).await }
            )*
        }
        mod durabletask_go {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::sidecars::Kind::DurabletaskGo).await }
            )*
        }
    };
}
