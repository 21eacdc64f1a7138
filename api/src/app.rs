//! The composition root of `errand serve`: config -> `App::build` -> `App::serve`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use errand_activities::HttpTaskApi;
use errand_consumers::WorkflowClients;
use errand_consumers::{Bus, BusConfig, DaprConfig, DaprPublisher};
use errand_domain::TaskApi;
use errand_engine::{EngineConfig, Sidecar};
use errand_search::{run_indexer, SearchIndex, SEARCH_READERS};
use errand_store::Store;
use errand_workflows::WorkflowRuntime;

use crate::task_api::LocalTaskApi;
use crate::workflows::WorkflowService;
use errand_telemetry::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::{watch, OnceCell};

use crate::auth::{load_or_create_secret, Sessions, Tokens};
use crate::config::{Config, HttpSettings, Runtime};
use crate::limits::Limits;
use crate::routes;
use crate::tasks::TaskService;

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The system of record.
    pub store: Store,
    /// Token issuing and verification (service tokens for workflows).
    pub tokens: Tokens,
    /// Sessions behind users' tokens.
    pub sessions: Sessions,
    /// Rate limits, the password-hashing bound and stream caps.
    pub limits: Limits,
    /// Task operations.
    pub tasks: TaskService,
    /// The task search index.
    pub search: Arc<SearchIndex>,
    /// Turns true when the server shuts down (long-lived streams end then).
    pub shutdown: watch::Receiver<bool>,
    /// Renders `GET /metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// The workflow worker and client, once connected to the sidecar (the embedded
    /// engine, or daprd).
    pub workflow_runtime: Arc<OnceCell<WorkflowRuntime>>,
    /// The same client, for the workflow-trigger consumer.
    pub workflow_clients: WorkflowClients,
    /// Confirmations, snoozes and workflow status.
    pub workflows: WorkflowService,
    /// The chat assistant (offline, or with an LLM).
    pub assistant: Arc<errand_assistant::Assistant>,
    /// Where conversations are kept.
    pub conversations: crate::conversations::Conversations,
    /// Ops inspection of workflows, once the sidecar's address is known.
    pub ops: Arc<OnceCell<errand_ops::Ops>>,
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}

impl FromRef<AppState> for Sessions {
    fn from_ref(state: &AppState) -> Sessions {
        state.sessions.clone()
    }
}

impl FromRef<AppState> for Limits {
    fn from_ref(state: &AppState) -> Limits {
        state.limits.clone()
    }
}

