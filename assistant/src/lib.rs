//! Errand's chat assistant. It manages a user's tasks through tools ([`tools`]: the
//! thirteen of DESIGN §3, bulk actions and questions) that a [`ToolHost`] runs as that user (the API's task service; ownership
//! and confirmation of destructive actions are enforced there, not here). Without an
//! LLM it understands English itself ([`offline`]); with one (any OpenAI-compatible
//! API, through async-openai) it runs a bounded tool-calling loop and falls back to
//! the offline assistant when the model is unreachable.
//!
//! Public surface: [`Assistant`], [`LlmConfig`], [`ToolHost`], [`ToolResult`],
//! [`TaskRef`], [`Memory`], [`Reply`], [`Action`], [`offline::Clock`], [`tools`].

mod guard;
mod llm;
pub mod offline;
pub mod tools;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

pub use llm::LlmConfig;
use offline::{interpret, pick, Clock, Intent, Target};
use tools::Tool;

/// A boxed future of a host call.
pub type HostFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task as the assistant refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    /// Task id.
    pub id: String,
    /// Its title.
    pub title: String,
}

/// What a tool did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolResult {
    /// False when the tool refused (not found, invalid input).
    pub ok: bool,
    /// One friendly sentence.
    pub summary: String,
    /// The structured result.
    pub data: Value,
    /// Tasks it concerned, most relevant first ("it" refers to the first).
    pub tasks: Vec<TaskRef>,
    /// A confirmation it started (for destructive tools).
    pub confirmation: Option<Value>,
}

/// Runs tools as one user.
pub trait ToolHost: Send + Sync {
    /// Runs a validated tool.
    fn run<'a>(&'a self, tool: &'a Tool) -> HostFuture<'a, ToolResult>;
    /// The user's tasks best matching `words` (at most five): open ones, or done ones
    /// when `done`.
    fn find<'a>(&'a self, words: &'a str, done: bool) -> HostFuture<'a, Vec<TaskRef>>;
}

/// One tool invocation, as the chat API reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// Tool name.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
    /// What it returned.
    pub result: Value,
    /// The tasks it touched or found, most relevant first (for links in a UI).
    pub tasks: Vec<TaskRef>,
}

/// A question waiting for the user to say which task they meant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    intent: Intent,
    candidates: Vec<TaskRef>,
}

/// One exchange of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// What the user said.
    pub user: String,
    /// What the assistant answered.
    pub assistant: String,
}

/// What a conversation remembers: recent exchanges, a summary of older ones, the task
/// last mentioned, the last list shown, what the last completion touched, and a pending
/// question.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    /// The most recent exchanges, oldest first.
    pub recent: Vec<Exchange>,
    /// Older exchanges, condensed.
    pub summary: String,
    /// What "it" refers to.
    pub last_task: Option<TaskRef>,
    /// Which-one question awaiting an answer.
    pub pending: Option<Pending>,
    /// The tasks of the last list shown ("the second one").
    pub last_list: Vec<TaskRef>,
    /// The tasks the last completion closed ("undo").
    pub last_completed: Vec<TaskRef>,
}

/// Exchanges kept word for word.
const RECENT: usize = 12;
/// Longest summary kept.
const SUMMARY_CHARS: usize = 2000;

impl Memory {
    fn remember(&mut self, user: &str, assistant: &str) {
        self.recent.push(Exchange { user: user.to_string(), assistant: assistant.to_string() });
        while self.recent.len() > RECENT {
            let old = self.recent.remove(0);
            let gist: String =
                old.assistant.split_terminator(['.', '!', '?']).next().unwrap_or("").chars().take(120).collect();
            self.summary.push_str(&format!(
                " User: {} Errand: {}.",
                old.user.chars().take(120).collect::<String>(),
                gist
            ));
            if self.summary.len() > SUMMARY_CHARS {
                let cut = self.summary.len() - SUMMARY_CHARS;
                let cut = (cut..self.summary.len()).find(|i| self.summary.is_char_boundary(*i)).unwrap_or(0);
                self.summary = self.summary[cut..].to_string();
            }
        }
    }
}

