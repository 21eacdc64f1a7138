//! The task service: the one place where task writes happen. It applies the domain
//! rules and commits each change with its events in one transaction. The HTTP
//! routes call it; later the assistant's tools and the workflows' activities will too.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use errand_domain::event::{task_event, Actor, TaskEventKind};
use errand_domain::{NewTask, Task, TaskChange, TaskPatch};
use errand_search::{SearchError, SearchIndex, SearchPage, SearchRequest};
use serde_json::json;

use crate::error::ApiError;
use errand_store::{IdempotentResponse, InsertOutcome, Modification, Modified, Store, UserRecord};

/// Task operations on behalf of one user at a time; cheap to clone.
#[derive(Clone)]
pub struct TaskService {
    store: Store,
    search: Arc<SearchIndex>,
}

/// How long a list waits for the index to show the caller's latest write.
const READ_YOUR_WRITES_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The outcome of an idempotent create: the response to send.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: String,
    /// True when this replays an earlier request's response.
    pub replayed: bool,
}

/// The current time at the precision the store keeps.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    chrono::DurationRound::duration_trunc(now, chrono::Duration::milliseconds(1)).unwrap_or(now)
}

impl TaskService {
    /// A service over `store`, listing from `search`.
    pub fn new(store: Store, search: Arc<SearchIndex>) -> Self {
        TaskService { store, search }
    }

    /// Creates a task.
    pub async fn create(&self, user: &UserRecord, input: &NewTask, actor: &Actor) -> Result<Task, ApiError> {
        let now = now();
        let task = Task::create(errand_domain::new_id(), user.profile.id.clone(), input, user.tz, now)?;
        let events = [task_event(TaskEventKind::Created, &task, actor, None, now)];
        self.store.insert_task(&task, &events, None).await?;
        self.note(user, &task.id, Some(&task));
        Ok(task)
    }

    /// Tells the search index about a write just committed, so the user's lists show
    /// it before the index's next commit does.
    fn note(&self, user: &UserRecord, id: &str, task: Option<&Task>) {
        if let Some(position) = self.store.last_write_position(&user.profile.id) {
            self.search.note_write(&user.profile.id, id, position, task);
        }
    }

    /// Creates a task under an idempotency key: the first request with the key
    /// creates, later ones with the same body get the first response back, and one
    /// with another body is refused.
    pub async fn create_idempotent(
        &self,
        user: &UserRecord,
        input: &NewTask,
        actor: &Actor,
        key: &str,
        request_hash: &str,
    ) -> Result<StoredResponse, ApiError> {
        // Two rounds suffice: losing the race for a key means it is stored for the next look.
        for _ in 0..2 {
            let now = now();
            if let Some(stored) = self.store.idempotent_response(&user.profile.id, key, now).await? {
                if stored.request_hash != request_hash {
                    return Err(ApiError::Unprocessable {
                        code: "idempotency_key_reused",
                        message: "this Idempotency-Key was already used with a different request body".into(),
                        details: json!({ "header": "Idempotency-Key" }),
                    });
                }
                return Ok(StoredResponse { status: stored.status, body: stored.body, replayed: true });
            }
            let task = Task::create(errand_domain::new_id(), user.profile.id.clone(), input, user.tz, now)?;
            let body = serde_json::to_string(&task.view(user.tz, now))
                .map_err(|e| ApiError::Internal(format!("encoding task: {e}")))?;
            let response = IdempotentResponse { request_hash: request_hash.to_string(), status: 201, body };
            let events = [task_event(TaskEventKind::Created, &task, actor, None, now)];
            match self.store.insert_task(&task, &events, Some((key, &response))).await? {
                InsertOutcome::Inserted => {
                    self.note(user, &task.id, Some(&task));
                    return Ok(StoredResponse { status: response.status, body: response.body, replayed: false });
                }
                InsertOutcome::KeyTaken => continue,
            }
        }
        Err(ApiError::Conflict {
            code: "idempotency_conflict",
            message: "another request with this Idempotency-Key is in progress; retry".into(),
        })
    }

    /// One of the user's tasks.
    pub async fn get(&self, user: &UserRecord, id: &str) -> Result<Task, ApiError> {
        self.store.get_task(&user.profile.id, id).await?.ok_or(ApiError::NotFound("task"))
    }

