//! Errand's workflow runtime: one facade that registers orchestrators and activities
//! once and runs the durabletask SDK's worker and client (the `dapr` crate's workflow
//! feature) against a sidecar. In the embedded runtime that sidecar is Errand's own
//! engine on a loopback port; in the Dapr runtime it is daprd (`DAPR_GRPC_ENDPOINT`).
//! Only the address differs: the workflow code is the same.
//!
//! Public surface: [`register`] (Errand's three workflows, their ids, inputs and
//! events), [`WorkflowRuntime`] (start, client, probe, history, shutdown),
//! [`connect_client`] (a client without a worker), [`start_once`], [`is_gone`] and
//! [`is_unimplemented`] (idempotent starts; "no such instance"; "no such RPC"),
//! [`HistoryEntry`], and the SDK types
//! re-exported in [`sdk`].

mod errand;
mod history;

pub use errand::{
    confirmation_instance_id, events, names, ops_batch, recurring_instance_id, register, reminder_instance_id,
    snooze_instance_id, OccurrenceCompleted, RecurringInput, SeriesControl, SeriesStep,
};
pub use history::{entries as history_entries, HistoryEntry};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::FutureExt as _;

/// The SDK types workflow code uses, re-exported so every crate names the same ones.
pub mod sdk {
    pub use dapr::workflow::*;
}

use sdk::{FetchOptions, Registry, WorkerHandle, WorkflowClient, WorkflowError, WorkflowSchedulingClient};

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

/// True when the sidecar says the instance does not exist (never started, or purged).
pub fn is_gone(error: &WorkflowError) -> bool {
    match error {
        WorkflowError::InstanceNotFound { .. } => true,
        // durabletask-go answers some calls on unknown ids with another code.
        WorkflowError::GrpcError(status) => {
            status.code() == tonic::Code::NotFound || status.message().contains("no such instance")
        }
        _ => false,
    }
}

/// True when the sidecar does not offer the called RPC: `Unimplemented`, or daprd
/// handing a workflow RPC it lacks (such as `GetInstanceHistory` in 1.16) to its
/// service-invocation proxy, which then asks for an app id.
pub fn is_unimplemented(error: &WorkflowError) -> bool {
    match error {
        WorkflowError::GrpcError(status) => {
            status.code() == tonic::Code::Unimplemented || status.message().contains("failed to proxy request")
        }
        _ => false,
    }
}

/// Starts workflow `name` as `instance` with `input`, without waiting for its first
/// turn. An instance with that id counts as started: a retried start is harmless.
pub async fn start_once(
    client: &WorkflowSchedulingClient,
    name: &str,
    instance: &str,
    input: &impl serde::Serialize,
) -> Result<(), WorkflowError> {
    // A start time makes the call return at once instead of waiting for the first turn.
    let options = sdk::ScheduleOptions::new()
        .with_instance_id(instance)
        .with_input(input)
        .with_start_time(std::time::SystemTime::now());
    // The SDK's start span takes the attached context as its parent: attach the caller's.
    let cx = errand_telemetry::current_context();
    match client.clone().schedule_workflow(name, options).with_context(cx).await {
        Ok(_) => Ok(()),
        Err(WorkflowError::GrpcError(status))
            if status.code() == tonic::Code::AlreadyExists || status.message().contains("already exists") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A client of the sidecar at `address` without a worker (for processes that start and
/// signal workflows but must not be handed workflow items, such as a Dapr consumer).
pub async fn connect_client(address: &str) -> Result<WorkflowSchedulingClient, RuntimeError> {
    WorkflowClient::new_with_address(address)
        .await
        .map(|client| client.scheduling_client())
        .map_err(|e| RuntimeError::Unreachable { address: address.to_string(), message: e.to_string() })
}

/// A running worker plus a client for starting and managing instances; cheap to clone.
#[derive(Clone)]
pub struct WorkflowRuntime {
    client: WorkflowSchedulingClient,
    /// The SDK's own client, for what the scheduling client lacks (history).
    raw: Arc<tokio::sync::Mutex<dapr_durabletask::client::TaskHubGrpcClient>>,
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
        let raw = dapr_durabletask::client::TaskHubGrpcClient::new(address)
            .await
            .map_err(|e| RuntimeError::Unreachable { address: address.to_string(), message: e.to_string() })?;
        let worker = connection.start_worker().await.map_err(|e| RuntimeError::Worker(e.to_string()))?;
        tracing::info!(%address, "workflow worker started");
        Ok(WorkflowRuntime {
            raw: Arc::new(tokio::sync::Mutex::new(raw)),
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

    /// The committed history of an instance's current execution.
    pub async fn history(&self, instance_id: &str) -> Result<Vec<HistoryEntry>, WorkflowError> {
        let events = self.raw.lock().await.get_instance_history(instance_id).await?;
        Ok(history::entries(&events))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_instances_are_recognised_by_code_or_message() {
        let grpc = |status: tonic::Status| WorkflowError::GrpcError(Box::new(status));
        assert!(is_gone(&grpc(tonic::Status::not_found("x"))));
        assert!(is_gone(&grpc(tonic::Status::unknown("no such instance exists"))));
        assert!(is_gone(&WorkflowError::InstanceNotFound { instance_id: "x".into() }));
        assert!(!is_gone(&grpc(tonic::Status::unavailable("down"))));
        assert!(!is_gone(&WorkflowError::Timeout));
    }

    #[test]
    fn missing_rpcs_are_recognised_on_durabletask_go_and_daprd() {
        let grpc = |status: tonic::Status| WorkflowError::GrpcError(Box::new(status));
        assert!(is_unimplemented(&grpc(tonic::Status::unimplemented("GetInstanceHistory"))));
        // What daprd 1.16 answers to GetInstanceHistory.
        let daprd = "failed to proxy request: required metadata dapr-callee-app-id or dapr-app-id not found";
        assert!(is_unimplemented(&grpc(tonic::Status::unknown(daprd))));
        assert!(!is_unimplemented(&grpc(tonic::Status::not_found("no such instance"))));
        assert!(!is_unimplemented(&grpc(tonic::Status::unavailable("down"))));
    }
}