/// The assistant's answer to one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// What it says.
    pub text: String,
    /// The tools it ran.
    pub actions: Vec<Action>,
    /// Confirmations it started, waiting for the user.
    pub confirmations: Vec<Value>,
}

/// The assistant: offline, or with an LLM.
pub struct Assistant {
    llm: Option<llm::Llm>,
}

impl Assistant {
    /// The offline assistant, or the LLM one when `llm` is given.
    pub fn new(llm: Option<LlmConfig>) -> Assistant {
        Assistant { llm: llm.map(llm::Llm::new) }
    }

    /// True when an LLM is configured.
    pub fn uses_llm(&self) -> bool {
        self.llm.is_some()
    }

    /// Answers `message`, running tools through `host`; `on_action` sees each action as
    /// it happens (for streaming).
    pub async fn respond(
        &self,
        host: &dyn ToolHost,
        memory: &mut Memory,
        clock: Clock,
        message: &str,
        on_action: &mut (dyn FnMut(&Action) + Send),
    ) -> Reply {
        let reply = match &self.llm {
            Some(llm) => match llm.respond(host, memory, clock, message, on_action).await {
                Ok(reply) => reply,
                Err(e) => {
                    tracing::warn!(error = %e, "the language model failed; answering offline");
                    let mut reply = offline_reply(host, memory, clock, message, on_action).await;
                    reply.text = format!(
                        "{} (The AI model is unavailable right now, so I answered with the built-in assistant.)",
                        reply.text
                    );
                    reply
                }
            },
            None => offline_reply(host, memory, clock, message, on_action).await,
        };
        memory.remember(message, &reply.text);
        reply
    }
}

/// Runs a validated call and records it.
pub(crate) async fn execute(
    host: &dyn ToolHost,
    memory: &mut Memory,
    tool: &Tool,
    reply: &mut Reply,
    on_action: &mut (dyn FnMut(&Action) + Send),
) -> ToolResult {
    let span = tracing::info_span!(
        "chat tool",
        otel.name = format!("chat tool {}", tool.name()),
        tool = tool.name(),
        outcome = tracing::field::Empty,
    );
    let result = host.run(tool).instrument(span.clone()).await;
    let outcome = match (&result.confirmation, result.ok) {
        (Some(_), _) => "confirmation",
        (None, true) => "ok",
        (None, false) => "error",
    };
    span.record("outcome", outcome);
    metrics::counter!("errand_assistant_tool_calls_total", "tool" => tool.name(), "outcome" => outcome).increment(1);
    let action = Action {
        tool: tool.name().to_string(),
        arguments: tool.arguments(),
        result: serde_json::json!({ "ok": result.ok, "summary": result.summary, "data": result.data }),
        tasks: result.tasks.clone(),
    };
    on_action(&action);
    reply.actions.push(action);
    if result.ok {
        let lists = matches!(
            tool,
            Tool::ListTasks(_)
                | Tool::SearchTasks(_)
                | Tool::FilterTasks(_)
                | Tool::SortTasks(_)
                | Tool::Agenda(_)
                | Tool::CompletedTasks(_)
        );
        if lists {
            memory.last_list = result.tasks.clone();
        }
        if matches!(tool, Tool::CompleteTask(_) | Tool::CompleteTasks(_)) {
            memory.last_completed = result.tasks.clone();
        }
        // "it" is one task: not one of many just touched, nor the first of a list.
        if result.tasks.len() == 1 || (!lists && !matches!(tool, Tool::CompleteTasks(_) | Tool::DeleteTasks(_))) {
            if let Some(first) = result.tasks.first() {
                memory.last_task = Some(first.clone());
            }
        }
    }
    if let Some(confirmation) = &result.confirmation {
        reply.confirmations.push(confirmation.clone());
    }
    result
}