    /// A page of the user's tasks from the search index, showing the user's own
    /// writes at once (noted, or waited for).
    pub async fn search(&self, user: &UserRecord, request: SearchRequest) -> Result<SearchPage, ApiError> {
        // Noted writes are merged into the list; only a relevance sort that one of
        // them belongs in (it cannot be ranked) or a write that could not be noted
        // waits for the index.
        if let Some(position) = self.store.last_write_position(&user.profile.id) {
            if !self.search.shows(&request, position) {
                let started = std::time::Instant::now();
                if !self.search.wait_for(position, READ_YOUR_WRITES_WAIT).await {
                    tracing::warn!(user_id = %user.profile.id, "search index lags; serving a list without the latest write");
                }
                metrics::histogram!("errand_search_visibility_wait_seconds").record(started.elapsed().as_secs_f64());
            }
        }
        // A page takes well under a millisecond of CPU: run it here rather than pay
        // two thread hand-offs to the blocking pool.
        self.search.search(&request).map_err(|e| match e {
            SearchError::BadCursor => {
                ApiError::bad_parameter("cursor", "cursor is malformed or belongs to another sort")
            }
            other => ApiError::Internal(other.to_string()),
        })
    }

    /// Applies a partial update. With `expected_version`, a stale version is a 412;
    /// without, the patch applies to whatever version is current.
    pub async fn update(
        &self,
        user: &UserRecord,
        id: &str,
        patch: &TaskPatch,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<Task, ApiError> {
        self.write(user, id, expected_version, actor, |task, now| {
            Ok(task.patched(patch, user.tz, now)?.map(|(next, changes)| (TaskEventKind::Updated, next, changes)))
        })
        .await
    }

    /// Marks a task done (no change when it already is).
    pub async fn complete(&self, user: &UserRecord, id: &str, actor: &Actor) -> Result<Task, ApiError> {
        self.write(user, id, None, actor, |task, now| {
            Ok(task.completed(now).map(|(next, changes)| (TaskEventKind::Completed, next, changes)))
        })
        .await
    }

    /// Reopens a done task (no change when it is open).
    pub async fn reopen(&self, user: &UserRecord, id: &str, actor: &Actor) -> Result<Task, ApiError> {
        self.write(user, id, None, actor, |task, now| {
            Ok(task.reopened(now).map(|(next, changes)| (TaskEventKind::Reopened, next, changes)))
        })
        .await
    }

    /// Deletes a task, optionally only at `expected_version`. With `series`, the task's
    /// recurring series ends with it (its event says so; the workflow trigger stops the
    /// series).
    pub async fn delete(
        &self,
        user: &UserRecord,
        id: &str,
        expected_version: Option<i64>,
        series: bool,
        actor: &Actor,
    ) -> Result<(), ApiError> {
        let now = now();
        self.store
            .modify_task(&user.profile.id, id, |task| {
                check_version(&task, expected_version)?;
                let mut event = task_event(TaskEventKind::Deleted, &task, actor, None, now);
                if series {
                    event.event.data["series"] = serde_json::Value::Bool(true);
                }
                let events = vec![event];
                Ok::<_, ApiError>(Modification::Delete { events })
            })
            .await?
            .ok_or(ApiError::NotFound("task"))?;
        self.note(user, id, None);
        Ok(())
    }

    /// Read-modify-write of one task inside one transaction. `change` returns
    /// `None` when there is nothing to do; the unchanged task is returned then.
    async fn write<F>(
        &self,
        user: &UserRecord,
        id: &str,
        expected_version: Option<i64>,
        actor: &Actor,
        change: F,
    ) -> Result<Task, ApiError>
    where
        F: FnOnce(&Task, DateTime<Utc>) -> Result<Option<(TaskEventKind, Task, TaskChange)>, ApiError>,
    {
        let now = now();
        let modified = self
            .store
            .modify_task(&user.profile.id, id, |task| {
                check_version(&task, expected_version)?;
                Ok::<_, ApiError>(match change(&task, now)? {
                    None => Modification::Unchanged,
                    Some((kind, next, changes)) => {
                        let events = vec![task_event(kind, &next, actor, Some(&changes), now)];
                        Modification::Update { task: next, events }
                    }
                })
            })
            .await?
            .ok_or(ApiError::NotFound("task"))?;
        match modified {
            Modified::Unchanged(task) => Ok(task),
            Modified::Updated(task) => {
                self.note(user, &task.id, Some(&task));
                Ok(task)
            }
            Modified::Deleted(task) => {
                self.note(user, &task.id, None);
                Ok(task)
            }
        }
    }
}

fn check_version(task: &Task, expected: Option<i64>) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != task.version => Err(ApiError::StaleVersion { expected, current: task.version }),
        _ => Ok(()),
    }
}
