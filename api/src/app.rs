//! The composition root of `errand serve`: config -> `App::build` -> `App::serve`.

use std::future::Future;

use axum::extract::FromRef;
use tokio::net::TcpListener;

use crate::auth::{load_or_create_secret, Tokens};
use crate::config::Config;
use crate::routes;
use crate::tasks::TaskService;
use errand_store::Store;

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The system of record.
    pub store: Store,
    /// Token issuing and verification.
    pub tokens: Tokens,
    /// Task operations.
    pub tasks: TaskService,
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}

impl FromRef<AppState> for Tokens {
    fn from_ref(state: &AppState) -> Tokens {
        state.tokens.clone()
    }
}

/// A built application, ready to serve.
pub struct App {
    state: AppState,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or the secret file cannot be used.
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    /// The database cannot be opened or migrated.
    #[error(transparent)]
    Store(#[from] errand_store::StoreError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
}

impl App {
    /// Opens the store (creating the data dir and applying migrations) and the
    /// token keys.
    pub async fn build(config: &Config) -> Result<App, StartError> {
        let data_dir = config.data_dir.display().to_string();
        std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::DataDir(data_dir.clone(), e))?;
        let secret = load_or_create_secret(config.jwt_secret.as_deref(), &config.data_dir)
            .map_err(|e| StartError::DataDir(data_dir, e))?;
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let state =
            AppState { tasks: TaskService::new(store.clone()), tokens: Tokens::new(&secret, config.token_ttl), store };
        Ok(App { state })
    }

    /// Serves HTTP on `listener` until `shutdown` completes, lets in-flight requests
    /// finish, then closes the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.store.clone();
        let housekeeping = tokio::spawn(housekeeping(store.clone()));
        let router = routes::router(self.state);
        let served = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
        housekeeping.abort();
        store.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(config.listen).await.map_err(|e| StartError::Listen(config.listen.to_string(), e))
}

/// Periodic upkeep of the store: forgets expired idempotency keys.
async fn housekeeping(store: Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        match store.prune_idempotency_keys(crate::tasks::now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "pruned expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
    }
}
