//! The `TaskApi` over HTTP: the task API reached through Dapr service invocation
//! (`{DAPR_HTTP_ENDPOINT}/v1.0/invoke/{app-id}/method/api/v1/...`), authenticated as
//! the workflow acting for its user with a short-lived service token.

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use errand_domain::event::Actor;
use errand_domain::{NewTask, TaskApi, TaskApiError, TaskApiFuture, TaskView, WorkflowEvent};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// Mints the short-lived credential a workflow presents when acting for a user.
pub trait ServiceTokens: Send + Sync {
    /// A token for `user_id`, acting as `actor`.
    fn mint(&self, user_id: &str, actor: &Actor) -> Result<String, String>;
}

/// `TaskApi` through Dapr service invocation; cheap to clone.
#[derive(Clone)]
pub struct HttpTaskApi {
    client: reqwest::Client,
    /// `{dapr}/v1.0/invoke/{app-id}/method`
    base: String,
    tokens: Arc<dyn ServiceTokens>,
}

impl HttpTaskApi {
    /// Calls the app `app_id` through daprd at `dapr_http_endpoint`.
    pub fn new(dapr_http_endpoint: &str, app_id: &str, tokens: Arc<dyn ServiceTokens>) -> HttpTaskApi {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        let base = format!("{}/v1.0/invoke/{app_id}/method", dapr_http_endpoint.trim_end_matches('/'));
        HttpTaskApi { client, base, tokens }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        user_id: &str,
        actor: &Actor,
    ) -> Result<RequestBuilder, TaskApiError> {
        let token = self.tokens.mint(user_id, actor).map_err(TaskApiError::Refused)?;
        Ok(self.client.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(token))
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, TaskApiError> {
        // The API continues the activity's trace.
        let traced = errand_telemetry::headers().into_iter().fold(request, |r, (name, value)| r.header(name, value));
        traced.send().await.map_err(|e| TaskApiError::Unavailable(e.to_string()))
    }
}

/// Maps a response: 2xx is success; 404 is `Ok(None)`; 429 and 5xx may pass; the rest is final.
async fn decode<T: DeserializeOwned>(response: Response) -> Result<Option<T>, TaskApiError> {
    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let text = response.text().await.map_err(|e| TaskApiError::Unavailable(e.to_string()))?;
    if status.is_success() {
        let text = if text.is_empty() { "null" } else { &text };
        return serde_json::from_str(text)
            .map(Some)
            .map_err(|e| TaskApiError::Refused(format!("unexpected response: {e}")));
    }
    let message = format!("{status}: {text}");
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(TaskApiError::Unavailable(message))
    } else {
        Err(TaskApiError::Refused(message))
    }
}

fn required<T>(value: Option<T>, what: &str) -> Result<T, TaskApiError> {
    value.ok_or_else(|| TaskApiError::Refused(format!("{what} not found")))
}

impl TaskApi for HttpTaskApi {
    fn task<'a>(&'a self, user_id: &'a str, actor: &'a Actor, task_id: &'a str) -> TaskApiFuture<'a, Option<TaskView>> {
        Box::pin(async move {
            let response = self.send(self.request(Method::GET, &format!("/tasks/{task_id}"), user_id, actor)?).await?;
            decode(response).await
        })
    }

    fn create_task<'a>(
        &'a self,
        user_id: &'a str,
        actor: &'a Actor,
        input: &'a NewTask,
        idempotency_key: &'a str,
    ) -> TaskApiFuture<'a, TaskView> {
        Box::pin(async move {
            let request = self.request(Method::POST, "/tasks", user_id, actor)?;
            let response = self.send(request.header("Idempotency-Key", idempotency_key).json(input)).await?;
            required(decode(response).await?, "the user")
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
        Box::pin(async move {
            let request = self.request(Method::PATCH, &format!("/tasks/{task_id}"), user_id, actor)?;
            decode(self.send(request.json(&json!({ "due_at": due_at, "all_day": all_day }))).await?).await
        })
    }

    fn delete_task<'a>(&'a self, user_id: &'a str, actor: &'a Actor, task_id: &'a str) -> TaskApiFuture<'a, bool> {
        Box::pin(async move {
            let request = self.request(Method::DELETE, &format!("/tasks/{task_id}"), user_id, actor)?;
            Ok(decode::<Value>(self.send(request).await?).await?.is_some())
        })
    }

    fn done_task_ids<'a>(&'a self, user_id: &'a str, actor: &'a Actor) -> TaskApiFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut path = "/tasks?status=done&limit=200&sort=created".to_string();
                if let Some(cursor) = &cursor {
                    path.push_str(&format!("&cursor={cursor}"));
                }
                let page: Value = required(
                    decode(self.send(self.request(Method::GET, &path, user_id, actor)?).await?).await?,
                    "the list",
                )?;
                ids.extend(
                    page["items"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_str().map(String::from)),
                );
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_string()),
                    None => return Ok(ids),
                }
            }
        })
    }

    fn timezone<'a>(&'a self, user_id: &'a str, actor: &'a Actor) -> TaskApiFuture<'a, Tz> {
        Box::pin(async move {
            let me: Value = required(
                decode(self.send(self.request(Method::GET, "/auth/me", user_id, actor)?).await?).await?,
                "the user",
            )?;
            let name = me["user"]["timezone"].as_str().or(me["timezone"].as_str()).unwrap_or("UTC");
            name.parse().map_err(|_| TaskApiError::Refused(format!("unknown timezone {name:?}")))
        })
    }

    fn publish<'a>(&'a self, user_id: &'a str, actor: &'a Actor, event: &'a WorkflowEvent) -> TaskApiFuture<'a, ()> {
        Box::pin(async move {
            let request = self.request(Method::POST, "/internal/events", user_id, actor)?.json(event);
            required(decode::<Value>(self.send(request).await?).await?, "the event endpoint").map(|_| ())
        })
    }

    fn settle_confirmation<'a>(
        &'a self,
        user_id: &'a str,
        actor: &'a Actor,
        confirmation_id: &'a str,
        status: &'a str,
        result: &'a Value,
    ) -> TaskApiFuture<'a, ()> {
        Box::pin(async move {
            let path = format!("/internal/confirmations/{confirmation_id}");
            let request =
                self.request(Method::POST, &path, user_id, actor)?.json(&json!({ "status": status, "result": result }));
            required(decode::<Value>(self.send(request).await?).await?, "the confirmation").map(|_| ())
        })
    }
}