async fn offline_reply(
    host: &dyn ToolHost,
    memory: &mut Memory,
    clock: Clock,
    message: &str,
    on_action: &mut (dyn FnMut(&Action) + Send),
) -> Reply {
    let mut reply = Reply::default();
    let mut said = Vec::new();
    // An answer to "which one do you mean?"
    if let Some(pending) = memory.pending.take() {
        let titles: Vec<String> = pending.candidates.iter().map(|c| c.title.clone()).collect();
        if let Some(i) = pick(message, &titles) {
            let chosen = pending.candidates[i].clone();
            let step = run_intent(host, memory, pending.intent, Some(chosen), &mut reply, on_action).await;
            reply.text = step.said;
            return reply;
        }
    }
    // When a step fails, the steps about "it" after it cannot be about the right task.
    let mut failed: Option<String> = None;
    for intent in interpret(message, clock) {
        let step = match intent {
            Intent::Say(text) => Step { said: text, ok: true },
            Intent::Undo => undo(host, memory, &mut reply, on_action).await,
            Intent::Run { ref target, .. } => match (target.clone(), &failed) {
                (Some(Target::It), Some(what)) => {
                    Step { said: format!("So I didn't do the next part either: it was about {what}."), ok: false }
                }
                (None, _) => run_intent(host, memory, intent, None, &mut reply, on_action).await,
                (Some(Target::It), None) => match memory.last_task.clone() {
                    Some(task) => run_intent(host, memory, intent, Some(task), &mut reply, on_action).await,
                    None => Step { said: "Which task do you mean? Tell me its name.".into(), ok: false },
                },
                (Some(Target::Ordinal(i)), _) => match memory.last_list.get(i).cloned() {
                    Some(task) => run_intent(host, memory, intent, Some(task), &mut reply, on_action).await,
                    None => Step { said: "Which task do you mean? I haven't shown you that many.".into(), ok: false },
                },
                (Some(Target::Named(words)), _) => {
                    resolve(host, memory, intent, &words, false, &mut reply, on_action).await
                }
                (Some(Target::Done(words)), _) => {
                    resolve(host, memory, intent, &words, true, &mut reply, on_action).await
                }
            },
        };
        if !step.ok && failed.is_none() {
            failed = Some(match reply.actions.last() {
                Some(action) if action.tool == "add_task" => "the task that wasn't created".to_string(),
                _ => "a task I couldn't act on".to_string(),
            });
        }
        said.push(step.said);
    }
    reply.text = said.join(" ");
    reply
}

/// What one step said, and whether it did what was asked.
struct Step {
    said: String,
    ok: bool,
}

/// Finds the task `words` names, or asks which one when several match.
async fn resolve(
    host: &dyn ToolHost,
    memory: &mut Memory,
    intent: Intent,
    words: &str,
    done: bool,
    reply: &mut Reply,
    on_action: &mut (dyn FnMut(&Action) + Send),
) -> Step {
    if words.trim().is_empty() {
        return Step { said: "Which task do you mean? Tell me its name.".into(), ok: false };
    }
    let found = lookup(host, words, done).await;
    // "complete buy milk and pay rent": one request about two tasks.
    if found.is_empty() {
        let parts: Vec<&str> =
            words.split(" and ").flat_map(|p| p.split(", ")).map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.len() > 1 {
            let mut tasks = Vec::new();
            for part in &parts {
                match lookup(host, part, done).await.as_slice() {
                    [one] => tasks.push(one.clone()),
                    many => match many.iter().find(|t| t.title.eq_ignore_ascii_case(part)) {
                        Some(exact) => tasks.push(exact.clone()),
                        None => {
                            tasks.clear();
                            break;
                        }
                    },
                }
            }
            if !tasks.is_empty() {
                let mut said = Vec::new();
                let mut ok = true;
                for task in tasks {
                    let step = run_intent(host, memory, intent.clone(), Some(task), reply, on_action).await;
                    ok &= step.ok;
                    said.push(step.said);
                }
                return Step { said: said.join(" "), ok };
            }
        }
    }
    let exact = found.iter().find(|t| t.title.eq_ignore_ascii_case(words)).cloned();
    match (exact, found.len()) {
        (Some(task), _) => run_intent(host, memory, intent, Some(task), reply, on_action).await,
        (None, 0) if done => Step { said: format!("I couldn't find a done task matching \"{words}\"."), ok: false },
        (None, 0) => Step { said: format!("I couldn't find a task matching \"{words}\"."), ok: false },
        (None, 1) => run_intent(host, memory, intent, found.into_iter().next(), reply, on_action).await,
        (None, _) => {
            let names: Vec<String> = found.iter().map(|t| format!("\"{}\"", t.title)).collect();
            let question = format!("Which one do you mean: {}?", or_list(&names));
            memory.pending = Some(Pending { intent, candidates: found });
            Step { said: question, ok: false }
        }
    }
}