/// A built application, ready to serve.
pub struct App {
    state: AppState,
    stop: Arc<watch::Sender<bool>>,
    runtime: Runtime,
    dapr: DaprConfig,
    /// The workflow sidecar's address (empty: the embedded engine's).
    sidecar: String,
    /// How activities reach tasks.
    task_api: Arc<dyn TaskApi>,
    /// The embedded runtime's workflow engine and its loopback listener.
    engine: Option<(Sidecar, TcpListener)>,
    /// Connection limits, CORS and the browser-facing headers.
    http: HttpSettings,
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
    /// The search index cannot be opened or built.
    #[error(transparent)]
    Search(#[from] errand_search::SearchError),
    /// The embedded workflow engine cannot open its database or bind its port.
    #[error("workflow engine: {0}")]
    Engine(String),
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
        let search = SearchIndex::open(&config.data_dir.join("search"), &store).await?;
        let (stop, shutdown) = watch::channel(false);
        let tasks = TaskService::new(store.clone(), search.clone());
        let conversation_store = store.clone();
        let workflow_runtime = Arc::new(OnceCell::new());
        let workflows =
            WorkflowService::new(store.clone(), tasks.clone(), workflow_runtime.clone(), config.confirmation_timeout);
        let tokens = Tokens::new(&secret, config.token_ttl);
        let state = AppState {
            tasks,
            search,
            sessions: Sessions::new(store.clone(), tokens.clone()),
            tokens,
            limits: Limits::new(&config.limits),
            store,
            shutdown,
            metrics: errand_telemetry::metrics(),
            workflow_runtime,
            workflow_clients: Arc::new(OnceCell::new()),
            ops: Arc::new(OnceCell::new()),
            workflows,
            assistant: Arc::new(errand_assistant::Assistant::new(config.llm.clone())),
            conversations: match config.runtime {
                Runtime::Embedded => crate::conversations::Conversations::Database(conversation_store),
                Runtime::Dapr => {
                    crate::conversations::Conversations::dapr(&config.dapr_http_endpoint, &config.dapr_statestore)
                }
            },
        };
        register_metrics();
        let dapr = DaprConfig { http_endpoint: config.dapr_http_endpoint.clone(), pubsub: config.dapr_pubsub.clone() };
        let engine = match (config.runtime, &config.workflow_sidecar) {
            (Runtime::Embedded, None) => Some(open_engine(config).await?),
            _ => None,
        };
        // The sidecar: the embedded engine (address known once it listens), an external
        // one named by ERRAND_WORKFLOW_SIDECAR, or daprd.
        let sidecar = match config.runtime {
            Runtime::Embedded => config.workflow_sidecar.clone().unwrap_or_default(),
            Runtime::Dapr => config.dapr_grpc_endpoint.clone(),
        };
        let task_api: Arc<dyn TaskApi> = match config.runtime {
            Runtime::Embedded => Arc::new(LocalTaskApi::new(state.tasks.clone(), state.store.clone())),
            Runtime::Dapr => Arc::new(HttpTaskApi::new(
                &config.dapr_http_endpoint,
                &config.dapr_app_id,
                Arc::new(state.tokens.clone()),
            )),
        };
        let http = config.http.clone();
        Ok(App { state, stop: Arc::new(stop), runtime: config.runtime, dapr, sidecar, task_api, engine, http })
    }

