use errand_domain::event::{topics, Actor};
use errand_store::{AuditEntry, Store};
use serde_json::{json, Map, Value};

use crate::{Delivery, Handler, HandlerError, HandlerFuture};

/// Records who did what to which task and when, from `todo.events`.
pub struct AuditHandler {
    store: Store,
}

impl AuditHandler {
    /// An audit consumer writing to `store`.
    pub fn new(store: Store) -> Self {
        AuditHandler { store }
    }

    async fn apply(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        self.store.record_audit(&entry_of(delivery)?).await?;
        Ok(())
    }

    async fn apply_all(&self, deliveries: &[Delivery]) -> Result<(), HandlerError> {
        let entries = deliveries.iter().map(entry_of).collect::<Result<Vec<_>, _>>()?;
        self.store.record_audits(&entries).await?;
        Ok(())
    }
}

/// The audit entry of a task event.
fn entry_of(delivery: &Delivery) -> Result<AuditEntry, HandlerError> {
    let event = &delivery.event;
    let data = &event.data;
    let user_id = delivery.user_id()?;
    let actor = data["actor"]
        .as_str()
        .and_then(Actor::parse)
        .ok_or_else(|| HandlerError::Reject(format!("event {} has no valid data.actor", event.id)))?;
    Ok(AuditEntry {
        id: errand_domain::new_id(),
        event_id: event.id.clone(),
        user_id: user_id.to_string(),
        task_id: event.subject.clone(),
        actor: actor.as_string(),
        action: event.event_type.clone(),
        changes: changes_of(&event.event_type, data),
        at: event.time,
    })
}

/// The before/after of each field: the recorded changes of an update, or the whole
/// snapshot for a creation (before = null) or a deletion (after = null).
fn changes_of(event_type: &str, data: &Value) -> Option<Value> {
    if let Some(changes) = data.get("changes").filter(|c| c.is_object()) {
        return Some(changes.clone());
    }
    let task = data.get("task")?.as_object()?;
    let creating = event_type == "task.created";
    let fields: Map<String, Value> = task
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "id" | "user_id" | "created_at" | "updated_at" | "version"))
        .map(|(name, value)| {
            let change = if creating {
                json!({ "before": null, "after": value })
            } else {
                json!({ "before": value, "after": null })
            };
            (name.clone(), change)
        })
        .collect();
    Some(Value::Object(fields))
}

impl Handler for AuditHandler {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn topics(&self) -> &'static [&'static str] {
        &[topics::TODO]
    }

    fn handle<'a>(&'a self, delivery: &'a Delivery) -> HandlerFuture<'a> {
        Box::pin(self.apply(delivery))
    }

    fn handle_batch<'a>(&'a self, deliveries: &'a [Delivery]) -> Option<HandlerFuture<'a>> {
        Some(Box::pin(self.apply_all(deliveries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_deletions_record_the_snapshot() {
        let data = json!({ "task": { "id": "t", "title": "x", "version": 1 } });
        assert_eq!(changes_of("task.created", &data), Some(json!({ "title": { "before": null, "after": "x" } })));
        assert_eq!(changes_of("task.deleted", &data), Some(json!({ "title": { "before": "x", "after": null } })));
        let update = json!({ "changes": { "title": { "before": "a", "after": "b" } }, "task": {} });
        assert_eq!(changes_of("task.updated", &update), Some(update["changes"].clone()));
        assert_eq!(changes_of("task.updated", &json!({})), None);
    }
}
