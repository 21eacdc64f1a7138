//! Errand's task search: every list, search, filter and sort is served from an
//! embedded tantivy index kept in step with the database through `todo.events`.
//!
//! Public surface:
//! - [`SearchIndex`]: open (or rebuild) the index, [`SearchIndex::search`] a
//!   [`SearchRequest`] into a [`SearchPage`], wait for a write to become visible.
//! - [`run_indexer`]: the indexer, fed from the outbox; [`SEARCH_READERS`], every
//!   replica's index as a reader the outbox pruning waits for.
//! - [`Filter`], [`Atom`], [`FilterError`]: the filter language, and its limits
//!   ([`MAX_FILTER_CHARS`], [`MAX_FILTER_DEPTH`], [`MAX_FILTER_TERMS`]).
//! - [`check_query`]: the limits of search text ([`MAX_QUERY_CHARS`], [`MAX_QUERY_WORDS`]).
//! - [`Sort`], [`SortKey`]: orders.
//! - [`eval`]: the reference meaning of filters and text search, for tests.

pub mod eval;

mod collector;
mod filter;
mod index;
mod indexer;
mod query;
mod recent;
mod schema;
mod text;

pub use filter::MAX_TERMS as MAX_FILTER_TERMS;
pub use filter::{Atom, Filter, FilterError, MAX_CHARS as MAX_FILTER_CHARS, MAX_DEPTH as MAX_FILTER_DEPTH};
pub use index::{reencode_cursor, SearchIndex, SearchPage};
pub use indexer::{run_indexer, SEARCH_READERS};
pub use query::{SearchRequest, Sort, SortKey};
pub use schema::SCHEMA_VERSION;
pub use text::{check_query, MAX_QUERY_CHARS, MAX_QUERY_WORDS};

/// Errors of the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory cannot be read or written.
    #[error("search index files: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] errand_store::StoreError),
    /// A stored document or payload does not decode.
    #[error("search index data: {0}")]
    Json(#[from] serde_json::Error),
    /// The index was built with another schema version.
    #[error("search index has schema version {0}, this build uses {SCHEMA_VERSION}")]
    Outdated(u32),
    /// A cursor is malformed or belongs to another sort.
    #[error("cursor is malformed or belongs to another sort")]
    BadCursor,
    /// Another process (a running `errand serve`) holds the index.
    #[error(
        "the search index is in use by a running errand serve; stop it first (a restart also rebuilds a damaged index)"
    )]
    InUse,
    /// A thread panicked while holding the writer.
    #[error("search index writer is unusable after a panic")]
    Poisoned,
}