    /// Serves HTTP on `listener`, with the event delivery of the runtime (the
    /// embedded bus, or the Dapr publisher), until `shutdown` completes; then lets
    /// in-flight requests finish, stops delivery between events, and closes the
    /// database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.store.clone();
        let stopped = self.state.shutdown.clone();
        let listening = tokio::spawn({
            let store = store.clone();
            let mut stopped = stopped.clone();
            async move {
                tokio::select! {
                    _ = store.listen_for_commits() => {}
                    _ = stopped.wait_for(|stop| *stop) => {}
                }
            }
        });
        // The outbox is pruned only past what the search indexer has read, too.
        let bus_config = BusConfig { outbox_readers: vec![SEARCH_READERS], ..BusConfig::default() };
        let delivery = match self.runtime {
            Runtime::Embedded => {
                let bus = Bus::new(
                    store.clone(),
                    errand_consumers::handlers(&store, &self.state.workflow_clients),
                    bus_config,
                );
                tokio::spawn(bus.run(stopped.clone()))
            }
            Runtime::Dapr => {
                let publisher = DaprPublisher::new(store.clone(), self.dapr.clone(), bus_config);
                tokio::spawn(publisher.run(stopped.clone()))
            }
        };
        let mut sidecar_address = self.sidecar.clone();
        let mut inspector = None;
        let engine = self.engine.map(|(sidecar, listener)| {
            if let Ok(addr) = listener.local_addr() {
                sidecar_address = format!("http://{addr}");
            }
            inspector = Some(sidecar.inspector());
            let mut stopped = stopped.clone();
            tokio::spawn(sidecar.serve(listener, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }))
        });
        let ops = match errand_ops::Ops::new(inspector, &sidecar_address, store.clone()) {
            Ok(ops) => {
                let _ = self.state.ops.set(ops.clone());
                Some(Arc::new(ops))
            }
            Err(e) => {
                tracing::error!(error = %e, "ops inspection of workflows is unavailable");
                None
            }
        };
        // From the engine's tables only: on a sidecar the figures cost a read per instance.
        let gauges = ops
            .clone()
            .filter(|ops| ops.reads_engine_tables())
            .map(|ops| tokio::spawn(ops_gauges(ops, stopped.clone())));
        let workflows = self.state.workflow_runtime.clone();
        let connecting = tokio::spawn(connect_workflows(
            sidecar_address,
            self.task_api.clone(),
            ops,
            workflows.clone(),
            self.state.workflow_clients.clone(),
        ));
        // The embedded engine is right here: be connected before serving. daprd may
        // start later than this process; /readyz says so until it answers.
        if engine.is_some() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            while workflows.get().is_none() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let indexing = tokio::spawn(run_indexer(self.state.search.clone(), store.clone(), stopped.clone()));
        // Under Dapr the sweep is daprd's cron binding `sweep` (dapr/components/sweep.yaml)
        // posting to /sweep, on the schedule the operator sets; here, an hourly timer.
        let housekeeping = tokio::spawn({
            let (store, runtime) = (store.clone(), self.runtime);
            async move {
                if runtime == Runtime::Embedded {
                    housekeeping(store).await
                }
            }
        });
        let limits = self.state.limits.clone();
        let forgetting = tokio::spawn(limits.forget_idle_keys());
        let mut router = routes::router(self.state, &self.http);
        if self.runtime == Runtime::Dapr {
            let store = store.clone();
            router = router.route(
                "/sweep",
                axum::routing::post(move || {
                    let store = store.clone();
                    async move {
                        sweep(&store).await;
                        axum::http::StatusCode::OK
                    }
                }),
            );
        }
        let stop = self.stop.clone();
        let stopping = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let served =
            crate::server::serve(listener, router, self.http.server.clone(), stopping, Duration::from_secs(30)).await;
        let _ = self.stop.send(true);
        connecting.abort();
        if let Some(runtime) = workflows.get() {
            runtime.shutdown().await;
        }
        if tokio::time::timeout(Duration::from_secs(10), delivery).await.is_err() {
            tracing::warn!("event delivery did not stop within 10 s");
        }
        if tokio::time::timeout(Duration::from_secs(10), indexing).await.is_err() {
            tracing::warn!("the search indexer did not stop within 10 s");
        }
        if let Some(engine) = engine {
            match tokio::time::timeout(Duration::from_secs(10), engine).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::error!(error = %e, "the workflow engine failed"),
                _ => tracing::warn!("the workflow engine did not stop within 10 s"),
            }
        }
        listening.abort();
        housekeeping.abort();
        if let Some(gauges) = gauges {
            gauges.abort();
        }
        forgetting.abort();
        store.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Opens the embedded workflow engine on its database and a loopback port of its own:
/// the durabletask SDK reaches it over gRPC exactly as it would reach daprd.
async fn open_engine(config: &Config) -> Result<(Sidecar, TcpListener), StartError> {
    let url = config.engine_database_url();
    let sidecar = Sidecar::open(EngineConfig::new(url)).await.map_err(|e| StartError::Engine(e.to_string()))?;
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| StartError::Engine(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| StartError::Engine(e.to_string()))?;
    tracing::info!(%addr, "workflow engine listening on loopback");
    Ok((sidecar, listener))
}

