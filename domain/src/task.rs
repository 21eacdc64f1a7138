use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::{
    due::{start_of_day, to_millis},
    normalize_tags, parse_due, Invalid, Priority, Recurrence, RecurrenceInput, RecurrenceView, Reminder, ReminderInput,
};

/// Longest title, in characters.
pub const MAX_TITLE_LEN: usize = 500;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 20_000;
/// Most reminders a task may have.
pub const MAX_REMINDERS: usize = 10;

/// Whether a task is still to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still to do.
    Open,
    /// Completed.
    Done,
}

impl Status {
    /// The lowercase name used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Done => "done",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "open" => Some(Status::Open),
            "done" => Some(Status::Done),
            _ => None,
        }
    }
}

/// The stored task: the system of record's row, and the snapshot carried by events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Task id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Title, 1 to 500 characters, trimmed.
    pub title: String,
    /// Free text, up to 20,000 characters.
    pub description: String,
    /// Open or done.
    pub status: Status,
    /// Priority.
    pub priority: Priority,
    /// Normalised tags.
    pub tags: Vec<String>,
    /// Due instant (start of the day in the owner's timezone when `all_day`).
    pub due_at: Option<DateTime<Utc>>,
    /// The due date has no time of day.
    pub all_day: bool,
    /// Reminders, at most ten.
    pub reminders: Vec<Reminder>,
    /// How the task repeats.
    pub recurrence: Option<Recurrence>,
    /// The recurring series this task belongs to.
    pub series_id: Option<String>,
    /// When it was completed, while done.
    pub completed_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Incremented by every change; used for optimistic concurrency.
    pub version: i64,
}

/// A task as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    /// Task id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description (empty when none).
    pub description: String,
    /// `open` or `done`.
    pub status: Status,
    /// Priority.
    pub priority: Priority,
    /// Tags, lowercase.
    pub tags: Vec<String>,
    /// Due instant, RFC 3339.
    pub due_at: Option<DateTime<Utc>>,
    /// Only the day of `due_at` matters.
    pub all_day: bool,
    /// Reminders.
    pub reminders: Vec<Reminder>,
    /// Recurrence with its next occurrences.
    pub recurrence: Option<RecurrenceView>,
    /// The recurring series this task belongs to.
    pub series_id: Option<String>,
    /// Completion time, while done.
    pub completed_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Version for `If-Match` / `version`.
    pub version: i64,
}

/// The body of `POST /tasks`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// Title, 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub title: String,
    /// Description, up to 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// Priority (default `none`).
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Tags (normalised: trimmed, lowercased, de-duplicated), at most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    /// Due date as natural language ("tomorrow 5pm") or ISO 8601, in the user's timezone.
    #[serde(default)]
    pub due: Option<String>,
    /// Due instant, RFC 3339.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    /// Whether only the day matters; defaults to what `due`/`due_at` imply.
    #[serde(default)]
    pub all_day: Option<bool>,
    /// Reminders, at most ten.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub reminders: Option<Vec<ReminderInput>>,
    /// Recurrence rule.
    #[serde(default)]
    pub recurrence: Option<RecurrenceInput>,
    /// The series a recurring task belongs to; a new recurring task starts its own
    /// series (its id) when omitted. The recurring workflow sets it on each occurrence.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub series_id: Option<String>,
}

/// The body of `PATCH /tasks/{id}`: every field optional; `null` clears a clearable one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    /// New title.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// New priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Replaces all tags.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    /// New due date in words or ISO 8601; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub due: Option<Option<String>>,
    /// New due instant; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub due_at: Option<Option<DateTime<Utc>>>,
    /// Whether only the day matters.
    #[serde(default)]
    pub all_day: Option<bool>,
    /// Replaces all reminders; resend a reminder's `id` to keep it.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub reminders: Option<Vec<ReminderInput>>,
    /// New recurrence; `null` stops repeating.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RecurrenceInput>)]
    pub recurrence: Option<Option<RecurrenceInput>>,
    /// The version the client last saw; stale -> 412.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

