//! A scripted OpenAI-compatible chat-completions server: the test double for a hosted
//! model, which cannot run here (real HTTP, so the real client in the binary talks to it).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

type Step = Box<dyn FnMut(&Value) -> (u16, Value) + Send>;

/// A scripted chat-completions endpoint: each request gets the next step's answer.
#[derive(Clone, Default)]
pub struct Script {
    steps: Arc<Mutex<VecDeque<Step>>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Script {
    pub fn then(&self, step: impl FnMut(&Value) -> (u16, Value) + Send + 'static) -> &Self {
        self.steps.lock().unwrap().push_back(Box::new(step));
        self
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }

    pub async fn serve(&self) -> String {
        let script = self.clone();
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |axum::Json(request): axum::Json<Value>| {
                let script = script.clone();
                async move {
                    script.requests.lock().unwrap().push(request.clone());
                    let step = script.steps.lock().unwrap().pop_front();
                    let (status, body) = match step {
                        Some(mut step) => step(&request),
                        None => (500, json!({ "error": { "message": "script exhausted", "type": "server_error" } })),
                    };
                    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(body))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/v1")
    }
}

pub fn completion(message: Value) -> (u16, Value) {
    (
        200,
        json!({ "id": "c", "object": "chat.completion", "created": 0, "model": "scripted",
                   "choices": [{ "index": 0, "message": message, "finish_reason": "stop" }] }),
    )
}

pub fn says(text: &str) -> (u16, Value) {
    completion(json!({ "role": "assistant", "content": text }))
}

pub fn calls(tools: &[(&str, Value)]) -> (u16, Value) {
    let calls: Vec<Value> = tools
        .iter()
        .enumerate()
        .map(|(i, (name, args))| {
            json!({ "id": format!("call{i}"), "type": "function",
                                          "function": { "name": name, "arguments": args.to_string() } })
        })
        .collect();
    completion(json!({ "role": "assistant", "content": null, "tool_calls": calls }))
}
