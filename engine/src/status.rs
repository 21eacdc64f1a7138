//! The durabletask `OrchestrationStatus` codes the engine stores and reports.

use dapr_durabletask_proto::OrchestrationStatus;

pub(crate) const RUNNING: i32 = OrchestrationStatus::Running as i32;
pub(crate) const COMPLETED: i32 = OrchestrationStatus::Completed as i32;
pub(crate) const CONTINUED_AS_NEW: i32 = OrchestrationStatus::ContinuedAsNew as i32;
pub(crate) const TERMINATED: i32 = OrchestrationStatus::Terminated as i32;
pub(crate) const PENDING: i32 = OrchestrationStatus::Pending as i32;
pub(crate) const SUSPENDED: i32 = OrchestrationStatus::Suspended as i32;

/// Every status an instance can rest in, for per-status gauges.
pub(crate) const ALL: [i32; 8] = [
    RUNNING,
    COMPLETED,
    OrchestrationStatus::Failed as i32,
    OrchestrationStatus::Canceled as i32,
    TERMINATED,
    PENDING,
    SUSPENDED,
    OrchestrationStatus::Stalled as i32,
];

/// Finished: no more turns. Completed, failed, terminated or canceled.
pub(crate) fn is_terminal(code: i32) -> bool {
    matches!(
        OrchestrationStatus::try_from(code),
        Ok(OrchestrationStatus::Completed
            | OrchestrationStatus::Failed
            | OrchestrationStatus::Terminated
            | OrchestrationStatus::Canceled)
    )
}

/// Lowercase name for metrics and logs.
pub(crate) fn name(code: i32) -> &'static str {
    match OrchestrationStatus::try_from(code) {
        Ok(OrchestrationStatus::Running) => "running",
        Ok(OrchestrationStatus::Completed) => "completed",
        Ok(OrchestrationStatus::ContinuedAsNew) => "continued_as_new",
        Ok(OrchestrationStatus::Failed) => "failed",
        Ok(OrchestrationStatus::Canceled) => "canceled",
        Ok(OrchestrationStatus::Terminated) => "terminated",
        Ok(OrchestrationStatus::Pending) => "pending",
        Ok(OrchestrationStatus::Suspended) => "suspended",
        Ok(OrchestrationStatus::Stalled) => "stalled",
        Err(_) => "unknown",
    }
}
