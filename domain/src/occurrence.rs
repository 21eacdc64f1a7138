//! The next occurrence of a recurring task, as the recurring workflow creates it.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::due::start_of_day;
use crate::recurrence::{Recurrence, RecurrenceInput};
use crate::reminder::ReminderInput;
use crate::task::{NewTask, TaskView};

/// The task that follows `task` in its series once it was completed at `completed_at`,
/// or `None` when the series is over (its `until` or `count` is reached, or it no
/// longer recurs). `created` is how many occurrences the series has had so far.
///
/// The next due date comes from the rule in the owner's timezone `tz` (so 9:00 stays
/// 9:00 across daylight-saving changes): after the current due date, or after the
/// completion if that is later, so an overdue occurrence is not followed by another
/// one in the past; with `from_completion` the schedule restarts at the completion.
pub fn next_occurrence(task: &TaskView, completed_at: DateTime<Utc>, tz: Tz, created: u32) -> Option<NewTask> {
    let view = task.recurrence.as_ref()?;
    if view.count.is_some_and(|count| created >= count) {
        return None;
    }
    let recurrence = Recurrence {
        rule: view.rule.clone(),
        text: None,
        from_completion: view.from_completion,
        until: view.until,
        count: None,
        starts: view.starts,
    };
    // An undated occurrence (stored before recurring tasks were always dated) counts
    // as due on its completion day.
    let (due, all_day) = match task.due_at {
        Some(due) => (due, task.all_day),
        None => (start_of_day(tz, completed_at.with_timezone(&tz).date_naive()), !recurrence.has_time_of_day()),
    };
    let (anchor, after) = if view.from_completion {
        // The completion day, at the due date's time of day.
        let local_due = due.with_timezone(&tz);
        let time = if all_day { NaiveTime::MIN } else { local_due.time() };
        let day = completed_at.with_timezone(&tz).date_naive();
        let anchor = tz.from_local_datetime(&day.and_time(time)).earliest()?.with_timezone(&Utc);
        (anchor, anchor)
    } else {
        (due, due.max(completed_at))
    };
    // The current slot itself is not next: look from just after it.
    let after = after + chrono::Duration::seconds(1);
    let next = *recurrence.occurrences_after(anchor, after, tz, 1).first()?;
    let reminders: Vec<ReminderInput> = task
        .reminders
        .iter()
        .filter_map(|r| r.before_due_minutes)
        .map(|minutes| ReminderInput { before_due_minutes: Some(minutes), ..Default::default() })
        .collect();
    Some(NewTask {
        title: task.title.clone(),
        description: Some(task.description.clone()).filter(|d| !d.is_empty()),
        priority: Some(task.priority),
        tags: Some(task.tags.clone()),
        due: None,
        due_at: Some(next),
        all_day: Some(all_day),
        reminders: Some(reminders),
        recurrence: Some(RecurrenceInput {
            rule: Some(view.rule.clone()),
            text: None,
            from_completion: Some(view.from_completion),
            until: view.until,
            count: view.count,
            starts: view.starts,
        }),
        series_id: task.series_id.clone().or_else(|| Some(task.id.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Task;

    fn recurring(text: &str, due: DateTime<Utc>, tz: Tz) -> TaskView {
        let input = NewTask {
            title: "water the plants".into(),
            due_at: Some(due),
            recurrence: Some(RecurrenceInput { text: Some(text.into()), ..Default::default() }),
            reminders: Some(vec![ReminderInput { before_due_minutes: Some(30), ..Default::default() }]),
            ..Default::default()
        };
        Task::create("t1".into(), "u1".into(), &input, tz, due - chrono::Duration::days(1)).unwrap().view(tz, due)
    }

    #[test]
    fn follows_the_schedule_in_the_users_timezone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let local = |m, d, h| berlin.with_ymd_and_hms(2027, m, d, h, 0, 0).unwrap().with_timezone(&Utc);
        // Monday 9:00 before the DST change; the next Monday is after it, still at 9:00.
        let task = recurring("every monday 9am", local(3, 22, 9), berlin);
        let next = next_occurrence(&task, local(3, 22, 10), berlin, 1).unwrap();
        assert_eq!(next.due_at, Some(local(3, 29, 9)));
        assert_eq!(next.series_id.as_deref(), Some("t1"));
        assert_eq!(next.reminders.unwrap()[0].before_due_minutes, Some(30));
        // Completed late: the next one is the first after the completion.
        let late = next_occurrence(&task, local(4, 7, 12), berlin, 1).unwrap();
        assert_eq!(late.due_at, Some(local(4, 12, 9)));
    }

    #[test]
    fn counts_from_completion_with_every_bang() {
        let utc = |d, h| Utc.with_ymd_and_hms(2027, 5, d, h, 0, 0).unwrap();
        let task = recurring("every! 3 days", utc(1, 8), Tz::UTC);
        let next = next_occurrence(&task, utc(10, 17), Tz::UTC, 1).unwrap();
        assert_eq!(next.due_at, Some(utc(13, 8)), "three days after the completion day, at the due time");
    }

    /// A recurring task stored without a date (before they were always dated) continues
    /// on days, not at the clock time of its completion.
    #[test]
    fn an_undated_occurrence_is_followed_by_an_all_day_one() {
        let mut task = recurring("every 3 days", Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap(), Tz::UTC);
        task.due_at = None;
        task.all_day = false;
        let completed = Utc.with_ymd_and_hms(2027, 5, 10, 7, 35, 34).unwrap();
        let next = next_occurrence(&task, completed, Tz::UTC, 1).unwrap();
        assert_eq!(next.due_at, Some(Utc.with_ymd_and_hms(2027, 5, 13, 0, 0, 0).unwrap()));
        assert_eq!(next.all_day, Some(true));
    }

    #[test]
    fn ends_at_until_and_count() {
        let utc = |d| Utc.with_ymd_and_hms(2027, 5, d, 8, 0, 0).unwrap();
        let bounded = recurring("every day until 2027-05-02", utc(1), Tz::UTC);
        assert!(next_occurrence(&bounded, utc(1), Tz::UTC, 1).is_some());
        let last = recurring("every day until 2027-05-02", utc(2), Tz::UTC);
        assert!(next_occurrence(&last, utc(2), Tz::UTC, 2).is_none());
        let counted = recurring("every day for 3 times", utc(1), Tz::UTC);
        assert!(next_occurrence(&counted, utc(1), Tz::UTC, 2).is_some());
        assert!(next_occurrence(&counted, utc(1), Tz::UTC, 3).is_none());
    }
}
