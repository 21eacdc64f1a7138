//! Errand's event consumers and the machinery that delivers events to them.
//!
//! A consumer is a [`Handler`]: a name, the topics it reads, and an async function
//! of one event. The same handlers run under both runtimes of DESIGN §1:
//! - embedded: [`Bus`] reads the outbox in order, woken by commits, and delivers
//!   every event to every consumer, each with its own durable cursor, dedup by event
//!   id, retries with exponential backoff and a dead-letter store;
//! - Dapr: [`DaprPublisher`] relays the outbox to Dapr pub/sub, and
//!   [`subscriber_router`] serves one consumer to daprd (`/dapr/subscribe` and the
//!   topic routes, answering `SUCCESS`, `RETRY` or `DROP`).
//!
//! The workflow trigger reaches its workflows through a [`WorkflowControl`]: the
//! sidecar itself, or (in the Dapr runtime) the API app over service invocation
//! ([`AppWorkflows`]), since only the API's daprd hosts Errand's workflow actors.
//!
//! Public surface: [`Handler`], [`HandlerError`], [`Delivery`], [`AuditHandler`],
//! [`NotificationHandler`], [`WorkflowTriggerHandler`], [`WorkflowClients`],
//! [`WorkflowControl`], [`AppWorkflows`], [`ControlError`], [`handlers`], [`Bus`],
//! [`BusConfig`], [`DaprPublisher`], [`DaprConfig`], [`subscriber_router`], [`replay`],
//! [`ReplayError`].

mod audit;
mod bus;
mod dapr;
mod handler;
mod notification;
mod replay;
mod workflow_control;
mod workflow_trigger;

pub use audit::AuditHandler;
pub use bus::{Bus, BusConfig};
pub use dapr::{subscriber_router, DaprConfig, DaprPublisher, DAPR_PUBLISHER};
pub use handler::{Delivery, Handler, HandlerError, HandlerFuture};
pub use notification::NotificationHandler;
pub use replay::{replay, ReplayError};
pub use workflow_control::{AppWorkflows, ControlError, WorkflowControl};
pub use workflow_trigger::{WorkflowClients, WorkflowTriggerHandler};

use std::sync::Arc;

use errand_store::Store;

/// The built-in consumers, in delivery order.
pub fn handlers(store: &Store, workflows: &WorkflowClients) -> Vec<Arc<dyn Handler>> {
    vec![
        Arc::new(AuditHandler::new(store.clone())),
        Arc::new(NotificationHandler::new(store.clone())),
        Arc::new(WorkflowTriggerHandler::new(store.clone(), workflows.clone())),
    ]
}
