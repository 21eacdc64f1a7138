//! Errand's embedded workflow engine: a durabletask sidecar. It serves the
//! `TaskHubSidecarService` gRPC API that Dapr's sidecar serves for workflows, so the
//! durabletask SDK's worker and client run against it unchanged; only the address
//! differs. State lives in SQLite (its own file) or PostgreSQL, where several engines
//! may share one database. It knows nothing about tasks.
//!
//! Public surface: [`EngineConfig`] -> [`Sidecar::open`] -> [`Sidecar::serve`];
//! [`Sidecar::inspector`] reads its instances for operators ([`inspect`]).

mod engine;
mod grpc;
pub mod inspect;
mod status;
mod store;
mod time;
mod turn;

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored event cannot be decoded (never expected; only the engine writes them).
    #[error("corrupt stored event: {0}")]
    Corrupt(String),
    /// The database URL names no supported backend.
    #[error("unsupported database url {0:?}: use sqlite://..., sqlite::memory: or postgres://...")]
    UnsupportedUrl(String),
    /// A group commit failed (the database error is logged).
    #[error("commit failed: {0}")]
    Commit(String),
    /// Serving gRPC failed.
    #[error("grpc server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `sqlite://path`, `sqlite::memory:` or `postgres://...`.
    pub database_url: String,
    /// The app id reported as a child's `parent_app_id`; a purge or start routed to
    /// another app is refused.
    pub app_id: String,
    /// How long a claimed work item stays leased without renewal. Leases of items on a
    /// live worker stream are renewed; a crashed engine's items are free after this.
    pub lease: Duration,
    /// On a shared (PostgreSQL) database, how often to look for work other engines
    /// made visible; also the longest a waiting client goes without re-reading.
    pub poll_interval: Duration,
    /// Items handed to one worker stream and not yet completed, at most.
    pub max_items_per_worker: usize,
    /// How long a finished instance (its state and history) is kept; `None` keeps
    /// them until purged through the API.
    pub retention: Option<Duration>,
}

impl EngineConfig {
    /// Defaults for `database_url`.
    pub fn new(database_url: impl Into<String>) -> EngineConfig {
        EngineConfig {
            database_url: database_url.into(),
            app_id: "errand".into(),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            max_items_per_worker: 1000,
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

/// The engine, opened on its database and ready to serve.
pub struct Sidecar {
    engine: engine::Engine,
}

impl Sidecar {
    /// Connects to the database and applies the embedded migrations.
    pub async fn open(config: EngineConfig) -> Result<Sidecar, EngineError> {
        Ok(Sidecar { engine: engine::Engine::open(config).await? })
    }

    /// A reader of this engine's instances, for operators.
    pub fn inspector(&self) -> inspect::Inspector {
        self.engine.inspector()
    }

    /// Serves gRPC on `listener` and runs the dispatcher until `shutdown` resolves.
    /// Worker streams are then ended so their workers reconnect elsewhere.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EngineError> {
        let engine = self.engine;
        let stop = CancellationToken::new();
        let background = [
            tokio::spawn({
                let (engine, stop) = (engine.clone(), stop.clone());
                async move { engine.run_dispatcher(stop.cancelled_owned()).await }
            }),
            tokio::spawn({
                let (engine, stop) = (engine.clone(), stop.clone());
                async move { engine.run_lease_keeper(stop.cancelled_owned()).await }
            }),
            tokio::spawn({
                let (engine, stop) = (engine.clone(), stop.clone());
                async move { engine.run_gauges(stop.cancelled_owned()).await }
            }),
            tokio::spawn({
                let (engine, stop) = (engine.clone(), stop.clone());
                async move { engine.run_retention(stop.cancelled_owned()).await }
            }),
        ];
        let service = grpc::SidecarService { engine: engine.clone() };
        // tonic applies no socket options to an incoming stream; without TCP_NODELAY
        // every small gRPC message waits on Nagle's algorithm (~40 ms on loopback).
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|socket| {
            let socket = socket?;
            socket.set_nodelay(true)?;
            Ok::<_, std::io::Error>(socket)
        });
        let stopping = stop.clone();
        let closing = engine.clone();
        let server = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async move {
                shutdown.await;
                stopping.cancel();
                closing.disconnect_all();
            });
        tokio::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            // Clients blocked in waits do not hold shutdown up for long.
            _ = async { stop.cancelled().await; tokio::time::sleep(Duration::from_secs(2)).await } => Ok(()),
        };
        stop.cancel();
        for task in background {
            let _ = task.await;
        }
        engine.close().await;
        Ok(result?)
    }
}
