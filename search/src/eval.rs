//! The reference evaluator: what a filter or search means, written plainly over a
//! task. The index must agree with it (property tests compare them).

use errand_domain::{Status, Task};

use crate::filter::{Atom, Filter};
use crate::query::SearchRequest;
use crate::text::{query_words, words};

/// Whether `task` satisfies `filter`.
pub fn matches(filter: &Filter, task: &Task) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, task) && matches(b, task),
        Filter::Or(a, b) => matches(a, task) || matches(b, task),
        Filter::Not(a) => !matches(a, task),
        Filter::Atom(atom) => atom_matches(atom, task),
    }
}

fn atom_matches(atom: &Atom, task: &Task) -> bool {
    let due = task.due_at.map(|d| d.timestamp_millis());
    let created = task.created_at.timestamp_millis();
    match atom {
        Atom::DueWithin { from, to } => due.is_some_and(|d| *from <= d && d < *to),
        Atom::Overdue { now, start_of_today } => {
            due.is_some_and(|d| if task.all_day { d < *start_of_today } else { d < *now })
        }
        Atom::NoDate => due.is_none(),
        Atom::DueBefore(t) => due.is_some_and(|d| d < *t),
        Atom::DueAfter(t) => due.is_some_and(|d| d >= *t),
        Atom::CreatedBefore(t) => created < *t,
        Atom::CreatedAfter(t) => created >= *t,
        Atom::Priority(p) => task.priority == *p,
        Atom::Tag(tag) => task.tags.iter().any(|t| t == tag),
        Atom::TagPrefix(prefix) => task.tags.iter().any(|t| t.starts_with(prefix.as_str())),
        Atom::NoTags => task.tags.is_empty(),
        Atom::Recurring => task.recurrence.is_some(),
        Atom::Status(status) => task.status == *status,
        Atom::Search(text) => text_matches(text, task),
    }
}

/// Whether every word of `text` matches the task's title, description or tags.
pub fn text_matches(text: &str, task: &Task) -> bool {
    let query = query_words(text);
    if query.is_empty() {
        return true;
    }
    let mut indexed = words(&task.title);
    indexed.extend(words(&task.description));
    for tag in &task.tags {
        indexed.extend(words(tag));
    }
    query.iter().all(|q| indexed.iter().any(|w| q.matches(w)))
}

/// Whether `task` has `status` (`None`: any).
pub fn status_matches(status: Option<Status>, task: &Task) -> bool {
    status.is_none_or(|s| task.status == s)
}

/// Whether `task` is in the result of `request`: its user's, and every condition of
/// the request holds.
pub fn request_matches(request: &SearchRequest, task: &Task) -> bool {
    let due = task.due_at;
    task.user_id == request.user_id
        && status_matches(request.status, task)
        && (request.priorities.is_empty() || request.priorities.contains(&task.priority))
        && request.tags.iter().all(|tag| task.tags.contains(tag))
        && request.due_before.is_none_or(|before| due.is_some_and(|d| d < before))
        && request.due_after.is_none_or(|after| due.is_some_and(|d| d >= after))
        && request.text.as_ref().is_none_or(|text| text_matches(text, task))
        && request.filter.as_ref().is_none_or(|filter| matches(filter, task))
}
