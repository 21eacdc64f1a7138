//! The index on disk: opened (or rebuilt from the database when missing, corrupt or
//! of another schema version), searched, and updated by the indexer. The outbox
//! position it reflects is stored in each commit's payload, so a restart resumes
//! exactly where the last commit left off.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64_cursor::{decode_cursor, encode_cursor};
use errand_domain::Task;
use errand_store::{OutboxPosition, Store};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::indexer::LogMergePolicy;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::watch;

use crate::collector::{Key, PageCollector, Primary};
use crate::eval;
use crate::query::{request_query, SearchRequest, Sort, SortKey};
use crate::recent::Recent;
use crate::schema::{id_parts, names, schema, Fields, SCHEMA_VERSION};
use crate::SearchError;

/// What a commit records besides the documents.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct Payload {
    schema: u32,
    tx: i64,
    seq: i64,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// Tasks in order.
    pub items: Vec<Task>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// Matches across all pages.
    pub total: usize,
}

/// Segments up to this many documents form the first merge level.
const MIN_MERGE_LAYER: u32 = 50;

/// Writer memory: small, since commits are frequent and documents small.
const WRITER_MEMORY: usize = 50_000_000;

/// The task index; cheap to share behind an `Arc`.
pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<Writer>,
    fields: Fields,
    applied: watch::Sender<OutboxPosition>,
    /// The searchable state, and writes it does not show yet.
    recent: Recent,
    /// This index's own outbox cursor (`search:<id>`): each replica keeps an index of
    /// its own, and pruning must wait for every one of them.
    cursor: String,
}

struct Writer {
    inner: IndexWriter<TantivyDocument>,
    /// Versions written since the last commit (not yet visible to searchers).
    pending: HashMap<String, i64>,
}

impl SearchIndex {
    /// Opens the index under `root` (`<data dir>/search`), rebuilding it from `store`
    /// when it is missing, unreadable or of another schema version.
    /// Also rebuilt when the outbox was pruned past it (this replica was away longer
    /// than [`errand_store::READER_STALE_AFTER`]): the events it missed are gone.
    pub async fn open(root: &Path, store: &Store) -> Result<Arc<SearchIndex>, SearchError> {
        match Self::open_current(root) {
            Ok(Some(index)) => {
                let pruned = store.outbox_pruned_up_to().await?;
                if index.applied() >= pruned {
                    return Ok(Arc::new(index));
                }
                tracing::warn!(path = %root.display(), "the outbox was pruned past the search index; rebuilding it");
            }
            Ok(None) => tracing::info!(path = %root.display(), "no search index yet; building it"),
            Err(e) => tracing::warn!(error = %e, path = %root.display(), "search index unusable; rebuilding it"),
        }
        Self::rebuild(root, store).await
    }

    fn open_current(root: &Path) -> Result<Option<SearchIndex>, SearchError> {
        let Some(dir) = current_dir(root)? else { return Ok(None) };
        let index = Index::open_in_dir(&dir)?;
        let payload = read_payload(&index)?;
        match payload {
            Some(p) if p.schema == SCHEMA_VERSION => {
                Ok(Some(Self::from_index(root, index, OutboxPosition { tx: p.tx, seq: p.seq })?))
            }
            Some(p) => Err(SearchError::Outdated(p.schema)),
            None => Err(SearchError::Outdated(0)),
        }
    }