/// The tasks `words` names, trying what people add to a title: an inflection
/// ("watering the plants" is "water the plants") and a verb of doing ("do the expense
/// report").
async fn lookup(host: &dyn ToolHost, words: &str, done: bool) -> Vec<TaskRef> {
    let found = host.find(words, done).await;
    if !found.is_empty() {
        return found;
    }
    let lower = words.to_lowercase();
    let stemmed: Vec<String> = lower.split_whitespace().map(offline::stem).collect();
    if stemmed.join(" ") != lower {
        let found = host.find(&stemmed.join(" "), done).await;
        if !found.is_empty() {
            return found;
        }
    }
    let doing = [
        "do",
        "doing",
        "finish",
        "finishing",
        "complete",
        "completing",
        "submit",
        "submitting",
        "get",
        "handle",
        "start",
        "starting",
        "work on",
        "working on",
    ];
    match doing.iter().find_map(|verb| lower.strip_prefix(verb).and_then(|rest| rest.strip_prefix(' '))) {
        Some(rest) if !rest.trim().is_empty() => host.find(rest, done).await,
        _ => Vec::new(),
    }
}

/// Reopens what the last completion closed.
async fn undo(
    host: &dyn ToolHost,
    memory: &mut Memory,
    reply: &mut Reply,
    on_action: &mut (dyn FnMut(&Action) + Send),
) -> Step {
    let tasks = std::mem::take(&mut memory.last_completed);
    if tasks.is_empty() {
        return Step { said: "There's nothing for me to undo.".into(), ok: false };
    }
    let tool = Tool::ReopenTasks(tools::TaskIds { task_ids: tasks.iter().map(|t| t.id.clone()).collect() });
    let result = execute(host, memory, &tool, reply, on_action).await;
    Step { said: result.summary, ok: result.ok }
}

/// "a", "a or b", "a, b or c".
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

async fn run_intent(
    host: &dyn ToolHost,
    memory: &mut Memory,
    intent: Intent,
    task: Option<TaskRef>,
    reply: &mut Reply,
    on_action: &mut (dyn FnMut(&Action) + Send),
) -> Step {
    let Intent::Run { tool, mut arguments, .. } = intent else { return Step { said: String::new(), ok: true } };
    if let Some(task) = &task {
        if tool == "reopen_tasks" {
            arguments.insert("task_ids".into(), serde_json::json!([task.id]));
        } else {
            arguments.insert("task_id".into(), Value::String(task.id.clone()));
        }
    }
    match tools::parse(&tool, &Value::Object(arguments)) {
        Err(e) => Step { said: format!("I couldn't do that: {e}."), ok: false },
        Ok(call) => {
            let result = execute(host, memory, &call, reply, on_action).await;
            Step { said: result.summary, ok: result.ok }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_keeps_recent_turns_and_a_bounded_summary() {
        let mut memory = Memory::default();
        for i in 0..400 {
            memory.remember(&format!("message {i} {}", "words ".repeat(30)), &format!("Answer {i}. More detail."));
        }
        assert_eq!(memory.recent.len(), RECENT);
        assert_eq!(memory.recent.last().unwrap().assistant, "Answer 399. More detail.");
        assert!(memory.summary.len() <= SUMMARY_CHARS);
        assert!(memory.summary.contains("Answer 387"), "the newest folded turn is in the summary");
        assert!(!memory.summary.contains("More detail"), "the summary keeps each answer's first sentence");
    }
}
