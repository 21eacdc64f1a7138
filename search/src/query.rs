//! A search request and its translation into a tantivy query. Every query carries
//! a required term on the user id, built here from the authenticated user, never
//! from user text.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use errand_domain::{Priority, Status};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use crate::filter::{Atom, Filter};
use crate::schema::{owned, owner_code, user_priority, user_status, Fields};
use crate::text::query_words;

/// What lists can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Due date; undated tasks last in both directions.
    Due,
    /// Priority, `none` lowest.
    Priority,
    /// Creation time.
    Created,
    /// Last change.
    Updated,
    /// Title, ignoring case.
    Title,
    /// Best match first.
    Relevance,
}

/// A sort: a key and direction, and optionally a second key for ties
/// (`-priority,due`); remaining ties break by id in the first key's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The key.
    pub key: SortKey,
    /// `-` prefix: descending.
    pub descending: bool,
    /// The second key and its direction.
    pub then: Option<(SortKey, bool)>,
}

fn parse_key(text: &str) -> Option<(SortKey, bool)> {
    let (name, descending) = match text.trim().strip_prefix('-') {
        Some(name) => (name, true),
        None => (text.trim(), false),
    };
    let key = match name {
        "due" => SortKey::Due,
        "priority" => SortKey::Priority,
        "created" => SortKey::Created,
        "updated" => SortKey::Updated,
        "title" => SortKey::Title,
        "relevance" => SortKey::Relevance,
        _ => return None,
    };
    Some((key, descending))
}

fn key_name((key, descending): (SortKey, bool)) -> String {
    let name = match key {
        SortKey::Due => "due",
        SortKey::Priority => "priority",
        SortKey::Created => "created",
        SortKey::Updated => "updated",
        SortKey::Title => "title",
        SortKey::Relevance => "relevance",
    };
    if descending {
        format!("-{name}")
    } else {
        name.to_string()
    }
}

impl Sort {
    /// One key.
    pub fn by(key: SortKey, descending: bool) -> Sort {
        Sort { key, descending, then: None }
    }

    /// Parses `due`, `-priority`, `relevance`, `-priority,due`, ...
    pub fn parse(text: &str) -> Option<Sort> {
        let mut parts = text.split(',');
        let (key, descending) = parse_key(parts.next()?)?;
        let then = parts.next().map(parse_key);
        if parts.next().is_some() {
            return None;
        }
        match then {
            Some(None) => None,
            Some(Some(second)) if second.0 == key => None,
            Some(then) => Some(Sort { key, descending, then }),
            None => Some(Sort::by(key, descending)),
        }
    }

    /// The text form, as parsed.
    pub fn name(&self) -> String {
        let first = key_name((self.key, self.descending));
        match self.then {
            Some(second) => format!("{first},{}", key_name(second)),
            None => first,
        }
    }

    /// Whether either key is relevance (then scores are computed).
    pub fn uses_relevance(&self) -> bool {
        self.key == SortKey::Relevance || self.then.is_some_and(|(key, _)| key == SortKey::Relevance)
    }
}

/// One user's list request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The owner; set from the authenticated user.
    pub user_id: String,
    /// Only this status; `None` for all.
    pub status: Option<Status>,
    /// Any of these priorities; empty for all.
    pub priorities: Vec<Priority>,
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// Due strictly before.
    pub due_before: Option<DateTime<Utc>>,
    /// Due at or after.
    pub due_after: Option<DateTime<Utc>>,
    /// Full-text words (`q`).
    pub text: Option<String>,
    /// A parsed filter expression.
    pub filter: Option<Filter>,
    /// Order.
    pub sort: Sort,
    /// Page size.
    pub limit: usize,
    /// Continue after this cursor (from the previous page).
    pub cursor: Option<String>,
}

impl SearchRequest {
    /// All of a user's tasks (any status), in `sort` order, `limit` per page; narrow
    /// it by setting the other fields.
    pub fn new(user_id: &str, sort: Sort, limit: usize) -> SearchRequest {
        SearchRequest {
            user_id: user_id.to_string(),
            status: None,
            priorities: Vec::new(),
            tags: Vec::new(),
            due_before: None,
            due_after: None,
            text: None,
            filter: None,
            sort,
            limit,
            cursor: None,
        }
    }
}

fn term(field: Field, value: u64) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_u64(field, value), IndexRecordOption::Basic))
}

fn text_term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

fn range_i64(field: Field, lower: Bound<i64>, upper: Bound<i64>) -> Box<dyn Query> {
    let to_term = |b: Bound<i64>| match b {
        Bound::Included(v) => Bound::Included(Term::from_field_i64(field, v)),
        Bound::Excluded(v) => Bound::Excluded(Term::from_field_i64(field, v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(to_term(lower), to_term(upper)))
}

fn all(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(clauses.into_iter().map(|q| (Occur::Must, q)).collect()))
}

fn any(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(clauses.into_iter().map(|q| (Occur::Should, q)).collect()))
}

