//! Writes the searchable index does not show yet. A user's lists must show their
//! own writes as soon as the write returns; waiting for the index's next commit put
//! tens of milliseconds on a read whenever its user had just written. So each write
//! made through this process is noted here with its outbox position, until a commit
//! that includes it makes it searchable, and a list merges the user's noted writes
//! into what the index returns (`SearchIndex::search`).
//!
//! The searcher and the position it reflects are kept here too, under the same lock,
//! so a list sees one consistent pair: the index as of a position, and the writes
//! after it.

use std::collections::HashMap;
use std::sync::Mutex;

use errand_domain::Task;
use errand_store::OutboxPosition;
use tantivy::Searcher;

/// Writes noted at most, across all users; beyond it lists wait for the index again.
const MAX_NOTED: usize = 100_000;

/// One task's latest write not yet searchable.
#[derive(Debug, Clone)]
pub(crate) struct Noted {
    /// The outbox position of the write (or a later one of the same user).
    pub position: OutboxPosition,
    /// The task's version; a deletion counts as the last.
    pub version: i64,
    /// The task as written; `None` once deleted.
    pub task: Option<Task>,
}

/// What a list reads: the searcher, and its user's writes after the position the
/// searcher reflects.
pub(crate) struct View {
    pub searcher: Searcher,
    pub noted: Vec<(String, Noted)>,
}

struct State {
    searcher: Searcher,
    position: OutboxPosition,
    /// User id -> task id -> latest noted write.
    users: HashMap<String, HashMap<String, Noted>>,
    /// Each user's latest noted position.
    covered: HashMap<String, OutboxPosition>,
    count: usize,
}

pub(crate) struct Recent {
    state: Mutex<State>,
}

impl Recent {
    pub fn new(searcher: Searcher, position: OutboxPosition) -> Recent {
        Recent {
            state: Mutex::new(State { searcher, position, users: HashMap::new(), covered: HashMap::new(), count: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is replaced whole or pruned; a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes `user_id`'s write of task `id` at `position`: the task as written, or
    /// `None` for a deletion. False when it could not be noted (too many pending).
    pub fn note(&self, user_id: &str, id: &str, position: OutboxPosition, task: Option<&Task>) -> bool {
        let mut state = self.lock();
        if position <= state.position {
            return true; // already searchable
        }
        let version = task.map_or(i64::MAX, |t| t.version);
        let exists = state.users.get(user_id).is_some_and(|tasks| tasks.contains_key(id));
        if !exists && state.count >= MAX_NOTED {
            return false;
        }
        let tasks = state.users.entry(user_id.to_string()).or_default();
        match tasks.get_mut(id) {
            // A write that lost a race to a later version of the same task.
            Some(noted) if noted.version > version => noted.position = noted.position.max(position),
            Some(noted) => *noted = Noted { position: noted.position.max(position), version, task: task.cloned() },
            None => {
                tasks.insert(id.to_string(), Noted { position, version, task: task.cloned() });
                state.count += 1;
            }
        }
        let covered = state.covered.entry(user_id.to_string()).or_default();
        *covered = (*covered).max(position);
        true
    }

    /// Whether `user_id`'s writes up to `position` are searchable or noted.
    pub fn covers(&self, user_id: &str, position: OutboxPosition) -> bool {
        let state = self.lock();
        position <= state.position || state.covered.get(user_id).is_some_and(|c| position <= *c)
    }

    /// Whether any task of `user_id`'s writes after the searcher's position, as
    /// written (deletions are not tasks), satisfies `check`.
    pub fn any_noted(&self, user_id: &str, check: impl Fn(&Task) -> bool) -> bool {
        let state = self.lock();
        state.users.get(user_id).is_some_and(|tasks| {
            tasks.values().any(|n| n.position > state.position && n.task.as_ref().is_some_and(&check))
        })
    }

    /// The searcher now, and `user_id`'s writes after its position.
    pub fn view(&self, user_id: &str) -> View {
        let state = self.lock();
        let noted = state
            .users
            .get(user_id)
            .map(|tasks| {
                tasks
                    .iter()
                    .filter(|(_, n)| n.position > state.position)
                    .map(|(id, n)| (id.clone(), n.clone()))
                    .collect()
            })
            .unwrap_or_default();
        View { searcher: state.searcher.clone(), noted }
    }

    /// A commit made everything up to `position` searchable through `searcher`:
    /// forget the writes it includes.
    pub fn committed(&self, searcher: Searcher, position: OutboxPosition) {
        let mut state = self.lock();
        state.searcher = searcher;
        state.position = position;
        let mut removed = 0;
        state.users.retain(|_, tasks| {
            let before = tasks.len();
            tasks.retain(|_, noted| noted.position > position);
            removed += before - tasks.len();
            !tasks.is_empty()
        });
        state.count -= removed;
        state.covered.retain(|_, covered| *covered > position);
    }

    /// Writes noted now.
    pub fn len(&self) -> usize {
        self.lock().count
    }
}
