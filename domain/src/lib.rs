//! Errand's domain model. Everything here is pure: no I/O, no clocks (callers pass
//! `now`), no global state, so the same rules hold in the API, workflows and tests.
//!
//! Public surface:
//! - [`Task`], [`TaskView`], [`NewTask`], [`TaskPatch`], [`Status`], [`TaskChange`]: the
//!   task record, how it is created, patched, completed and rendered.
//! - [`Priority`], [`normalize_tags`], [`Reminder`], [`ReminderInput`], [`Recurrence`],
//!   [`RecurrenceInput`], [`parse_recurrence_text`]: the parts of a task and their validation.
//! - [`parse_due`], [`Due`]: natural-language and ISO 8601 due dates in a user's timezone.
//! - [`parse_quick_add`]: one line of text read as a task, with the spans understood.
//! - [`UserProfile`], [`Role`], [`validate_email`], [`validate_password`], [`parse_timezone`].
//! - [`event`]: CloudEvents envelopes, event types and topic names.
//! - [`TaskApi`], [`WorkflowEvent`], [`TaskApiError`]: how workflow activities reach tasks;
//!   [`next_occurrence`]: the task that follows a completed recurring one.
//! - [`Invalid`]: a field-level validation error.

pub mod event;

mod due;
mod error;
mod occurrence;
mod priority;
mod quick_add;
mod recurrence;
mod recurrence_text;
mod reminder;
mod tags;
mod task;
mod task_api;
mod user;

pub use due::{parse_due, reschedule, start_of_day, Due, MAX_DUE_CHARS};
pub use error::Invalid;
pub use occurrence::next_occurrence;
pub use priority::Priority;
pub use quick_add::{parse_quick_add, QuickAdd, Span, SpanKind, MAX_QUICK_ADD_CHARS};
pub use recurrence::{Recurrence, RecurrenceInput, RecurrenceView, MAX_RULE_CHARS};
pub use recurrence_text::{parse_recurrence_text, ParsedRecurrence, MAX_RECURRENCE_CHARS};
pub use reminder::{Reminder, ReminderInput};
pub use tags::{normalize_tags, MAX_TAGS, MAX_TAG_LEN};
pub use task::{
    FieldChange, NewTask, Status, Task, TaskChange, TaskPatch, TaskView, MAX_DESCRIPTION_LEN, MAX_REMINDERS,
    MAX_TITLE_LEN,
};
pub use task_api::{TaskApi, TaskApiError, TaskApiFuture, WorkflowEvent};
pub use user::{parse_timezone, validate_email, validate_password, Role, UserProfile};

/// A fresh time-ordered identifier (UUID v7), used for every entity id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