    fn from_index(root: &Path, index: Index, position: OutboxPosition) -> Result<SearchIndex, SearchError> {
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(SearchError::Outdated(SCHEMA_VERSION));
        }
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let inner: IndexWriter<TantivyDocument> = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let mut merge = LogMergePolicy::default();
        // Updates delete the old document: merge segments before deletions pile up.
        merge.set_del_docs_ratio_before_merge(0.2);
        merge.set_min_num_segments(4);
        // Commits are frequent and small. Levels must start small too: with the
        // default (everything under 10,000 documents is one level) each merge
        // rewrites the growing small segment again, which took a fifth of the CPU
        // under a steady write load.
        merge.set_min_layer_size(MIN_MERGE_LAYER);
        inner.set_merge_policy(Box::new(merge));
        Ok(SearchIndex {
            recent: Recent::new(reader.searcher(), position),
            reader,
            writer: Mutex::new(Writer { inner, pending: HashMap::new() }),
            fields,
            applied: watch::Sender::new(position),
            cursor: format!("{}{}", crate::indexer::SEARCH_CURSORS, replica_id(root)?),
        })
    }

    /// The name of this index's outbox cursor.
    pub fn cursor(&self) -> &str {
        &self.cursor
    }

    /// Builds a fresh index of every task into a new directory, then makes it the
    /// current one; the previous directory is removed.
    pub async fn rebuild(root: &Path, store: &Store) -> Result<Arc<SearchIndex>, SearchError> {
        std::fs::create_dir_all(root)?;
        // Events after this position are applied on top; an event older than the
        // rows read below is skipped by its version.
        let head = store.outbox_head().await?;
        let dir = root.join(format!("index-{}", errand_domain::new_id()));
        std::fs::create_dir_all(&dir)?;
        let (schema, fields) = schema();
        let index = Index::create_in_dir(&dir, schema)?;
        let mut writer: IndexWriter<TantivyDocument> = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let mut after: Option<String> = None;
        let mut count = 0usize;
        loop {
            let batch = store.tasks_after(after.as_deref(), 2000).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id.clone());
            for task in &batch {
                writer.add_document(fields.document(task))?;
            }
            count += batch.len();
        }
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&serde_json::to_string(&Payload { schema: SCHEMA_VERSION, tx: head.tx, seq: head.seq })?);
        commit.commit()?;
        writer.wait_merging_threads()?;
        let previous = current_dir(root).ok().flatten();
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let temp = root.join("CURRENT.tmp");
        std::fs::write(&temp, &name)?;
        std::fs::rename(&temp, root.join("CURRENT"))?;
        if let Some(previous) = previous {
            if previous != dir {
                let _ = std::fs::remove_dir_all(previous);
            }
        }
        tracing::info!(tasks = count, path = %dir.display(), "search index built");
        let index = Index::open_in_dir(&dir)?;
        Ok(Arc::new(Self::from_index(root, index, head)?))
    }

    /// Rebuilds the index on demand (`errand reindex`). Refused while a running
    /// server holds the current index.
    pub async fn reindex(root: &Path, store: &Store) -> Result<Arc<SearchIndex>, SearchError> {
        if let Some(dir) = current_dir(root)? {
            if let Ok(index) = Index::open_in_dir(&dir) {
                match index.writer_with_num_threads::<TantivyDocument>(1, 15_000_000) {
                    Ok(writer) => drop(writer),
                    Err(tantivy::TantivyError::LockFailure(..)) => return Err(SearchError::InUse),
                    Err(e) => tracing::warn!(error = %e, "the current index is unusable; replacing it"),
                }
            }
        }
        Self::rebuild(root, store).await
    }

    /// The outbox position the searchable index reflects.
    pub fn applied(&self) -> OutboxPosition {
        *self.applied.borrow()
    }

    /// Waits until the index reflects `position`, at most `timeout`. False on timeout.
    pub async fn wait_for(&self, position: OutboxPosition, timeout: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(timeout, applied.wait_for(|p| *p >= position)).await.is_ok_and(|r| r.is_ok())
    }

    /// Notes a write of `user_id` (task `id` as written, or `None` when deleted) at
    /// outbox `position`, so that the user's lists show it before the index does.
    /// False when it could not be noted; lists then wait for the index.
    pub fn note_write(&self, user_id: &str, id: &str, position: OutboxPosition, task: Option<&Task>) -> bool {
        self.recent.note(user_id, id, position, task)
    }

    /// Whether the list for `request` shows every write of its user up to `position`
    /// without waiting: searchable, or noted. Under a relevance sort a noted task cannot
    /// be ranked, so only when none of them belongs on the list (a noted task that no
    /// longer matches only hides its stale indexed version).
    pub fn shows(&self, request: &SearchRequest, position: OutboxPosition) -> bool {
        if position <= self.applied() {
            return true;
        }
        self.recent.covers(&request.user_id, position)
            && (!request.sort.uses_relevance()
                || !self.recent.any_noted(&request.user_id, |task| eval::request_matches(request, task)))
    }

    /// Writes noted and not yet searchable, across users.
    pub fn noted_writes(&self) -> usize {
        self.recent.len()
    }

    /// Runs a request: the index as of its last commit, with the user's writes
    /// since then merged in (under a relevance sort, which cannot rank them, only
    /// those that drop out of the list).
    pub fn search(&self, request: &SearchRequest) -> Result<SearchPage, SearchError> {
        let after = match &request.cursor {
            Some(text) => Some(decode_cursor(text, &request.sort.name()).ok_or(SearchError::BadCursor)?),
            None => None,
        };
        let view = self.recent.view(&request.user_id);
        let mut noted = view.noted;
        if request.sort.uses_relevance() {
            // A matching noted task keeps its indexed place until it is indexed; the
            // caller waited for it (`shows`) when that mattered.
            noted
                .retain(|(_, written)| !written.task.as_ref().is_some_and(|task| eval::request_matches(request, task)));
        }
        let searcher = view.searcher;
        let query = request_query(&self.fields, request);
        // Noted tasks found in the index are stale there: look far enough to drop them.
        let collector =
            PageCollector { sort: request.sort, keep: request.limit + 1 + noted.len(), after: after.clone() };
        let (hits, mut total) = searcher.search(&query, &collector)?;
        let noted_ids: HashSet<(u64, u64)> = noted.iter().map(|(id, _)| id_parts(id)).collect();
        let mut page: Vec<(Key, Found)> = hits
            .into_iter()
            .filter(|hit| !noted_ids.contains(&(hit.key.hi, hit.key.lo)))
            .map(|hit| (hit.key.clone(), Found::Indexed(hit.address)))
            .collect();
        if !noted.is_empty() {
            let stale = BooleanQuery::new(vec![
                (Occur::Must, query.box_clone()),
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(
                        noted
                            .iter()
                            .map(|(id, _)| {
                                let term = Term::from_field_text(self.fields.id, id);
                                (
                                    Occur::Should,
                                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
                                )
                            })
                            .collect(),
                    )),
                ),
            ]);
            total -= searcher.search(&stale, &Count)?;
            for (_, written) in noted {
                let Some(task) = written.task else { continue };
                if !eval::request_matches(request, &task) {
                    continue;
                }
                total += 1;
                let Some(key) = sort_key(&task, &request.sort) else { continue };
                if after.as_ref().is_none_or(|after| key.list_order(after, &request.sort) == Ordering::Greater) {
                    page.push((key, Found::Noted(Box::new(task))));
                }
            }
            page.sort_by(|a, b| a.0.list_order(&b.0, &request.sort));
        }
        let more = page.len() > request.limit;
        page.truncate(request.limit);
        let next_cursor =
            if more { page.last().map(|(key, _)| encode_cursor(&request.sort.name(), key)) } else { None };
        let items = page
            .into_iter()
            .map(|(_, found)| match found {
                Found::Noted(task) => Ok(*task),
                Found::Indexed(address) => {
                    let doc: TantivyDocument = searcher.doc(address)?;
                    let bytes = doc.get_first(self.fields.stored).and_then(|v| v.as_bytes()).unwrap_or_default();
                    serde_json::from_slice::<Task>(bytes).map_err(SearchError::from)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SearchPage { items, next_cursor, total })
    }

    /// The indexed version of a task (committed or pending), if any.
    fn version_of(&self, writer: &Writer, id: &str) -> Result<Option<i64>, SearchError> {
        if let Some(version) = writer.pending.get(id) {
            return Ok(Some(*version));
        }
        let searcher = self.reader.searcher();
        let query = TermQuery::new(Term::from_field_text(self.fields.id, id), IndexRecordOption::Basic);
        let found = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, address)) = found.first() else { return Ok(None) };
        let column = searcher.segment_reader(address.segment_ord).fast_fields().u64(names::VERSION)?;
        Ok(column.first(address.doc_id).map(|v| v as i64))
    }

    /// Indexes a task unless the index already has this or a later version.
    pub fn upsert(&self, task: &Task) -> Result<bool, SearchError> {
        let mut writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        if self.version_of(&writer, &task.id)?.is_some_and(|v| v >= task.version) {
            return Ok(false);
        }
        writer.inner.delete_term(Term::from_field_text(self.fields.id, &task.id));
        writer.inner.add_document(self.fields.document(task))?;
        writer.pending.insert(task.id.clone(), task.version);
        Ok(true)
    }

    /// Removes a task.
    pub fn remove(&self, id: &str) -> Result<(), SearchError> {
        let mut writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        writer.inner.delete_term(Term::from_field_text(self.fields.id, id));
        // A later replay of an older upsert must not bring it back before the commit.
        writer.pending.insert(id.to_string(), i64::MAX);
        Ok(())
    }

    /// Commits what was written as reflecting `position`, and makes it searchable.
    pub fn commit(&self, position: OutboxPosition) -> Result<(), SearchError> {
        {
            let mut writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
            let payload =
                serde_json::to_string(&Payload { schema: SCHEMA_VERSION, tx: position.tx, seq: position.seq })?;
            let mut commit = writer.inner.prepare_commit()?;
            commit.set_payload(&payload);
            commit.commit()?;
            writer.pending.clear();
        }
        self.reader.reload()?;
        self.recent.committed(self.reader.searcher(), position);
        self.applied.send_replace(position);
        Ok(())
    }

    /// Segment and deleted-document counts (including finished background merges),
    /// for tuning and tests.
    pub fn segment_stats(&self) -> (usize, u32) {
        let _ = self.reader.reload();
        let searcher = self.reader.searcher();
        let deleted = searcher.segment_readers().iter().map(|s| s.num_deleted_docs()).sum();
        (searcher.segment_readers().len(), deleted)
    }

    /// Live documents in the searchable index.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The cursor `text` of `sort` as lists read it, encoded again; `None` when lists
