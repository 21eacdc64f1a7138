//! Test support: fresh databases on each backend and the real `errand` binary on a
//! free port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub mod dapr;
pub mod jaeger;
pub mod model;

pub use errand_store::testing::{fresh_db, Backend, TestDb};

/// The real `errand serve`, on a free port, stopped (SIGTERM) when dropped.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    child: Child,
    pub data_dir: PathBuf,
    pub database_url: String,
}

impl Server {
    /// Starts the binary against `database_url`, keeping state in `data_dir`.
    pub fn start(database_url: &str, data_dir: &Path) -> Server {
        Server::start_with(database_url, data_dir, &[], &[])
    }

    /// Starts `errand serve` with extra flags and environment variables.
    pub fn start_with(database_url: &str, data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        Server::spawn(database_url, data_dir, args, envs, Stdio::inherit())
    }

    /// Starts `errand serve` with its logs (stderr) going to `stderr`.
    pub fn start_logging(database_url: &str, data_dir: &Path, envs: &[(&str, &str)], stderr: Stdio) -> Server {
        Server::spawn(database_url, data_dir, &[], envs, stderr)
    }

    fn spawn(database_url: &str, data_dir: &Path, args: &[&str], envs: &[(&str, &str)], stderr: Stdio) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_errand"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url]).args(args);
        let (child, base) = spawn_listening_with(command, data_dir, envs, "errand listening on ", stderr);
        Server {
            base,
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
            child,
            data_dir: data_dir.to_path_buf(),
            database_url: database_url.to_string(),
        }
    }

    /// Ends the process at once (SIGKILL): nothing gets to finish or flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a server on a fresh database of `backend`; `None` when unavailable.
    pub async fn fresh(backend: Backend) -> Option<(Server, TestDb)> {
        let db = fresh_db(backend).await?;
        let server = Server::start(&db.url, db.dir.path());
        Some((server, db))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate(Duration::from_secs(5))
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub fn stop_within(mut self, grace: Duration) -> std::process::ExitStatus {
        self.terminate(grace)
    }

    fn terminate(&mut self, grace: Duration) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..grace.as_millis() / 25 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }

    /// Signs up a user and returns a client session.
    pub async fn signup(&self, email: &str) -> Session {
        self.signup_with(serde_json::json!({ "email": email, "password": "correct horse battery" })).await
    }

    pub async fn signup_with(&self, body: Value) -> Session {
        let res = self.client.post(self.url("/api/v1/auth/signup")).json(&body).send().await.expect("signup");
        assert_eq!(res.status(), 201, "signup {body}");
        let json: Value = res.json().await.expect("json");
        Session {
            client: self.client.clone(),
            base: self.base.clone(),
            token: json["token"].as_str().expect("token").to_string(),
            user: json["user"].clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate(Duration::from_secs(5));
        }
    }
}

/// A child process that is killed when the test ends, however it ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns an `errand` command on `database_url`/`data_dir` and waits for its
/// "<prefix>http://addr" line. Returns the child and the base URL.
pub fn spawn_listening(
    mut command: Command,
    database_url: &str,
    data_dir: &Path,
    envs: &[(&str, &str)],
    prefix: &str,
) -> (Child, String) {
    command.args(["--database-url", database_url]);
    spawn_listening_in(command, data_dir, envs, prefix)
}

/// Like [`spawn_listening`], with the database URL left to the process's other settings.
pub fn spawn_listening_in(command: Command, data_dir: &Path, envs: &[(&str, &str)], prefix: &str) -> (Child, String) {
    spawn_listening_with(command, data_dir, envs, prefix, Stdio::inherit())
}

/// Like [`spawn_listening_in`], with the process's logs (stderr) going to `stderr`.
pub fn spawn_listening_with(
    mut command: Command,
    data_dir: &Path,
    envs: &[(&str, &str)],
    prefix: &str,
    stderr: Stdio,
) -> (Child, String) {
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env("ERRAND_LOG_FORMAT", "json")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (name, value) in envs {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn errand");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
    let base = line
        .trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected first line from errand: {line:?}"))
        .to_string();
    (child, base)
}

/// Runs an `errand` command (`args`) on `db` and its directory, and waits for it.
pub fn run_errand(args: &[&str], db: &TestDb) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_errand"))
        .args(args)
        .args(["--database-url", &db.url, "--data-dir"])
        .arg(db.dir.path())
        .env("ERRAND_LOG_FORMAT", "json")
        .output()
        .expect("run errand")
}

/// Polls `check` every 20 ms until it is true; fails the test after `seconds`.
pub async fn eventually<F, Fut>(what: &str, seconds: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An authenticated client.
#[derive(Clone)]
pub struct Session {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
    pub user: Value,
}

/// A response: status, headers and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Session {
    /// How many tasks a search for `word` finds (through this session's server).
    pub async fn found(&self, word: &str) -> usize {
        let r = self.get(&format!("/tasks?q={word}&limit=100")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["items"].as_array().expect("items").len()
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}/api/v1{}", self.base, path)).bearer_auth(&self.token)
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Reply {
        reply(builder.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(reqwest::Method::PATCH, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// Creates a task and returns its JSON.
    pub async fn create(&self, body: Value) -> Value {
        let r = self.post("/tasks", body.clone()).await;
        assert_eq!(r.status, 201, "create {body}: {:?}", r.body);
        r.body
    }
}

pub async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.expect("body");
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    Reply { status, headers, body }
}
