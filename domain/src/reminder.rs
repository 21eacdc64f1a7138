use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{due::local_to_utc, parse_due, Invalid};

/// Longest lead time of a relative reminder: one year.
const MAX_BEFORE_DUE_MINUTES: i64 = 525_600;

/// A reminder of a task: at a fixed instant, or a number of minutes before the due
/// date, in which case `at` follows the due date whenever it moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reminder {
    /// Stable id, kept across edits that resend it.
    pub id: String,
    /// Minutes before the due date, for a relative reminder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_due_minutes: Option<i64>,
    /// When the reminder fires.
    pub at: DateTime<Utc>,
}

/// A reminder as a client sends it: exactly one of `at` and `before_due_minutes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderInput {
    /// The id of an existing reminder to keep; omitted for a new one.
    #[serde(default)]
    pub id: Option<String>,
    /// RFC 3339 or natural language ("tomorrow 9am"); a day alone means 09:00 that day.
    #[serde(default)]
    pub at: Option<String>,
    /// Minutes before the task's due date (0 to 525600).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 525600)]
    pub before_due_minutes: Option<i64>,
}

impl Reminder {
    /// Resolves client input against the task's due date and its current reminders.
    pub fn resolve_all(
        inputs: &[ReminderInput],
        due: Option<DateTime<Utc>>,
        existing: &[Reminder],
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reminder>, Invalid> {
        if inputs.len() > crate::MAX_REMINDERS {
            return Err(Invalid::new("reminders", format!("at most {} reminders are allowed", crate::MAX_REMINDERS)));
        }
        let mut out: Vec<Reminder> = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let reminder =
                Self::resolve(input, due, existing, tz, now).map_err(|e| e.within(&format!("reminders[{i}]")))?;
            if out.iter().any(|r| r.id == reminder.id) {
                return Err(Invalid::new(format!("reminders[{i}].id"), "appears twice"));
            }
            out.push(reminder);
        }
        Ok(out)
    }

    fn resolve(
        input: &ReminderInput,
        due: Option<DateTime<Utc>>,
        existing: &[Reminder],
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Reminder, Invalid> {
        let id = match &input.id {
            None => crate::new_id(),
            Some(id) if existing.iter().any(|r| &r.id == id) => id.clone(),
            Some(_) => return Err(Invalid::new("id", "is not a reminder of this task")),
        };
        match (&input.at, input.before_due_minutes) {
            (Some(text), None) => {
                let parsed = parse_due(text, tz, now).map_err(|m| Invalid::new("at", m))?;
                let at = if parsed.all_day {
                    let day = parsed.at.with_timezone(&tz).date_naive();
                    local_to_utc(tz, day.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN)))
                } else {
                    parsed.at
                };
                Ok(Reminder { id, before_due_minutes: None, at })
            }
            (None, Some(minutes)) => {
                if !(0..=MAX_BEFORE_DUE_MINUTES).contains(&minutes) {
                    return Err(Invalid::new(
                        "before_due_minutes",
                        format!("must be between 0 and {MAX_BEFORE_DUE_MINUTES}"),
                    ));
                }
                let due = due.ok_or_else(|| Invalid::new("before_due_minutes", "needs the task to have a due date"))?;
                Ok(Reminder { id, before_due_minutes: Some(minutes), at: due - Duration::minutes(minutes) })
            }
            _ => Err(Invalid::new("", "give exactly one of at and before_due_minutes")),
        }
    }

    /// Moves relative reminders along with a new due date. Fails when the due date is
    /// cleared while relative reminders remain, rather than silently dropping them.
    pub fn follow_due(reminders: &mut [Reminder], due: Option<DateTime<Utc>>) -> Result<(), Invalid> {
        for (i, reminder) in reminders.iter_mut().enumerate() {
            if let Some(minutes) = reminder.before_due_minutes {
                let due = due.ok_or_else(|| {
                    Invalid::new(
                        format!("reminders[{i}]"),
                        "is relative to the due date; remove it before clearing the due date",
                    )
                })?;
                reminder.at = due - Duration::minutes(minutes);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn due() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 17, 0, 0).unwrap()
    }

    fn input(at: Option<&str>, minutes: Option<i64>) -> ReminderInput {
        ReminderInput { id: None, at: at.map(String::from), before_due_minutes: minutes }
    }

    #[test]
    fn relative_reminders_follow_the_due_date() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        let mut rs = Reminder::resolve_all(&[input(None, Some(30))], Some(due()), &[], Tz::UTC, now).unwrap();
        assert_eq!(rs[0].at, due() - Duration::minutes(30));
        let later = due() + Duration::days(2);
        Reminder::follow_due(&mut rs, Some(later)).unwrap();
        assert_eq!(rs[0].at, later - Duration::minutes(30));
        assert_eq!(Reminder::follow_due(&mut rs, None).unwrap_err().field, "reminders[0]");
    }

    #[test]
    fn validation_names_the_field() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        let cases = [
            (vec![input(None, Some(10))], None, "reminders[0].before_due_minutes"),
            (vec![input(None, None)], Some(due()), "reminders[0]"),
            (vec![input(Some("tomorrow"), Some(5))], Some(due()), "reminders[0]"),
            (vec![input(None, Some(-1))], Some(due()), "reminders[0].before_due_minutes"),
            (vec![input(Some("tomorrow 9am"), None), input(Some("blah"), None)], None, "reminders[1].at"),
            (vec![input(None, Some(1)); 11], Some(due()), "reminders"),
        ];
        for (inputs, due, field) in cases {
            let err = Reminder::resolve_all(&inputs, due, &[], Tz::UTC, now).unwrap_err();
            assert_eq!(err.field, field);
        }
        let unknown = ReminderInput { id: Some("nope".into()), ..input(None, Some(1)) };
        let err = Reminder::resolve_all(&[unknown], Some(due()), &[], Tz::UTC, now).unwrap_err();
        assert_eq!(err.field, "reminders[0].id");
    }

    #[test]
    fn ids_are_kept_when_resent_and_a_bare_day_means_nine() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        let first = Reminder::resolve_all(&[input(Some("2026-11-28"), None)], None, &[], Tz::UTC, now).unwrap();
        assert_eq!(first[0].at, Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap());
        let again = ReminderInput { id: Some(first[0].id.clone()), ..input(Some("2026-11-29 10:00"), None) };
        let second = Reminder::resolve_all(&[again], None, &first, Tz::UTC, now).unwrap();
        assert_eq!(second[0].id, first[0].id);
    }
}