/// refuse it. For fuzzing and property tests of the cursor format.
pub fn reencode_cursor(text: &str, sort: &Sort) -> Option<String> {
    decode_cursor(text, &sort.name()).map(|key| encode_cursor(&sort.name(), &key))
}

/// A task on a page: in the index, or noted and not yet there.
enum Found {
    Indexed(DocAddress),
    Noted(Box<Task>),
}

/// A task's sort key, as the collector reads it from the index's fast fields; `None`
/// for relevance, which depends on the index.
fn sort_key(task: &Task, sort: &Sort) -> Option<Key> {
    let value = |(key, descending): (SortKey, bool)| -> Option<Primary> {
        Some(match key {
            SortKey::Due => {
                Primary::Int(task.due_at.map_or(if descending { i64::MIN } else { i64::MAX }, |d| d.timestamp_millis()))
            }
            SortKey::Created => Primary::Int(task.created_at.timestamp_millis()),
            SortKey::Updated => Primary::Int(task.updated_at.timestamp_millis()),
            SortKey::Priority => Primary::Int(task.priority.rank()),
            SortKey::Title => Primary::Text(task.title.to_lowercase()),
            SortKey::Relevance => return None,
        })
    };
    let (hi, lo) = id_parts(&task.id);
    Some(Key {
        primary: value((sort.key, sort.descending))?,
        secondary: match sort.then {
            Some(then) => Some(value(then)?),
            None => None,
        },
        hi,
        lo,
    })
}

