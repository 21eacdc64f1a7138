//! The in-process `TaskApi` (embedded runtime): workflow activities call the same task
//! service as the HTTP API, acting for the task's owner as their workflow.

use std::future::Future;

use errand_domain::event::{topics, Actor, OutboundEvent};
use errand_domain::{NewTask, TaskApi, TaskApiError, TaskApiFuture, TaskPatch, TaskView, WorkflowEvent};
use errand_store::{Store, UserRecord};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::tasks::{now, TaskService};

/// `TaskApi` over the task service and store of this process; cheap to clone.
#[derive(Clone)]
pub struct LocalTaskApi {
    tasks: TaskService,
    store: Store,
}

impl LocalTaskApi {
    /// Activities' access to `tasks` and `store`.
    pub fn new(tasks: TaskService, store: Store) -> LocalTaskApi {
        LocalTaskApi { tasks, store }
    }

    async fn user(&self, user_id: &str) -> Result<UserRecord, TaskApiError> {
        self.store
            .user_by_id(user_id)
            .await
            .map_err(|e| TaskApiError::Unavailable(e.to_string()))?
            .ok_or_else(|| TaskApiError::Refused(format!("no user {user_id}")))
    }
}

/// How a task-service failure looks to an activity: a store outage may pass, the rest is final.
fn api_error(e: ApiError) -> TaskApiError {
    match e {
        ApiError::Unavailable(message) | ApiError::Internal(message) => TaskApiError::Unavailable(message),
        other => TaskApiError::Refused(other.to_string()),
    }
}

fn boxed<'a, T>(future: impl Future<Output = Result<T, TaskApiError>> + Send + 'a) -> TaskApiFuture<'a, T> {
    Box::pin(future)
}

/// The topic constant named by `name`; events go only to the topics of DESIGN §4.
pub fn known_topic(name: &str) -> Option<&'static str> {
    [topics::REMINDER, topics::RECURRING, topics::AI, topics::NOTIFICATION].into_iter().find(|t| *t == name)
}

/// The outbox event of a workflow's publication: `user_id` and `actor` are added to
/// its data, and its id is the workflow's (so a retried publication is a duplicate).
pub fn outbound(user_id: &str, actor: &Actor, event: &WorkflowEvent) -> Result<OutboundEvent, ApiError> {
    let topic = known_topic(&event.topic).ok_or_else(|| ApiError::Unprocessable {
        code: "validation_failed",
        message: format!(
            "events go to reminder.events, recurring.events, ai.events or notification.events, not {:?}",
            event.topic
        ),
        details: serde_json::json!({ "field": "topic" }),
    })?;
    if event.id.is_empty() || event.id.len() > 300 || event.event_type.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "validation_failed",
            message: "an event needs an id (at most 300 characters) and a type".into(),
            details: serde_json::json!({ "field": "id" }),
        });
    }
    let mut data = match &event.data {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    data.insert("user_id".into(), user_id.into());
    data.insert("actor".into(), actor.as_string().into());
    let mut outbound = OutboundEvent::new(
        topic,
        &event.event_type,
        user_id,
        event.subject.as_deref(),
        serde_json::Value::Object(data),
        now(),
    );
    outbound.event.id = event.id.clone();
    Ok(outbound)
}

impl TaskApi for LocalTaskApi {
    fn task<'a>(
        &'a self,
        user_id: &'a str,
        _actor: &'a Actor,
        task_id: &'a str,
    ) -> TaskApiFuture<'a, Option<TaskView>> {
        boxed(async move {
            let user = self.user(user_id).await?;
            match self.tasks.get(&user, task_id).await {
                Ok(task) => Ok(Some(task.view(user.tz, now()))),
                Err(ApiError::NotFound(_)) => Ok(None),
                Err(e) => Err(api_error(e)),
            }
        })
    }

    fn create_task<'a>(
        &'a self,
        user_id: &'a str,
        actor: &'a Actor,
        input: &'a NewTask,
        idempotency_key: &'a str,
    ) -> TaskApiFuture<'a, TaskView> {
        boxed(async move {
            let user = self.user(user_id).await?;
            let body = serde_json::to_vec(input).map_err(|e| TaskApiError::Refused(e.to_string()))?;
            let hash: String = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
            let stored =
                self.tasks.create_idempotent(&user, input, actor, idempotency_key, &hash).await.map_err(api_error)?;
            serde_json::from_str(&stored.body).map_err(|e| TaskApiError::Refused(format!("stored response: {e}")))
        })
    }

    fn reschedule_task<'a>(
        &'a self,
        user_id: &'a str,
        actor: &'a Actor,
        task_id: &'a str,
        due_at: chrono::DateTime<chrono::Utc>,
        all_day: bool,
    ) -> TaskApiFuture<'a, Option<TaskView>> {
        boxed(async move {
            let user = self.user(user_id).await?;
            let patch = TaskPatch { due_at: Some(Some(due_at)), all_day: Some(all_day), ..Default::default() };
            match self.tasks.update(&user, task_id, &patch, None, actor).await {
                Ok(task) => Ok(Some(task.view(user.tz, now()))),
                Err(ApiError::NotFound(_)) => Ok(None),
                Err(e) => Err(api_error(e)),
            }
        })
    }

    fn delete_task<'a>(&'a self, user_id: &'a str, actor: &'a Actor, task_id: &'a str) -> TaskApiFuture<'a, bool> {
        boxed(async move {
            let user = self.user(user_id).await?;
            match self.tasks.delete(&user, task_id, None, false, actor).await {
                Ok(()) => Ok(true),
                Err(ApiError::NotFound(_)) => Ok(false),
                Err(e) => Err(api_error(e)),
            }
        })
    }

    fn done_task_ids<'a>(&'a self, user_id: &'a str, _actor: &'a Actor) -> TaskApiFuture<'a, Vec<String>> {
        boxed(
            async move { self.store.done_task_ids(user_id).await.map_err(|e| TaskApiError::Unavailable(e.to_string())) },
        )
    }

    fn timezone<'a>(&'a self, user_id: &'a str, _actor: &'a Actor) -> TaskApiFuture<'a, chrono_tz::Tz> {
        boxed(async move { Ok(self.user(user_id).await?.tz) })
    }

    fn publish<'a>(&'a self, user_id: &'a str, actor: &'a Actor, event: &'a WorkflowEvent) -> TaskApiFuture<'a, ()> {
        boxed(async move {
            let outbound = outbound(user_id, actor, event).map_err(api_error)?;
            match self.store.append_events(&[outbound]).await {
                // Published already (a retried activity): consumers have it, or will.
                Err(e) if e.is_duplicate() => Ok(()),
                other => other.map_err(|e| TaskApiError::Unavailable(e.to_string())),
            }
        })
    }

    fn settle_confirmation<'a>(
        &'a self,
        user_id: &'a str,
        _actor: &'a Actor,
        confirmation_id: &'a str,
        status: &'a str,
        result: &'a serde_json::Value,
    ) -> TaskApiFuture<'a, ()> {
        boxed(async move {
            self.store
                .settle_confirmation(user_id, confirmation_id, status, result, now())
                .await
                .map(|_| ())
                .map_err(|e| TaskApiError::Unavailable(e.to_string()))
        })
    }
}
