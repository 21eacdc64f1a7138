//! Batch actions by query. A dry run counts the matches and shows a sample; the real
//! run is an [`errand_activities::ConfirmAction::OpsBatch`] confirmation, whose
//! confirm-action workflow, once approved, resolves the query to ids once and acts on
//! them a page at a time through the activities registered here ([`register`]).

use std::sync::Arc;

use errand_workflows::ops_batch;
use errand_workflows::sdk::{ActivityContext, Registry, RegistryExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::{sidecar, InstanceView, Ops, OpsError};

/// Most instances one batch acts on.
pub const MAX_BATCH: usize = 10_000;

/// What a batch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchAction {
    /// Terminate each.
    Terminate,
    /// Suspend each.
    Suspend,
    /// Resume each.
    Resume,
    /// Purge each finished one.
    Purge,
    /// Raise an event on each.
    Raise,
}

/// A batch: the query and the action with its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    /// The ops query (as `GET /ops/workflows?q=`).
    pub query: String,
    /// What to do to each match.
    pub action: BatchAction,
    /// Why (recorded with terminate, suspend and resume).
    #[serde(default)]
    pub reason: Option<String>,
    /// Terminate children too.
    #[serde(default)]
    pub recursive: bool,
    /// The event to raise (for `raise`).
    #[serde(default)]
    pub event: Option<String>,
    /// The event's payload.
    #[serde(default)]
    pub data: Value,
}

impl BatchSpec {
    /// Checks the arguments the action needs.
    pub fn validate(&self) -> Result<(), OpsError> {
        if self.action == BatchAction::Raise && self.event.as_deref().is_none_or(|e| e.trim().is_empty()) {
            return Err(OpsError::Invalid("event", "a raise batch names the event to raise".into()));
        }
        if self.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
            return Err(OpsError::Invalid("reason", "a reason is at most 500 characters".into()));
        }
        Ok(())
    }

    /// A sentence saying what it will do to how many.
    pub fn describe(&self, total: u64) -> String {
        let verb = match self.action {
            BatchAction::Terminate => "Terminate",
            BatchAction::Suspend => "Suspend",
            BatchAction::Resume => "Resume",
            BatchAction::Purge => "Purge",
            BatchAction::Raise => "Raise an event on",
        };
        let query =
            if self.query.trim().is_empty() { "every instance".to_string() } else { format!("\"{}\"", self.query) };
        format!("{verb} {total} workflow instance{} matching {query}.", if total == 1 { "" } else { "s" })
    }
}

/// What a page of a batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Acted on.
    pub done: u64,
    /// Already in the state asked for (finished, suspended, or running for resume).
    pub skipped: u64,
    /// Refused: `{id, error}`.
    pub failed: Vec<Value>,
}

impl Ops {
    /// The matches' count and the first `sample` of them.
    pub async fn batch_preview(&self, spec: &BatchSpec, sample: usize) -> Result<(u64, Vec<InstanceView>), OpsError> {
        spec.validate()?;
        let page = self.list(&spec.query, "-created", None, sample.max(1)).await?;
        if page.total as usize > MAX_BATCH {
            return Err(OpsError::Invalid(
                "query",
                format!("it matches {} instances; a batch acts on at most {MAX_BATCH}, so narrow it down", page.total),
            ));
        }
        Ok((page.total, page.items))
    }