/// This replica's id, kept beside its index (`<root>/replica`), created once.
fn replica_id(root: &Path) -> Result<String, SearchError> {
    let path = root.join("replica");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => {
            let id = errand_domain::new_id();
            let temp = root.join("replica.tmp");
            std::fs::write(&temp, &id)?;
            std::fs::rename(&temp, &path)?;
            Ok(id)
        }
    }
}

fn current_dir(root: &Path) -> Result<Option<PathBuf>, SearchError> {
    match std::fs::read_to_string(root.join("CURRENT")) {
        Ok(name) => {
            let dir = root.join(name.trim());
            Ok(dir.is_dir().then_some(dir))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn read_payload(index: &Index) -> Result<Option<Payload>, SearchError> {
    let metas = index.load_metas()?;
    Ok(metas.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()))
}

/// Cursors are base64url JSON of the sort name and the last key; a cursor only
/// works with the sort it was made for.
mod base64_cursor {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use serde::{Deserialize, Serialize};

    use super::Key;

    #[derive(Serialize, Deserialize)]
    struct Cursor {
        s: String,
        #[serde(flatten)]
        key: Key,
    }

    pub fn encode_cursor(sort: &str, key: &Key) -> String {
        URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&Cursor { s: sort.to_string(), key: key.clone() }).unwrap_or_default())
    }

    pub fn decode_cursor(text: &str, sort: &str) -> Option<Key> {
        let cursor: Cursor = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        (cursor.s == sort).then_some(cursor.key)
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::base64_cursor::{decode_cursor, encode_cursor};
    use crate::collector::{Key, Primary};

    #[test]
    fn cursors_round_trip_every_kind_of_key() {
        for primary in [Primary::Int(-5), Primary::Int(i64::MAX), Primary::Int(i64::MIN), Primary::Text("abc".into())] {
            let key = Key { primary, secondary: Some(Primary::Int(-1)), hi: u64::MAX, lo: 7 };
            let text = encode_cursor("due", &key);
            assert_eq!(decode_cursor(&text, "due"), Some(key.clone()), "{key:?}");
            assert_eq!(decode_cursor(&text, "-due"), None);
        }
    }
}