/// Starts the workflow worker and client against the sidecar at `address`, retrying
/// until it answers.
async fn connect_workflows(
    address: String,
    task_api: Arc<dyn TaskApi>,
    ops: Option<Arc<errand_ops::Ops>>,
    slot: Arc<OnceCell<WorkflowRuntime>>,
    clients: WorkflowClients,
) {
    loop {
        let api = task_api.clone();
        let ops = ops.clone();
        match WorkflowRuntime::start(&address, Duration::from_secs(5), |registry| {
            errand_workflows::register(registry, api);
            if let Some(ops) = ops {
                errand_ops::batch::register(registry, ops);
            }
        })
        .await
        {
            Ok(runtime) => {
                let _ = clients.set(errand_consumers::WorkflowControl::Sidecar(Box::new(runtime.client())));
                let _ = slot.set(runtime);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "workflow sidecar not reachable yet; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// The API's counters on `/metrics` from the start, at zero, so that rates and alerts
/// over them have a series before the first failed login or settled confirmation.
fn register_metrics() {
    metrics::counter!("errand_auth_login_failures_total").increment(0);
    for outcome in ["approved", "rejected", "expired"] {
        metrics::counter!("errand_confirmations_total", "outcome" => outcome).increment(0);
    }
}

/// The ops health figures on `/metrics`, every 30 s: instances by kind and status,
/// waiting per reason and the age of the longest wait, stuck instances, dead letters
/// (timer lateness and activity queue delay are the engine's own histograms).
async fn ops_gauges(ops: Arc<errand_ops::Ops>, mut stopped: watch::Receiver<bool>) {
    // Pairs shown last time: one that no instance has any more (all purged) goes to
    // zero instead of keeping its last count. Errand's own kinds are shown from the start.
    let mut shown: std::collections::HashSet<(String, String)> = [
        errand_workflows::names::REMINDER,
        errand_workflows::names::RECURRING,
        errand_workflows::names::CONFIRM_ACTION,
    ]
    .into_iter()
    .map(|kind| (kind.to_string(), "running".to_string()))
    .collect();
    loop {
        match ops.stats(errand_ops::query::STUCK_AFTER).await {
            Ok(stats) => {
                let now = chrono::Utc::now();
                for wait in &stats.waiting {
                    let reason = wait["reason"].as_str().unwrap_or("unknown").to_string();
                    metrics::gauge!("errand_ops_waiting_instances", "reason" => reason.clone())
                        .set(wait["count"].as_f64().unwrap_or(0.0));
                    let since =
                        wait["oldest"]["since"].as_str().and_then(|s| s.parse::<chrono::DateTime<chrono::Utc>>().ok());
                    let age = since.map(|s| (now - s).num_milliseconds() as f64 / 1000.0).unwrap_or(0.0);
                    metrics::gauge!("errand_ops_oldest_wait_seconds", "reason" => reason).set(age);
                }
                metrics::gauge!("errand_ops_stuck_instances").set(stats.stuck.len() as f64);
                metrics::gauge!("errand_ops_dead_letters").set(stats.dead_letters as f64);
                let mut now_shown = std::collections::HashSet::new();
                for (kind, counts) in &stats.by_kind {
                    for (status, n) in counts {
                        metrics::gauge!("errand_ops_instances", "kind" => kind.clone(), "status" => status.clone())
                            .set(*n as f64);
                        now_shown.insert((kind.clone(), status.clone()));
                    }
                }
                for (kind, status) in shown.difference(&now_shown) {
                    metrics::gauge!("errand_ops_instances", "kind" => kind.clone(), "status" => status.clone())
                        .set(0.0);
                }
                shown.extend(now_shown);
            }
            Err(e) => tracing::debug!(error = %e, "ops gauges not updated"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(config.listen).await.map_err(|e| StartError::Listen(config.listen.to_string(), e))
}

/// The embedded runtime's periodic upkeep: a sweep every hour.
async fn housekeeping(store: Store) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        sweep(&store).await;
    }
}

/// One pass of upkeep: forgets expired idempotency keys and ended sessions. Idempotent
/// and cheap, so replicas that sweep at once do no harm.
async fn sweep(store: &Store) {
    match store.prune_idempotency_keys(crate::tasks::now()).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "pruned expired idempotency keys"),
        Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
    }
    // An ended session is kept a day, so a request racing its end still finds it.
    match store.prune_sessions(crate::tasks::now() - chrono::Duration::days(1)).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "pruned ended sessions"),
        Err(e) => tracing::warn!(error = %e, "pruning sessions failed"),
    }
}
