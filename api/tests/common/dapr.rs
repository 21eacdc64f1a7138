//! The Dapr runtime on the real thing, for tests and benchmarks: an [`Environment`]
//! (Kafka, Redis, placement and scheduler from `scripts/dapr-env.sh`, in a temporary
//! directory of its own) and a [`Stack`] on it: `errand serve --runtime dapr` and the
//! three consumers, each its own app beside its own daprd 1.16, with the components of
//! `dapr/` as they are. Available when `make test` has provided the parts (`DAPR_DAPRD`,
//! from `scripts/dapr-tools.sh`).

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::{eventually, fresh_db, spawn_listening_in, Backend, KillOnDrop, Session, TestDb};

pub const SECRET: &str = "a-secret-shared-by-every-errand-process-0123456789";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(name)
}

/// Kafka, Redis, placement and scheduler from `scripts/dapr-env.sh`, in a directory of their own.
pub struct Environment {
    pub dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Environment {
    pub fn up() -> Option<Environment> {
        if std::env::var_os("DAPR_DAPRD").is_none() {
            eprintln!("skipped: the Dapr parts are not provided (make test runs scripts/dapr-tools.sh)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new(script("dapr-env.sh"))
            .arg("up")
            .env("DAPR_ENV_DIR", dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("dapr-env.sh");
        assert!(status.success(), "dapr-env.sh up failed");
        let text = std::fs::read_to_string(dir.path().join("env")).expect("the environment file");
        let vars = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('\'').to_string()))
            .collect();
        Some(Environment { dir, vars })
    }

    pub fn var(&self, name: &str) -> &str {
        self.vars.get(name).unwrap_or_else(|| panic!("{name} in the environment file"))
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        let _ = Command::new(script("dapr-env.sh"))
            .arg("down")
            .env("DAPR_ENV_DIR", self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A port free now, below the kernel's ephemeral range (32768 up): a port the kernel
/// picked could be taken by an outgoing connection before the daprd or app it is for
/// binds it, and that daprd would exit. Never the same one twice in a process.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seed = std::process::id() as usize * 7919 + handed_out.len() * 104_729;
    for attempt in 0..12_000 {
        let port = (12_000 + (seed + attempt * 7_741) % 8_000) as u16;
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no free port between 12000 and 20000");
}

/// The ports of one daprd: its HTTP and gRPC APIs and its internal gRPC port.
#[derive(Debug, Clone, Copy)]
pub struct DaprdPorts {
    pub http: u16,
    pub grpc: u16,
    pub internal: u16,
}

impl DaprdPorts {
    pub fn free() -> DaprdPorts {
        DaprdPorts { http: free_port(), grpc: free_port(), internal: free_port() }
    }
}

impl Environment {
    /// Starts a daprd with app id `id` in this environment (its app on `app_port`, if
    /// it has one), on `ports`; its output goes to `log`.
    pub fn daprd(&self, id: &str, app_port: Option<u16>, ports: &DaprdPorts, log: &Path) -> KillOnDrop {
        let log = std::fs::File::options().create(true).append(true).open(log).expect("log");
        let mut command = Command::new(self.var("DAPR_DAPRD"));
        command.args(["--app-id", id]);
        if let Some(port) = app_port {
            command.args(["--app-port", &port.to_string()]);
        }
        let child = command
            .args(["--dapr-http-port", &ports.http.to_string(), "--dapr-grpc-port", &ports.grpc.to_string()])
            .args(["--dapr-internal-grpc-port", &ports.internal.to_string()])
            .args(self.var("DAPRD_ARGS").split_whitespace())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn daprd");
        KillOnDrop(child)
    }
}

/// The two processes of an app.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    Errand,
    Daprd,
}

/// One of Errand's apps beside its daprd, each restartable on the same ports.
struct App {
    /// Unique in the stack: names its logs and data directory.
    name: String,
    /// Its Dapr app id (replicas of one app share it).
    id: String,
    /// The `errand` arguments (`serve ...` or `consumer ...`) without `--listen`.
    role: Vec<String>,
    env: Vec<(String, String)>,
    port: u16,
    dapr_http: u16,
    dapr_grpc: u16,
    dapr_internal: u16,
    // The app before its daprd: daprd waits for a connected workflow worker.
    errand: Option<KillOnDrop>,
    daprd: Option<KillOnDrop>,
}

/// Errand's apps, each beside its daprd.
pub struct Stack {
    // Dropped in order: the apps and their sidecars before the environment they use.
    apps: Vec<App>,
    /// The first API replica's base URL.
    pub api: String,
    pub db: TestDb,
    pub env: Environment,
    logs: PathBuf,
}

impl Stack {
    /// The API (app id `errand`) and the audit, notification and workflow-trigger
    /// consumers, on PostgreSQL when it is available here, else SQLite.
    pub async fn start() -> Option<Stack> {
        Stack::start_with(&[], &[]).await
    }

    /// Like [`Stack::start`], with extra environment variables for the API and extra
    /// keys in the secret every app reads its secrets from.
    pub async fn start_with(api_env: &[(&str, &str)], secrets: &[(&str, &str)]) -> Option<Stack> {
        Stack::start_full(api_env, secrets, &[]).await
    }

    /// Like [`Stack::start`], with `env` (the trace export, say) for every app.
    pub async fn start_with_every(env: &[(&str, &str)]) -> Option<Stack> {
        Stack::start_full(&[], &[], env).await
    }

    async fn start_full(api_env: &[(&str, &str)], secrets: &[(&str, &str)], every: &[(&str, &str)]) -> Option<Stack> {
        let env = Environment::up()?;
        let db = match fresh_db(Backend::Postgres).await {
            Some(db) => db,
            None => fresh_db(Backend::Sqlite).await?,
        };
        // The token secret and the database URL reach the apps only through the Dapr
        // secret store (the local file store reads this file when its daprd starts).
        let mut secret = json!({ "jwt-secret": SECRET, "database-url": db.url });
        for (key, value) in secrets {
            secret[*key] = json!(value);
        }
        std::fs::write(env.var("DAPR_SECRETS_FILE"), json!({ "errand": secret }).to_string()).expect("secrets file");
        let logs = env.dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        let mut stack = Stack { apps: Vec::new(), api: String::new(), db, env, logs };
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let api: Vec<(String, String)> = owned(every).into_iter().chain(owned(api_env)).collect();
        stack.add("errand", "errand", &["serve", "--runtime", "dapr"], api);
        stack.api = format!("http://127.0.0.1:{}", stack.apps[0].port);
        for consumer in ["audit", "notification", "workflow-trigger"] {
            let id = format!("errand-{consumer}");
            stack.add(&id, &id, &["consumer", consumer], owned(every));
        }
        stack.ready().await;
        Some(stack)
    }

    fn add(&mut self, name: &str, id: &str, role: &[&str], env: Vec<(String, String)>) {
        let mut app = App {
            name: name.to_string(),
            id: id.to_string(),
            role: role.iter().map(|s| s.to_string()).collect(),
            env,
            port: free_port(),
            dapr_http: free_port(),
            dapr_grpc: free_port(),
            dapr_internal: free_port(),
            errand: None,
            daprd: None,
        };
        self.spawn_daprd(&mut app);
        self.spawn_errand(&mut app);
        self.apps.push(app);
    }

    async fn ready(&self) {
        let http = reqwest::Client::new();
        eventually("the API to be ready on daprd", 60, || async {
            http.get(format!("{}/readyz", self.api)).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    /// A second replica of the API (app id `errand`, its own daprd and data directory,
    /// the same database); its base URL.
    pub async fn add_api_replica(&mut self) -> String {
        let env = self.apps[0].env.clone();
        self.add("errand-replica", "errand", &["serve", "--runtime", "dapr"], env);
        let base = format!("http://127.0.0.1:{}", self.apps.last().expect("the replica").port);
        let http = reqwest::Client::new();
        eventually("the replica to be ready on daprd", 60, || async {
            http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        base
    }

    fn app(&mut self, name: &str) -> App {
        let at = self.apps.iter().position(|a| a.name == name).unwrap_or_else(|| panic!("no app {name}"));
        self.apps.remove(at)
    }

    /// SIGKILLs app `name` (and its daprd too, when `with_daprd`), then starts what it
    /// killed again on the same ports.
    pub async fn crash_and_restart(&mut self, name: &str, with_daprd: bool) {
        let mut app = self.app(name);
        app.errand.take();
        if with_daprd {
            app.daprd.take();
            self.spawn_daprd(&mut app);
        }
        self.spawn_errand(&mut app);
        self.apps.push(app);
        self.ready().await;
    }

    fn spawn_daprd(&self, app: &mut App) {
        let ports = DaprdPorts { http: app.dapr_http, grpc: app.dapr_grpc, internal: app.dapr_internal };
        let log = self.logs.join(format!("daprd-{}.log", app.name));
        app.daprd = Some(self.env.daprd(&app.id, Some(app.port), &ports, &log));
    }

    /// A daprd for an app that is not one of Errand's (a benchmark's probe, say) with
    /// app id `id`, listening on `app_port`; it lives as long as the stack.
    pub fn sidecar_for(&mut self, id: &str, app_port: u16) -> DaprdPorts {
        let ports = DaprdPorts::free();
        let log = self.logs.join(format!("daprd-{id}.log"));
        let daprd = self.env.daprd(id, Some(app_port), &ports, &log);
        let (http, grpc, internal) = (ports.http, ports.grpc, ports.internal);
        self.apps.push(App {
            name: id.to_string(),
            id: id.to_string(),
            role: Vec::new(),
            env: Vec::new(),
            port: app_port,
            dapr_http: http,
            dapr_grpc: grpc,
            dapr_internal: internal,
            errand: None,
            daprd: Some(daprd),
        });
        ports
    }

    /// Waits until the app's daprd listens (it loads its components first); fails
    /// with the end of its log if it exits or takes over a minute.
    fn wait_for_daprd(&self, app: &mut App) {
        let started = std::time::Instant::now();
        let log = self.logs.join(format!("daprd-{}.log", app.name));
        let tail = || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        };
        while std::net::TcpStream::connect(("127.0.0.1", app.dapr_http)).is_err() {
            let daprd = app.daprd.as_mut().expect("a daprd");
            if let Ok(Some(status)) = daprd.0.try_wait() {
                panic!("the daprd of {} exited ({status}):\n{}", app.name, tail());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the daprd of {} did not listen in 60 s:\n{}",
                app.name,
                tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the app's `errand` process (once its daprd listens: Errand reads its
    /// secrets through it first) and waits for its listening line.
    fn spawn_errand(&self, app: &mut App) {
        self.wait_for_daprd(app);
        let mut command = Command::new(env!("CARGO_BIN_EXE_errand"));
        command.args(&app.role).args(["--listen", &format!("127.0.0.1:{}", app.port)]);
        let (http, grpc) = (app.dapr_http.to_string(), app.dapr_grpc.to_string());
        let mut envs = vec![("DAPR_HTTP_PORT", http.as_str()), ("DAPR_GRPC_PORT", grpc.as_str())];
        envs.push(("ERRAND_DAPR_SECRET_STORE", "secretstore"));
        envs.extend(app.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let prefix = match app.role[0].as_str() {
            "serve" => "errand listening on ".to_string(),
            _ => format!("errand consumer {} listening on ", app.role[1]),
        };
        // A data directory each: no app finds another's generated token secret there.
        let data_dir = self.db.dir.path().join(&app.name);
        let (child, _) = spawn_listening_in(command, &data_dir, &envs, &prefix);
        app.errand = Some(KillOnDrop(child));
    }

    /// Sends SIGTERM to one part of app `name` and waits up to `limit` for it to exit;
    /// how long it waited.
    pub fn stop_gracefully(&mut self, name: &str, part: Part, limit: Duration) -> Duration {
        let pid = self.process(name, part).0.id();
        let signalled = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        assert!(signalled.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        self.wait_for_exit(name, part, limit)
    }

    /// Waits up to `limit` for one part of app `name` to exit; how long it waited.
    pub fn wait_for_exit(&mut self, name: &str, part: Part, limit: Duration) -> Duration {
        let started = std::time::Instant::now();
        while started.elapsed() < limit && self.running(name, part) {
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }

    /// Whether that part of app `name` is still running.
    pub fn running(&mut self, name: &str, part: Part) -> bool {
        self.process(name, part).0.try_wait().expect("wait").is_none()
    }

    fn process(&mut self, name: &str, part: Part) -> &mut KillOnDrop {
        let app = self.apps.iter_mut().find(|a| a.name == name).unwrap_or_else(|| panic!("no app {name}"));
        let process = match part {
            Part::Errand => &mut app.errand,
            Part::Daprd => &mut app.daprd,
        };
        process.as_mut().unwrap_or_else(|| panic!("{name}: no {part:?} process"))
    }

    /// The HTTP port of app `name`'s daprd.
    pub fn dapr_http_port(&self, name: &str) -> u16 {
        self.apps.iter().find(|a| a.name == name).unwrap_or_else(|| panic!("no app {name}")).dapr_http
    }

    /// The gRPC port of app `name`'s daprd.
    pub fn dapr_grpc_port(&self, name: &str) -> u16 {
        self.apps.iter().find(|a| a.name == name).unwrap_or_else(|| panic!("no app {name}")).dapr_grpc
    }

    /// Stops (`down`) or starts (`up`) one of the environment's services.
    pub fn service(&self, action: &str, service: &str) {
        let status = Command::new(script("dapr-env.sh"))
            .args([action, service])
            .env("DAPR_ENV_DIR", self.env.dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("dapr-env.sh");
        assert!(status.success(), "dapr-env.sh {action} {service}");
    }

    pub async fn signup(&self, email: &str) -> Session {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let r = client
            .post(format!("{}/api/v1/auth/signup", self.api))
            .json(&json!({ "email": email, "password": "correct horse battery", "timezone": "Europe/Berlin" }))
            .send()
            .await
            .expect("signup");
        assert_eq!(r.status(), 201, "signup");
        let body: Value = r.json().await.expect("json");
        Session {
            client,
            base: self.api.clone(),
            token: body["token"].as_str().expect("token").to_string(),
            user: body["user"].clone(),
        }
    }
}
