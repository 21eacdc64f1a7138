//! Errand's workflow runtime: one facade that registers orchestrators and activities
//! once and runs the durabletask SDK's worker and client (the `dapr` crate's workflow
//! feature) against a sidecar. In the embedded runtime that sidecar is Errand's own
//! engine on a loopback port; in the Dapr runtime it is daprd (`DAPR_GRPC_ENDPOINT`).
//! Only the address differs: the workflow code is the same.
//!
//! Public surface: [`register`] (Errand's workflows), [`WorkflowRuntime::start`],
//! [`WorkflowRuntime::client`], [`WorkflowRuntime::probe`],
//! [`WorkflowRuntime::shutdown`], and the SDK types re-exported in [`sdk`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The SDK types workflow code uses, re-exported so every crate names the same ones.
pub mod sdk {
    pub use dapr::workflow::*;
}

use sdk::{FetchOptions, Registry, WorkerHandle, WorkflowClient, WorkflowError, WorkflowSchedulingClient};

/// Registers Errand's own orchestrators and activities. The reminder, recurring and
/// confirm-action workflows are added here as they are built; until then the worker
/// runs with an empty registry and the runtime serves as the connection to the sidecar.
pub fn register(_registry: &mut Registry) {}

/// Errors of the workflow runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The sidecar could not be reached in time.
    #[error("workflow sidecar at {address} is unreachable: {message}")]
    Unreachable {
        /// The sidecar's address.
        address: String,
        /// Why the last attempt failed.
        message: String,
    },
    /// The SDK refused to start the worker.
    #[error("workflow worker failed to start: {0}")]
    Worker(String),
}

/// A running worker plus a client for starting and managing instances; cheap to clone.
#[derive(Clone)]
pub struct WorkflowRuntime {
    client: WorkflowSchedulingClient,
    worker: Arc<Mutex<Option<WorkerHandle>>>,
    address: Arc<str>,
}

impl WorkflowRuntime {
    /// Connects to the sidecar at `address` (retrying for up to `connect_timeout`, as a
    /// sidecar may still be starting), registers what `register` adds and starts the
    /// worker.
    pub async fn start(
        address: &str,
        connect_timeout: Duration,
        register: impl FnOnce(&mut Registry),
    ) -> Result<WorkflowRuntime, RuntimeError> {
        let deadline = tokio::time::Instant::now() + connect_timeout;
        let mut connection = loop {
            match WorkflowClient::new_with_address(address).await {
                Ok(client) => break client,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(RuntimeError::Unreachable { address: address.to_string(), message: e.to_string() })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        register(connection.registry_mut());
        let worker = connection.start_worker().await.map_err(|e| RuntimeError::Worker(e.to_string()))?;
        tracing::info!(%address, "workflow worker started");
        Ok(WorkflowRuntime {
            client: connection.scheduling_client(),
            worker: Arc::new(Mutex::new(Some(worker))),
            address: address.into(),
        })
    }

    /// A client sharing the runtime's connection; cheap to clone.
    pub fn client(&self) -> WorkflowSchedulingClient {
        self.client.clone()
    }

    /// The sidecar's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// One round trip to the sidecar (a lookup of an instance that does not exist),
    /// answered within `timeout`: the readiness of the workflow side.
    pub async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let mut client = self.client.clone();
        let lookup = client.fetch_workflow_metadata("errand-readiness-probe", FetchOptions::new());
        match tokio::time::timeout(timeout, lookup).await {
            Ok(Ok(_)) | Ok(Err(WorkflowError::InstanceNotFound { .. })) => Ok(()),
            Ok(Err(e)) => Err(format!("workflow sidecar at {}: {e}", self.address)),
            Err(_) => Err(format!("workflow sidecar at {} did not answer within {timeout:?}", self.address)),
        }
    }

    /// Stops the worker after its in-flight items finish (once; later calls do nothing).
    pub async fn shutdown(&self) {
        let worker = self.worker.lock().expect("worker lock").take();
        if let Some(worker) = worker {
            if let Err(e) = worker.shutdown().await {
                tracing::warn!(error = %e, "workflow worker stopped with an error");
            }
        }
    }
}