/// Every word must match a word of the title, description or tags (title matches
/// rank higher). Terms carry the owner's code, so only that user's postings are read.
pub(crate) fn text_query(fields: &Fields, code: &str, text: &str) -> Box<dyn Query> {
    let words = query_words(text);
    if words.is_empty() {
        return Box::new(AllQuery);
    }
    let per_word = words
        .iter()
        .map(|word| {
            let owned_word = owned(code, &word.text);
            let term = Term::from_field_text(fields.words, &owned_word);
            let title = Term::from_field_text(fields.title_words, &owned_word);
            let mut options: Vec<Box<dyn Query>> = vec![
                Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                Box::new(BoostQuery::new(Box::new(TermQuery::new(title, IndexRecordOption::WithFreqs)), 2.0)),
            ];
            if word.prefix {
                options.push(Box::new(FuzzyTermQuery::new_prefix(term.clone(), 0, true)));
            }
            if word.typo {
                options.push(Box::new(FuzzyTermQuery::new(term, 1, true)));
            }
            any(options)
        })
        .collect();
    all(per_word)
}

/// Escapes a literal for tantivy's regex syntax.
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if !c.is_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Terms that name the owner (and maybe more) come from the request's user.
struct Owner<'a> {
    user_id: &'a str,
    code: String,
}

fn atom_query(fields: &Fields, owner: &Owner, atom: &Atom) -> Box<dyn Query> {
    let code = owner.code.as_str();
    use Bound::{Excluded, Included, Unbounded};
    match atom {
        Atom::DueWithin { from, to } => range_i64(fields.due, Included(*from), Excluded(*to)),
        Atom::Overdue { now, start_of_today } => any(vec![
            all(vec![term(fields.all_day, 1), range_i64(fields.due, Unbounded, Excluded(*start_of_today))]),
            all(vec![term(fields.all_day, 0), range_i64(fields.due, Unbounded, Excluded(*now))]),
        ]),
        Atom::NoDate => term(fields.has_due, 0),
        Atom::DueBefore(t) => range_i64(fields.due, Unbounded, Excluded(*t)),
        Atom::DueAfter(t) => range_i64(fields.due, Included(*t), Unbounded),
        Atom::CreatedBefore(t) => range_i64(fields.created, Unbounded, Excluded(*t)),
        Atom::CreatedAfter(t) => range_i64(fields.created, Included(*t), Unbounded),
        Atom::Priority(p) => text_term(fields.user_priority, &user_priority(owner.user_id, *p)),
        Atom::Tag(tag) => text_term(fields.tags, &owned(code, tag)),
        Atom::TagPrefix(prefix) => {
            match RegexQuery::from_pattern(&format!("{}.*", regex_literal(&owned(code, prefix))), fields.tags) {
                Ok(query) => Box::new(query),
                Err(_) => Box::new(tantivy::query::EmptyQuery),
            }
        }
        Atom::NoTags => term(fields.has_tags, 0),
        Atom::Recurring => term(fields.recurring, 1),
        Atom::Status(status) => text_term(fields.user_status, &user_status(owner.user_id, *status)),
        Atom::Search(text) => text_query(fields, code, text),
    }
}

fn filter_query(fields: &Fields, owner: &Owner, filter: &Filter) -> Box<dyn Query> {
    match filter {
        Filter::And(a, b) => all(vec![filter_query(fields, owner, a), filter_query(fields, owner, b)]),
        Filter::Or(a, b) => any(vec![filter_query(fields, owner, a), filter_query(fields, owner, b)]),
        Filter::Not(a) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
            (Occur::MustNot, filter_query(fields, owner, a)),
        ])),
        Filter::Atom(atom) => atom_query(fields, owner, atom),
    }
}

/// The whole query of a request.
pub(crate) fn request_query(fields: &Fields, request: &SearchRequest) -> Box<dyn Query> {
    let owner = Owner { user_id: &request.user_id, code: owner_code(&request.user_id) };
    let code = owner.code.as_str();
    // The owner term, narrowed to one status when there is one: both are one posting
    // list of this user's documents only.
    let mut clauses = vec![match request.status {
        Some(status) => text_term(fields.user_status, &user_status(&request.user_id, status)),
        None => text_term(fields.user, &request.user_id),
    }];
    if !request.priorities.is_empty() {
        clauses.push(any(request
            .priorities
            .iter()
            .map(|p| text_term(fields.user_priority, &user_priority(&request.user_id, *p)))
            .collect()));
    }
    for tag in &request.tags {
        clauses.push(text_term(fields.tags, &owned(code, tag)));
    }
    if let Some(before) = request.due_before {
        clauses.push(range_i64(fields.due, Bound::Unbounded, Bound::Excluded(before.timestamp_millis())));
    }
    if let Some(after) = request.due_after {
        clauses.push(range_i64(fields.due, Bound::Included(after.timestamp_millis()), Bound::Unbounded));
    }
    if let Some(text) = &request.text {
        clauses.push(text_query(fields, code, text));
    }
    if let Some(filter) = &request.filter {
        clauses.push(filter_query(fields, &owner, filter));
    }
    all(clauses)
}