    /// The ids a batch acts on, resolved once.
    pub async fn batch_select(&self, spec: &BatchSpec) -> Result<Vec<String>, OpsError> {
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list(&spec.query, "created", cursor.as_deref(), 500).await?;
            ids.extend(page.items.into_iter().map(|i| i.id));
            if ids.len() >= MAX_BATCH {
                ids.truncate(MAX_BATCH);
                return Ok(ids);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(ids),
            }
        }
    }

    /// Acts on `ids` for the batch `batch_id`. Idempotent per instance: one already
    /// acted on (a terminate carries the batch's id in its output) counts as done again,
    /// so a page re-run after a crash reports each instance once.
    pub async fn batch_apply(&self, spec: &BatchSpec, ids: &[String], batch_id: &str) -> Result<Step, OpsError> {
        let mut step = Step::default();
        for id in ids {
            let state = match self.sidecar.state(id).await {
                Ok(state) => state,
                // Purged meanwhile (or by this very batch, before a crash).
                Err(OpsError::NotFound(_)) => {
                    if spec.action == BatchAction::Purge {
                        step.done += 1;
                    } else {
                        step.skipped += 1;
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let terminal = sidecar::is_terminal(state.workflow_status);
            let suspended = state.workflow_status == dapr_durabletask_proto::OrchestrationStatus::Suspended as i32;
            let outcome = match spec.action {
                BatchAction::Terminate if terminal => {
                    let ours = state.output.as_deref().is_some_and(|o| o.contains(batch_id));
                    if ours {
                        step.done += 1
                    } else {
                        step.skipped += 1
                    }
                    continue;
                }
                BatchAction::Terminate => {
                    let output = json!({ "reason": spec.reason, "batch": batch_id }).to_string();
                    self.sidecar.terminate(id, &output, spec.recursive).await
                }
                BatchAction::Suspend | BatchAction::Resume if terminal => {
                    step.skipped += 1;
                    continue;
                }
                BatchAction::Suspend if suspended => {
                    step.skipped += 1;
                    continue;
                }
                BatchAction::Resume if !suspended => {
                    step.skipped += 1;
                    continue;
                }
                BatchAction::Suspend => self.sidecar.suspend(id, spec.reason.as_deref(), false).await,
                BatchAction::Resume => self.sidecar.suspend(id, spec.reason.as_deref(), true).await,
                BatchAction::Purge if !terminal => {
                    step.skipped += 1;
                    continue;
                }
                BatchAction::Purge => self.sidecar.purge(id).await,
                BatchAction::Raise if terminal => {
                    step.skipped += 1;
                    continue;
                }
                BatchAction::Raise => {
                    self.sidecar.raise(id, spec.event.as_deref().unwrap_or_default(), &spec.data).await
                }
            };
            match outcome {
                Ok(()) => step.done += 1,
                Err(OpsError::Backend(e)) => return Err(OpsError::Backend(e)),
                Err(e) => step.failed.push(json!({ "id": id, "error": e.to_string() })),
            }
        }
        Ok(step)
    }
}

fn parse<T: serde::de::DeserializeOwned>(input: Option<String>) -> errand_workflows::sdk::Result<T> {
    Ok(serde_json::from_str(input.as_deref().unwrap_or("null"))?)
}

fn failed(e: OpsError) -> errand_workflows::sdk::WorkflowError {
    errand_workflows::sdk::WorkflowError::Other(e.to_string())
}

#[derive(Deserialize)]
struct ApplyInput {
    spec: BatchSpec,
    ids: Vec<String>,
}

/// Registers the batch activities, run by this process's workflow worker.
pub fn register(registry: &mut Registry, ops: Arc<Ops>) {
    let selecting = ops.clone();
    registry.add_activity(ops_batch::SELECT, move |_ctx: ActivityContext, input| {
        let ops = selecting.clone();
        async move {
            let spec: BatchSpec = parse(input)?;
            let ids = ops.batch_select(&spec).await.map_err(failed)?;
            Ok(Some(serde_json::to_string(&ids)?))
        }
    });
    registry.add_activity(ops_batch::APPLY, move |ctx: ActivityContext, input| {
        let ops = ops.clone();
        async move {
            let input: ApplyInput = parse(input)?;
            let step = ops.batch_apply(&input.spec, &input.ids, ctx.orchestration_id()).await.map_err(failed)?;
            Ok(Some(serde_json::to_string(&step)?))
        }
    });
}
