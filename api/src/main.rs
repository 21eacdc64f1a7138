//! The `errand` binary: one executable, several roles.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use errand_api::app::{bind, App};
use errand_api::config::{Config, Settings, Surroundings};
use errand_store::Store;

/// Errand: a self-hostable task platform with durable reminders, recurrence and an
/// AI assistant.
///
/// Settings come from defaults, then errand.toml (or --config), then ERRAND_*
/// environment variables, then these flags.
#[derive(Parser)]
#[command(name = "errand", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: GlobalFlags,
}

#[derive(Args)]
struct GlobalFlags {
    /// Config file [default: ./errand.toml when present] [env: ERRAND_CONFIG]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory for the SQLite database and secrets [default: ./data] [env: ERRAND_DATA_DIR]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://... [default: sqlite://<data dir>/errand.db] [env: ERRAND_DATABASE_URL]
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API and everything the runtime needs.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080, 0.0.0.0:8080 in containers] [env: ERRAND_LISTEN]
        #[arg(long)]
        listen: Option<String>,
        /// embedded (one process) or dapr (Kubernetes) [default: embedded] [env: ERRAND_RUNTIME]
        #[arg(long)]
        runtime: Option<String>,
    },
    /// Run one event consumer as its own process, subscribed through Dapr pub/sub
    /// (the Dapr runtime); it serves daprd's subscriber API on --listen.
    Consumer {
        /// audit, notification or workflow-trigger
        name: String,
        /// Address daprd reaches this app on [default: 127.0.0.1:8080] [env: ERRAND_LISTEN]
        #[arg(long)]
        listen: Option<String>,
    },
    /// Run the embedded workflow engine alone, as a durabletask sidecar serving the
    /// TaskHubSidecarService gRPC API (what Dapr's sidecar serves for workflows).
    Engine {
        /// Port to serve gRPC on.
        #[arg(long, default_value_t = 4001)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Engine database: sqlite://PATH, sqlite::memory: or postgres://... [default: sqlite://<data dir>/engine.db]
        #[arg(long)]
        db: Option<String>,
        /// App id reported to workflows as their parent app.
        #[arg(long, default_value = "errand")]
        app_id: String,
        /// Seconds a work item stays leased without renewal (how soon another engine
        /// on the same database takes over from a crashed one).
        #[arg(long, default_value_t = 30)]
        lease_secs: u64,
        /// How long finished instances are kept before they are purged: a number with
        /// s, m, h or d (such as 30d or 12h), or "forever".
        #[arg(long, default_value = "30d", value_parser = parse_retention)]
        retention: Retention,
    },
    /// Inspect and replay events that consumers gave up on.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Rebuild the search index from the database (with the server stopped; serve
    /// also rebuilds a missing, damaged or outdated index at start).
    Reindex,
    /// Apply database migrations and exit (serve also applies them at start).
    Migrate,
    /// Account administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Inspect and act on workflow instances through a running server (admin).
    Workflows {
        #[command(flatten)]
        connection: errand_api::ops_cli::Connection,
        #[command(subcommand)]
        command: errand_api::ops_cli::WorkflowsCommand,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// List dead letters, newest first.
    DeadLetters {
        /// Include those already replayed.
        #[arg(long)]
        all: bool,
    },
    /// Deliver a dead letter to its consumer again.
    Replay {
        /// Dead-letter id.
        id: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Give an existing account the admin role.
    Grant {
        /// Email of the account.
        email: String,
    },
    /// Disable an account: it can no longer log in and its sessions end (running
    /// servers stop accepting its tokens within seconds).
    Disable {
        /// Email of the account.
        email: String,
    },
    /// Enable a disabled account again.
    Enable {
        /// Email of the account.
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A client of a running server: no configuration, no database.
    if let Command::Workflows { connection, command } = cli.command {
        return match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(errand_api::ops_cli::run(connection, command)),
            Err(e) => {
                eprintln!("errand: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let layers = match Layers::load(&cli, &env) {
        Ok(layers) => layers,
        Err(message) => {
            eprintln!("errand: {message}");
            return ExitCode::from(2);
        }
    };
    let config = match layers.resolve(Settings::default()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("errand: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("errand: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Inside the runtime: the trace exporter's channel runs on it.
    let telemetry = {
        let _inside = runtime.enter();
        let filter = env.get("RUST_LOG").map(String::as_str);
        errand_telemetry::init(config.log_format, filter, &env, &service_name(&cli.command))
    };
    let code = match runtime.block_on(with_dapr_secrets(&cli.command, &layers, config)) {
        Ok(config) => match runtime.block_on(run(cli.command, config)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                tracing::error!(error = %message, "exiting");
                eprintln!("errand: {message}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            tracing::error!(error = %message, "exiting");
            eprintln!("errand: {message}");
            ExitCode::from(2)
        }
    };
    let _inside = runtime.enter();
    telemetry.shutdown();
    code
}

/// The service a process's spans belong to unless `OTEL_SERVICE_NAME` names one: each
/// role of the binary is its own service, as each is its own Dapr app.
fn service_name(command: &Command) -> String {
    match command {
        Command::Consumer { name, .. } => format!("errand-{name}"),
        Command::Engine { .. } => "errand-engine".into(),
        _ => "errand".into(),
    }
}

/// The layers of settings: the file, the environment, the flags.
struct Layers {
    file: Settings,
    env: Settings,
    flags: Settings,
    around: Surroundings,
}

impl Layers {
    fn load(cli: &Cli, env: &HashMap<String, String>) -> Result<Layers, String> {
        let explicit = cli.global.config.clone().or_else(|| env.get("ERRAND_CONFIG").map(PathBuf::from));
        let file = match explicit {
            Some(path) => Settings::from_file(&path).map_err(|e| e.to_string())?,
            None if PathBuf::from("errand.toml").exists() => {
                Settings::from_file(&PathBuf::from("errand.toml")).map_err(|e| e.to_string())?
            }
            None => Settings::default(),
        };
        let env_settings = Settings::from_env(env).map_err(|e| e.to_string())?;
        let mut flags = Settings {
            data_dir: cli.global.data_dir.clone(),
            database_url: cli.global.database_url.clone(),
            ..Default::default()
        };
        match &cli.command {
            Command::Serve { listen, runtime } => {
                flags.listen = listen.clone();
                flags.runtime = runtime.clone();
            }
            Command::Consumer { listen, .. } => flags.listen = listen.clone(),
            _ => {}
        }
        let around = Surroundings {
            in_container: PathBuf::from("/.dockerenv").exists() || env.contains_key("KUBERNETES_SERVICE_HOST"),
            terminal: std::io::stderr().is_terminal(),
        };
        Ok(Layers { file, env: env_settings, flags, around })
    }

    /// The configuration, with `secrets` (from a secret store) over the file's settings.
    fn resolve(&self, secrets: Settings) -> Result<Config, String> {
        let file = secrets.or(self.file.clone());
        Config::resolve(file, self.env.clone(), self.flags.clone(), self.around).map_err(|e| e.to_string())
    }
}

/// In the Dapr runtime (every command but `engine` with `--runtime dapr` or
/// `ERRAND_RUNTIME=dapr`, and the consumers) with a secret store configured, the
/// configuration again with the secrets read through daprd.
async fn with_dapr_secrets(command: &Command, layers: &Layers, config: Config) -> Result<Config, String> {
    let dapr_role = match command {
        Command::Consumer { .. } => true,
        Command::Engine { .. } => false,
        _ => config.runtime == errand_api::config::Runtime::Dapr,
    };
    let Some(secret) = config.dapr_secrets.clone().filter(|_| dapr_role) else { return Ok(config) };
    let secrets = errand_api::secrets::read(&config.dapr_http_endpoint, &secret).await?;
    tracing::info!(store = %secret.store, secret = %secret.name, "settings read from the Dapr secret store");
    layers.resolve(secrets)
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Serve { .. } => serve(config).await,
        Command::Consumer { name, .. } => consumer(config, &name).await,
        Command::Engine { port, host, db, app_id, lease_secs, retention } => {
            let mut engine_config =
                errand_engine::EngineConfig::new(db.unwrap_or_else(|| config.engine_database_url()));
            engine_config.app_id = app_id;
            engine_config.lease = std::time::Duration::from_secs(lease_secs.max(1));
            engine_config.retention = retention.0;
            engine(engine_config, &host, port).await
        }
        Command::Events { command } => events(config, command).await,
        Command::Workflows { .. } => Err("errand workflows runs before any configuration is read".into()),
        Command::Reindex => {
            let store = open_store(&config).await?;
            let result = errand_search::SearchIndex::reindex(&config.data_dir.join("search"), &store).await;
            store.close().await;
            let index = result.map_err(|e| e.to_string())?;
            println!("search index rebuilt: {} tasks", index.num_docs());
            Ok(())
        }
        Command::Migrate => {
            let store = open_store(&config).await?;
            store.close().await;
            println!("migrations applied to the {} database", store.backend());
            Ok(())
        }
        Command::Admin { command: AdminCommand::Grant { email } } => {
            let store = open_store(&config).await?;
            let granted = store.grant_admin(&email).await.map_err(|e| e.to_string())?;
            store.close().await;
            if granted {
                println!("{email} is now an admin");
                Ok(())
            } else {
                Err(format!("no account with email {email}"))
            }
        }
        Command::Admin { command: AdminCommand::Disable { email } } => set_disabled(&config, &email, true).await,
        Command::Admin { command: AdminCommand::Enable { email } } => set_disabled(&config, &email, false).await,
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let app = App::build(&config).await.map_err(|e| e.to_string())?;
    let listener = bind(&config).await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, database = %redact(&config.database_url), "listening");
    // Tests and scripts read this line to learn the port when listening on :0.
    println!("errand listening on http://{addr}");
    app.serve(listener, shutdown_signal()).await.map_err(|e| e.to_string())
}

/// Disables (ending its sessions) or enables the account with `email`.
async fn set_disabled(config: &Config, email: &str, disable: bool) -> Result<(), String> {
    let store = open_store(config).await?;
    let result = async {
        let user = store
            .user_by_email(email)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no account with email {email}"))?;
        let now = chrono::Utc::now();
        store.set_disabled(&user.profile.id, disable.then_some(now)).await.map_err(|e| e.to_string())?;
        if disable {
            let ended = store.revoke_sessions(&user.profile.id, None, now).await.map_err(|e| e.to_string())?;
            println!("{email} is disabled; {ended} sessions ended");
        } else {
            println!("{email} is enabled");
        }
        Ok::<(), String>(())
    }
    .await;
    store.close().await;
    result
}

/// How long the engine keeps finished instances (`None`: forever).
#[derive(Debug, Clone, Copy)]
struct Retention(Option<std::time::Duration>);

fn parse_retention(text: &str) -> Result<Retention, String> {
    if text == "forever" {
        return Ok(Retention(None));
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30d, 12h or 90s"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?} needs a unit: s, m, h or d (or say forever)")),
    };
    Ok(Retention(Some(std::time::Duration::from_secs(seconds.max(1)))))
}

async fn engine(engine_config: errand_engine::EngineConfig, host: &str, port: u16) -> Result<(), String> {
    let url = engine_config.database_url.clone();
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("engine data directory: {e}"))?;
        }
    }
    let sidecar = errand_engine::Sidecar::open(engine_config).await.map_err(|e| e.to_string())?;
    let listener =
        tokio::net::TcpListener::bind((host, port)).await.map_err(|e| format!("cannot bind {host}:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, database = %redact(&url), "workflow engine listening");
    println!("errand engine listening on {addr}");
    sidecar.serve(listener, shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn open_store(config: &Config) -> Result<Store, String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("data directory: {e}"))?;
    let store = Store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store)
}

async fn consumer(config: Config, name: &str) -> Result<(), String> {
    let store = open_store(&config).await?;
    // The workflow trigger reaches the workflows through the API app (service invocation
    // on its own daprd): they are actors of the API's app id, which this sidecar does not
    // host. Its calls carry service tokens signed with the API's secret.
    let clients: errand_consumers::WorkflowClients = Default::default();
    if name == "workflow-trigger" {
        let secret = errand_api::auth::load_or_create_secret(config.jwt_secret.as_deref(), &config.data_dir)
            .map_err(|e| format!("the token secret: {e}"))?;
        let tokens = errand_api::auth::Tokens::new(&secret, config.token_ttl);
        let app =
            errand_consumers::AppWorkflows::new(&config.dapr_http_endpoint, &config.dapr_app_id, Arc::new(tokens));
        let _ = clients.set(errand_consumers::WorkflowControl::App(app));
    }
    let handler = errand_consumers::handlers(&store, &clients)
        .into_iter()
        .find(|h| h.name() == name)
        .ok_or_else(|| format!("no consumer named {name:?}; use audit, notification or workflow-trigger"))?;
    let mut router = errand_consumers::subscriber_router(store.clone(), handler, &config.dapr_pubsub);
    if let Some(metrics) = errand_telemetry::metrics() {
        router = router.route("/metrics", axum::routing::get(move || std::future::ready(metrics.render())));
    }
    let listener = bind(&config).await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, consumer = name, pubsub = %config.dapr_pubsub, "consumer listening");
    println!("errand consumer {name} listening on http://{addr}");
    let served = axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await;
    store.close().await;
    served.map_err(|e| e.to_string())
}

async fn events(config: Config, command: EventsCommand) -> Result<(), String> {
    let store = open_store(&config).await?;
    let result = match command {
        EventsCommand::DeadLetters { all } => {
            let letters = store.dead_letters(!all, 1000).await.map_err(|e| e.to_string())?;
            if letters.is_empty() {
                println!("no dead letters");
            }
            for l in letters {
                let replayed = l.replayed_at.map(|at| format!(" replayed {}", at.to_rfc3339())).unwrap_or_default();
                println!(
                    "{}  {}  consumer={} topic={} event={} attempts={}{}\n    error: {}",
                    l.id,
                    l.created_at.to_rfc3339(),
                    l.consumer,
                    l.topic,
                    l.event_id,
                    l.attempts,
                    replayed,
                    l.error
                );
            }
            Ok(())
        }
        EventsCommand::Replay { id } => {
            // The CLI has no workflow sidecar: replay workflow-trigger letters through
            // the server's ops endpoint instead.
            let handlers = errand_consumers::handlers(&store, &Default::default());
            errand_consumers::replay(&store, &handlers, &id)
                .await
                .map(|l| println!("replayed {} to {}", l.id, l.consumer))
                .map_err(|e| e.to_string())
        }
    };
    store.close().await;
    result
}

/// Hides the password of a database URL in logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_durations() {
        let seconds = |text| parse_retention(text).unwrap().0.map(|d| d.as_secs());
        assert_eq!(seconds("30d"), Some(30 * 86_400));
        assert_eq!(seconds("12h"), Some(12 * 3600));
        assert_eq!(seconds("90s"), Some(90));
        assert_eq!(seconds("5m"), Some(300));
        assert_eq!(seconds("forever"), None);
        for bad in ["", "30", "d", "3 days", "-1d", "1w"] {
            assert!(parse_retention(bad).is_err(), "{bad}");
        }
    }
}
