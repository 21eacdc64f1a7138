//! Where the workflow trigger's starts, events and terminations go.
//!
//! Dapr workflows are actors of the app that hosts their worker, the API (`errand`):
//! only that app's daprd can start or signal them. The trigger's own daprd has no
//! worker, so a start through it waits for one forever. In the Dapr runtime the trigger
//! therefore asks the API, through Dapr service invocation, to make each call on its own
//! sidecar (`/api/v1/internal/workflows/...`, with a service token naming the instance);
//! in the embedded runtime it calls the sidecar directly.

use std::sync::Arc;
use std::time::Duration;

use errand_activities::ServiceTokens;
use errand_domain::event::Actor;
use errand_workflows::sdk::{EventOptions, WorkflowSchedulingClient};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Why a workflow call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The instance does not exist (never started, or purged): nothing to signal or end.
    #[error("no such workflow instance")]
    Gone,
    /// Anything else; worth retrying.
    #[error("{0}")]
    Failed(String),
}

/// A start, event or termination of one instance, for the user who owns it.
pub struct Call<'a> {
    /// The owner.
    pub user_id: &'a str,
    /// The instance.
    pub instance: &'a str,
}

/// The trigger's way to its workflows; cheap to clone.
#[derive(Clone)]
pub enum WorkflowControl {
    /// Straight to the sidecar that hosts the workers (the embedded engine). Boxed: the
    /// client is large beside the other variant.
    Sidecar(Box<WorkflowSchedulingClient>),
    /// Through the API app, over Dapr service invocation (the Dapr runtime).
    App(AppWorkflows),
}

impl WorkflowControl {
    /// Starts workflow `name` as the call's instance; one that exists counts as started.
    pub async fn start(&self, call: Call<'_>, name: &str, input: Value) -> Result<(), ControlError> {
        match self {
            WorkflowControl::Sidecar(client) => errand_workflows::start_once(client, name, call.instance, &input)
                .await
                .map_err(|e| ControlError::Failed(e.to_string())),
            WorkflowControl::App(app) => app.post(&call, "start", json!({ "name": name, "input": input })).await,
        }
    }

    /// Raises event `event` with `payload` on the call's instance.
    pub async fn raise(&self, call: Call<'_>, event: &str, payload: Value) -> Result<(), ControlError> {
        match self {
            WorkflowControl::Sidecar(client) => sidecar_result(
                client.clone().raise_event(call.instance, event, EventOptions::new().with_payload(payload)).await,
            ),
            WorkflowControl::App(app) => app.post(&call, "raise", json!({ "event": event, "payload": payload })).await,
        }
    }

    /// Terminates the call's instance.
    pub async fn terminate(&self, call: Call<'_>) -> Result<(), ControlError> {
        match self {
            WorkflowControl::Sidecar(client) => sidecar_result(client.clone().terminate_workflow(call.instance).await),
            WorkflowControl::App(app) => app.post(&call, "terminate", json!({})).await,
        }
    }
}

fn sidecar_result(result: errand_workflows::sdk::Result<()>) -> Result<(), ControlError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if errand_workflows::is_gone(&e) => Err(ControlError::Gone),
        Err(e) => Err(ControlError::Failed(e.to_string())),
    }
}

/// The API's internal workflow routes through daprd's service invocation.
#[derive(Clone)]
pub struct AppWorkflows {
    client: reqwest::Client,
    /// `{dapr}/v1.0/invoke/{app-id}/method/api/v1/internal/workflows`
    base: String,
    tokens: Arc<dyn ServiceTokens>,
}

impl AppWorkflows {
    /// Calls the app `app_id` through daprd at `dapr_http_endpoint`, with tokens from `tokens`.
    pub fn new(dapr_http_endpoint: &str, app_id: &str, tokens: Arc<dyn ServiceTokens>) -> AppWorkflows {
        // The trigger's own deadline bounds each call; this one bounds a stuck connection.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        let base = format!(
            "{}/v1.0/invoke/{app_id}/method/api/v1/internal/workflows",
            dapr_http_endpoint.trim_end_matches('/')
        );
        AppWorkflows { client, base, tokens }
    }

    async fn post(&self, call: &Call<'_>, action: &str, body: Value) -> Result<(), ControlError> {
        // The token acts as the instance itself: the API lets it control that one only.
        let actor = Actor::Workflow(call.instance.to_string());
        let token = self.tokens.mint(call.user_id, &actor).map_err(ControlError::Failed)?;
        let mut url =
            reqwest::Url::parse(&self.base).map_err(|e| ControlError::Failed(format!("{}: {e}", self.base)))?;
        // Pushed as path segments, so an id is never read as more of the path.
        url.path_segments_mut()
            .map_err(|_| ControlError::Failed(format!("{} cannot take a path", self.base)))?
            .push(call.instance)
            .push(action);
        // The API continues the event's trace when it starts the workflow.
        let request = self.client.post(url).bearer_auth(token).json(&body);
        let response = errand_telemetry::headers()
            .into_iter()
            .fold(request, |r, (name, value)| r.header(name, value))
            .send()
            .await
            .map_err(|e| ControlError::Failed(format!("{action} through the API: {e}")))?;
        match response.status() {
            status if status.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(ControlError::Gone),
            status => {
                let text = response.text().await.unwrap_or_default();
                Err(ControlError::Failed(format!("{action} through the API: {status}: {text}")))
            }
        }
    }
}