/// Distinguishes a field set to `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// One field's value before and after a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    /// Value before.
    pub before: serde_json::Value,
    /// Value after.
    pub after: serde_json::Value,
}

/// The fields a write changed, by name.
pub type TaskChange = BTreeMap<String, FieldChange>;

impl Task {
    /// Builds a new open task owned by `user_id` from client input.
    pub fn create(id: String, user_id: String, input: &NewTask, tz: Tz, now: DateTime<Utc>) -> Result<Task, Invalid> {
        let recurrence = input
            .recurrence
            .as_ref()
            .map(|r| Recurrence::from_input(r).map_err(|e| e.within("recurrence")))
            .transpose()?;
        let (due_at, all_day) =
            resolve_due(input.due.as_deref().map(Some), input.due_at.map(Some), input.all_day, (None, false), tz, now)?;
        let (due_at, all_day) = match (&recurrence, due_at) {
            (Some(recurrence), None) => first_due(recurrence, tz, now)?,
            _ => (due_at, all_day),
        };
        let reminders = match &input.reminders {
            Some(inputs) => Reminder::resolve_all(inputs, due_at, &[], tz, now)?,
            None => Vec::new(),
        };
        let series_id = match (&input.series_id, &recurrence) {
            (Some(series), _) if series.is_empty() || series.len() > 100 => {
                return Err(Invalid::new("series_id", "must be 1 to 100 characters"))
            }
            (Some(series), _) => Some(series.clone()),
            (None, Some(_)) => Some(id.clone()),
            (None, None) => None,
        };
        Ok(Task {
            id,
            user_id,
            title: validate_title(&input.title)?,
            description: validate_description(input.description.as_deref().unwrap_or(""))?,
            status: Status::Open,
            priority: input.priority.unwrap_or_default(),
            tags: normalize_tags(input.tags.as_deref().unwrap_or(&[]))?,
            due_at,
            all_day,
            reminders,
            recurrence,
            series_id,
            completed_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }

    /// Applies a patch. Returns the new task (version + 1) and what changed, or
    /// `None` when the patch changes nothing.
    pub fn patched(
        &self,
        patch: &TaskPatch,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Option<(Task, TaskChange)>, Invalid> {
        let mut next = self.clone();
        if let Some(title) = &patch.title {
            next.title = validate_title(title)?;
        }
        if let Some(description) = &patch.description {
            next.description = validate_description(description)?;
        }
        if let Some(priority) = patch.priority {
            next.priority = priority;
        }
        if let Some(tags) = &patch.tags {
            next.tags = normalize_tags(tags)?;
        }
        if let Some(recurrence) = &patch.recurrence {
            next.recurrence = recurrence
                .as_ref()
                .map(|r| Recurrence::from_input(r).map_err(|e| e.within("recurrence")))
                .transpose()?;
        }
        let due_given = patch.due.is_some() || patch.due_at.is_some() || patch.all_day.is_some();
        if due_given {
            let (due_at, all_day) = resolve_due(
                patch.due.as_ref().map(|d| d.as_deref()),
                patch.due_at,
                patch.all_day,
                (self.due_at, self.all_day),
                tz,
                now,
            )?;
            next.due_at = due_at;
            next.all_day = all_day;
        }
        if let (Some(recurrence), None) = (&next.recurrence, next.due_at) {
            if due_given {
                let field = if patch.due_at.is_some() { "due_at" } else { "due" };
                return Err(Invalid::new(
                    field,
                    "a recurring task keeps a due date; stop the recurrence (recurrence: null) to clear it",
                ));
            }
            (next.due_at, next.all_day) = first_due(recurrence, tz, now)?;
        }
        match &patch.reminders {
            Some(inputs) => next.reminders = Reminder::resolve_all(inputs, next.due_at, &self.reminders, tz, now)?,
            None => Reminder::follow_due(&mut next.reminders, next.due_at)?,
        }
        let changes = diff(self, &next);
        if changes.is_empty() {
            return Ok(None);
        }
        next.updated_at = now;
        next.version = self.version + 1;
        Ok(Some((next, changes)))
    }

    /// Marks the task done; `None` when it already is.
    pub fn completed(&self, now: DateTime<Utc>) -> Option<(Task, TaskChange)> {
        self.with_status(Status::Done, Some(now), now)
    }

    /// Marks the task open again; `None` when it already is.
    pub fn reopened(&self, now: DateTime<Utc>) -> Option<(Task, TaskChange)> {
        self.with_status(Status::Open, None, now)
    }

    fn with_status(
        &self,
        status: Status,
        completed_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<(Task, TaskChange)> {
        if self.status == status {
            return None;
        }
        let mut next = self.clone();
        next.status = status;
        next.completed_at = completed_at;
        next.updated_at = now;
        next.version = self.version + 1;
        let changes = diff(self, &next);
        Some((next, changes))
    }

    /// The API view, with recurrence previews computed in the owner's timezone.
    pub fn view(&self, tz: Tz, now: DateTime<Utc>) -> TaskView {
        let anchor = self.due_at.unwrap_or(self.created_at);
        TaskView {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            status: self.status,
            priority: self.priority,
            tags: self.tags.clone(),
            due_at: self.due_at,
            all_day: self.all_day,
            reminders: self.reminders.clone(),
            recurrence: self.recurrence.as_ref().map(|r| r.view(anchor, now, tz)),
            series_id: self.series_id.clone(),
            completed_at: self.completed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

/// The due date of a recurring task given none (Todoist's rule): the series starts
/// today in `tz` (or on its `starts` day), at its first occurrence from then on, all
/// day unless the rule names a time of day ("every day at 9am": the next 9:00).
fn first_due(recurrence: &Recurrence, tz: Tz, now: DateTime<Utc>) -> Result<(Option<DateTime<Utc>>, bool), Invalid> {
    let today = now.with_timezone(&tz).date_naive();
    let first_day = recurrence.starts.map_or(today, |starts| starts.max(today));
    let anchor = start_of_day(tz, first_day);
    let timed = recurrence.has_time_of_day();
    let just_before = anchor - chrono::Duration::milliseconds(1);
    let after = if timed { now.max(just_before) } else { just_before };
    match recurrence.occurrences_after(anchor, after, tz, 1).first() {
        // An all-day date is its day's first instant, even where midnight falls in a
        // DST gap and the rule lands later (found by fuzzing).
        Some(first) if !timed => Ok((Some(start_of_day(tz, first.with_timezone(&tz).date_naive())), true)),
        Some(first) => Ok((Some(*first), false)),
        None => Err(Invalid::new("recurrence", "has no occurrence from today on (check until and count)")),
    }
}

/// Resolves the due fields of a request against the current `(due_at, all_day)`.
/// `due`/`due_at` are `Some(None)` when explicitly cleared.
fn resolve_due(
    due: Option<Option<&str>>,
    due_at: Option<Option<DateTime<Utc>>>,
    all_day: Option<bool>,
    current: (Option<DateTime<Utc>>, bool),
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(Option<DateTime<Utc>>, bool), Invalid> {
    let (at, implied_all_day) = match (due, due_at) {
        (Some(_), Some(_)) => return Err(Invalid::new("due", "give either due or due_at, not both")),
        (Some(Some(text)), None) => {
            let parsed = parse_due(text, tz, now).map_err(|m| Invalid::new("due", m))?;
            (Some(parsed.at), parsed.all_day)
        }
        (None, Some(Some(at))) => {
            if !(1970..=9999).contains(&at.year()) {
                return Err(Invalid::new("due_at", "must be between the years 1970 and 9999"));
            }
            (Some(to_millis(at)), false)
        }
        (Some(None), None) | (None, Some(None)) => (None, false),
        (None, None) => current,
    };
    let all_day = all_day.unwrap_or(implied_all_day);
    match at {
        None if all_day => Err(Invalid::new("all_day", "needs a due date")),
        None => Ok((None, false)),
        Some(at) if all_day => Ok((Some(start_of_day(tz, at.with_timezone(&tz).date_naive())), true)),
        Some(at) => Ok((Some(at), false)),
    }
}

fn validate_title(title: &str) -> Result<String, Invalid> {
    let title = title.trim();
    let len = title.chars().count();
    if len == 0 {
        return Err(Invalid::new("title", "must not be empty"));
    }
    if len > MAX_TITLE_LEN {
        return Err(Invalid::new("title", format!("must be at most {MAX_TITLE_LEN} characters")));
    }
    if title.chars().any(|c| c.is_control()) {
        return Err(Invalid::new("title", "must be a single line without control characters"));
    }
    Ok(title.to_string())
}

fn validate_description(description: &str) -> Result<String, Invalid> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(Invalid::new("description", format!("must be at most {MAX_DESCRIPTION_LEN} characters")));
    }
    Ok(description.to_string())
}

/// Field-by-field difference of two versions of a task (bookkeeping fields excluded).
fn diff(before: &Task, after: &Task) -> TaskChange {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return TaskChange::new();
    };
    a.into_iter()
        .filter(|(field, _)| !matches!(field.as_str(), "updated_at" | "version"))
        .filter_map(|(field, old)| {
            let new = b.get(&field).cloned().unwrap_or(serde_json::Value::Null);
            (old != new).then_some((field, FieldChange { before: old, after: new }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
    }

    fn new(title: &str) -> NewTask {
        NewTask { title: title.into(), ..Default::default() }
    }

    fn create(input: &NewTask) -> Result<Task, Invalid> {
        Task::create("t1".into(), "u1".into(), input, Tz::UTC, now())
    }

    #[test]
    fn create_validates_every_field() {
        let cases: Vec<(NewTask, &str)> = vec![
            (new("  "), "title"),
            (new(&"x".repeat(501)), "title"),
            (new("a\nb"), "title"),
            (NewTask { description: Some("d".repeat(20_001)), ..new("t") }, "description"),
            (NewTask { tags: Some(vec!["a b".into()]), ..new("t") }, "tags[0]"),
            (NewTask { due: Some("someday maybe".into()), ..new("t") }, "due"),
            (NewTask { due: Some("today".into()), due_at: Some(now()), ..new("t") }, "due"),
            (NewTask { all_day: Some(true), ..new("t") }, "all_day"),
            (
                NewTask {
                    recurrence: Some(RecurrenceInput { rule: Some("FREQ=NEVER".into()), ..Default::default() }),
                    ..new("t")
                },
                "recurrence.rule",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(create(&input).unwrap_err().field, field, "{input:?}");
        }
        assert!(create(&new(&"x".repeat(500))).is_ok());
    }

    #[test]
    fn all_day_due_dates_snap_to_the_start_of_the_day() {
        let t = create(&NewTask { due_at: Some(now()), all_day: Some(true), ..new("t") }).unwrap();
        assert_eq!(t.due_at, Some(Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()));
        let t = create(&NewTask { due: Some("tomorrow".into()), ..new("t") }).unwrap();
        assert!(t.all_day);
    }

    #[test]
    fn patch_reports_changes_and_bumps_the_version() {
        let task = create(&NewTask {
            due: Some("tomorrow 5pm".into()),
            reminders: Some(vec![ReminderInput { before_due_minutes: Some(30), ..Default::default() }]),
            ..new("t")
        })
        .unwrap();
        let later = now() + chrono::Duration::minutes(5);
        let patch = TaskPatch { title: Some("t2".into()), due: Some(Some("friday 9am".into())), ..Default::default() };
        let (next, changes) = task.patched(&patch, Tz::UTC, later).unwrap().unwrap();
        assert_eq!(next.version, 2);
        assert_eq!(next.updated_at, later);
        assert_eq!(changes.keys().collect::<Vec<_>>(), ["due_at", "reminders", "title"]);
        assert_eq!(next.reminders[0].at, next.due_at.unwrap() - chrono::Duration::minutes(30));
        // Nothing to change: no new version.
        assert!(next
            .patched(&TaskPatch { title: Some("t2".into()), ..Default::default() }, Tz::UTC, later)
            .unwrap()
            .is_none());
        // Clearing the due date while a relative reminder remains is refused.
        let clear = TaskPatch { due_at: Some(None), ..Default::default() };
        assert_eq!(next.patched(&clear, Tz::UTC, later).unwrap_err().field, "reminders[0]");
        let clear_both = TaskPatch { due_at: Some(None), reminders: Some(vec![]), ..Default::default() };
        let (cleared, _) = next.patched(&clear_both, Tz::UTC, later).unwrap().unwrap();
        assert_eq!((cleared.due_at, cleared.reminders.len()), (None, 0));
    }

    /// Todoist's rule: "water the plants every 3 days" starts today, all day; a rule
    /// with a time starts at its next time; and the date stays while it recurs.
    #[test]
    fn a_recurring_task_without_a_date_starts_today() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2026-11-26 10:00 in Berlin, a Thursday.
        let local = |d, h, m| berlin.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap().with_timezone(&Utc);
        let recurring = |text: &str| NewTask {
            recurrence: Some(RecurrenceInput { text: Some(text.into()), ..Default::default() }),
            ..new("water the plants")
        };
        let create = |text: &str| Task::create("t".into(), "u".into(), &recurring(text), berlin, now()).unwrap();
        let table = [
            ("every 3 days", local(26, 0, 0), true),
            ("every monday", local(30, 0, 0), true),
            ("every day at 9am", local(27, 9, 0), false),
            ("every day at 17:30", local(26, 17, 30), false),
            ("every 12 hours", local(26, 12, 0), false),
            ("every day starting 2026-12-03", berlin.with_ymd_and_hms(2026, 12, 3, 0, 0, 0).unwrap().to_utc(), true),
        ];
        for (text, due, all_day) in table {
            let task = create(text);
            assert_eq!((task.due_at, task.all_day), (Some(due), all_day), "{text}");
        }
        // Relative reminders need that date, and get it.
        let with_reminder = NewTask {
            reminders: Some(vec![ReminderInput { before_due_minutes: Some(60), ..Default::default() }]),
            ..recurring("every day at 9am")
        };
        let task = Task::create("t".into(), "u".into(), &with_reminder, berlin, now()).unwrap();
        assert_eq!(task.reminders[0].at, local(27, 8, 0));
        // Made recurring later: dated the same way. Its date cannot be cleared while it recurs.
        let plain = Task::create("t".into(), "u".into(), &new("water the plants"), berlin, now()).unwrap();
        let patch = TaskPatch {
            recurrence: Some(Some(RecurrenceInput { text: Some("every 3 days".into()), ..Default::default() })),
            ..Default::default()
        };
        let (dated, _) = plain.patched(&patch, berlin, now()).unwrap().unwrap();
        assert_eq!((dated.due_at, dated.all_day), (Some(local(26, 0, 0)), true));
        let clear: TaskPatch = serde_json::from_str(r#"{"due": null}"#).unwrap();
        assert_eq!(dated.patched(&clear, berlin, now()).unwrap_err().field, "due");
        let stop: TaskPatch = serde_json::from_str(r#"{"due": null, "recurrence": null}"#).unwrap();
        let (stopped, _) = dated.patched(&stop, berlin, now()).unwrap().unwrap();
        assert_eq!((stopped.due_at, stopped.recurrence), (None, None));
    }

    #[test]
    fn complete_and_reopen_are_idempotent() {
        let task = create(&new("t")).unwrap();
        let (done, changes) = task.completed(now()).unwrap();
        assert_eq!((done.status, done.completed_at, done.version), (Status::Done, Some(now()), 2));
        assert!(changes.contains_key("status") && changes.contains_key("completed_at"));
        assert!(done.completed(now()).is_none());
        let (open, _) = done.reopened(now()).unwrap();
        assert_eq!((open.status, open.completed_at, open.version), (Status::Open, None, 3));
        assert!(open.reopened(now()).is_none());
    }

    #[test]
    fn patch_json_distinguishes_null_from_absent() {
        let p: TaskPatch = serde_json::from_str(r#"{"due_at":null}"#).unwrap();
        assert_eq!(p.due_at, Some(None));
        let p: TaskPatch = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(p.due_at, None);
        assert!(serde_json::from_str::<TaskPatch>(r#"{"colour":"red"}"#).is_err());
    }
}
