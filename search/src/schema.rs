//! The index schema: one document per task, with every filter and sort as an
//! indexed fast field and the task itself stored for serving lists.

use errand_domain::{Priority, Status, Task};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};
use tantivy::TantivyDocument;

use crate::text::words;

/// Bumped whenever the schema or the analysis changes: an index built with another
/// version is rebuilt on start.
pub const SCHEMA_VERSION: u32 = 3;

/// Tokenizer of the pre-analysed word fields: the words arrive already analysed
/// and prefixed with the owner's code, separated by spaces.
const WORDS_TOKENIZER: &str = "whitespace";

/// The fields of the schema.
#[derive(Clone, Copy)]
pub struct Fields {
    pub(crate) id: Field,
    pub(crate) id_hi: Field,
    pub(crate) id_lo: Field,
    pub(crate) user: Field,
    /// Title, description and tag words, each as `<owner code>:<word>`.
    pub(crate) words: Field,
    /// Title words alone (same form), to rank title matches higher.
    pub(crate) title_words: Field,
    /// Tags as `<owner code>:<tag>`.
    pub(crate) tags: Field,
    pub(crate) has_tags: Field,
    pub(crate) priority: Field,
    /// `<user id>:<status code>`: a user's open (or done) tasks as one posting list.
    pub(crate) user_status: Field,
    /// `<user id>:<priority rank>`: a user's tasks of one priority.
    pub(crate) user_priority: Field,
    pub(crate) due: Field,
    pub(crate) has_due: Field,
    pub(crate) all_day: Field,
    pub(crate) created: Field,
    pub(crate) updated: Field,
    pub(crate) recurring: Field,
    pub(crate) version: Field,
    pub(crate) title_key: Field,
    pub(crate) stored: Field,
}

/// Fast-field names read by the collector.
pub(crate) mod names {
    pub const ID_HI: &str = "id_hi";
    pub const ID_LO: &str = "id_lo";
    pub const PRIORITY: &str = "priority";
    pub const DUE: &str = "due";
    pub const CREATED: &str = "created";
    pub const UPDATED: &str = "updated";
    pub const VERSION: &str = "version";
    pub const TITLE_KEY: &str = "title_key";
}

/// Builds the schema and its fields.
pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(WORDS_TOKENIZER).set_index_option(IndexRecordOption::WithFreqs),
    );
    let number = NumericOptions::default().set_indexed().set_fast();
    let flag = NumericOptions::default().set_indexed();
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        id_hi: builder.add_u64_field(names::ID_HI, FAST),
        id_lo: builder.add_u64_field(names::ID_LO, FAST),
        user: builder.add_text_field("user", STRING),
        words: builder.add_text_field("words", text.clone()),
        title_words: builder.add_text_field("title_words", text),
        tags: builder.add_text_field("tags", STRING),
        has_tags: builder.add_u64_field("has_tags", flag.clone()),
        priority: builder.add_u64_field(names::PRIORITY, number.clone()),
        user_status: builder.add_text_field("user_status", STRING),
        user_priority: builder.add_text_field("user_priority", STRING),
        due: builder.add_i64_field(names::DUE, number.clone()),
        has_due: builder.add_u64_field("has_due", flag.clone()),
        all_day: builder.add_u64_field("all_day", flag.clone()),
        created: builder.add_i64_field(names::CREATED, number.clone()),
        updated: builder.add_i64_field(names::UPDATED, number),
        recurring: builder.add_u64_field("recurring", flag),
        version: builder.add_u64_field(names::VERSION, FAST),
        title_key: builder.add_text_field(names::TITLE_KEY, STRING | FAST),
        stored: builder.add_bytes_field("task", STORED),
    };
    (builder.build(), fields)
}

/// A short code for the owner, prefixed to every word and tag term so that each
/// user's terms have posting lists of their own: a search reads that user's
/// documents, not everyone's. Codes of two users may collide; the required user
/// term keeps results exact, a collision only costs time.
pub(crate) fn owner_code(user_id: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in user_id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// A word or tag term of the owner with `code`.
pub(crate) fn owned(code: &str, word: &str) -> String {
    format!("{code}:{word}")
}

/// The `user_status` term of a user's tasks with `status`.
pub(crate) fn user_status(user_id: &str, status: Status) -> String {
    format!("{user_id}:{}", status.as_str())
}

/// The `user_priority` term of a user's tasks with `priority`.
pub(crate) fn user_priority(user_id: &str, priority: Priority) -> String {
    format!("{user_id}:{}", priority.rank())
}

/// The id as two numbers whose order is the order of the id text (UUIDs; other
/// ids fall back to their leading bytes).
pub(crate) fn id_parts(id: &str) -> (u64, u64) {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let hi = u64::from_str_radix(&hex[..16], 16).unwrap_or(0);
        let lo = u64::from_str_radix(&hex[16..], 16).unwrap_or(0);
        return (hi, lo);
    }
    let mut bytes = [0u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(id.bytes()) {
        *slot = byte;
    }
    let (hi, lo) = bytes.split_at(8);
    (u64::from_be_bytes(hi.try_into().unwrap_or_default()), u64::from_be_bytes(lo.try_into().unwrap_or_default()))
}

impl Fields {
    /// The document of a task.
    pub fn document(&self, task: &Task) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        let (hi, lo) = id_parts(&task.id);
        doc.add_text(self.id, &task.id);
        doc.add_u64(self.id_hi, hi);
        doc.add_u64(self.id_lo, lo);
        doc.add_text(self.user, &task.user_id);
        let code = owner_code(&task.user_id);
        let owned_words = |text: &str| words(text).iter().map(|w| owned(&code, w)).collect::<Vec<_>>().join(" ");
        let title = owned_words(&task.title);
        let mut all = vec![title.clone(), owned_words(&task.description)];
        for tag in &task.tags {
            doc.add_text(self.tags, owned(&code, tag));
            all.push(owned_words(tag));
        }
        doc.add_text(self.words, all.join(" "));
        doc.add_text(self.title_words, title);
        doc.add_u64(self.has_tags, u64::from(!task.tags.is_empty()));
        doc.add_u64(self.priority, task.priority.rank() as u64);
        doc.add_text(self.user_priority, user_priority(&task.user_id, task.priority));
        doc.add_text(self.user_status, user_status(&task.user_id, task.status));
        if let Some(due) = task.due_at {
            doc.add_i64(self.due, due.timestamp_millis());
        }
        doc.add_u64(self.has_due, u64::from(task.due_at.is_some()));
        doc.add_u64(self.all_day, u64::from(task.all_day));
        doc.add_i64(self.created, task.created_at.timestamp_millis());
        doc.add_i64(self.updated, task.updated_at.timestamp_millis());
        doc.add_u64(self.recurring, u64::from(task.recurrence.is_some()));
        doc.add_u64(self.version, task.version as u64);
        doc.add_text(self.title_key, task.title.to_lowercase());
        doc.add_bytes(self.stored, &serde_json::to_vec(task).unwrap_or_default());
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parts_order_like_the_text() {
        let mut ids: Vec<String> = (0..50).map(|_| errand_domain::new_id()).collect();
        ids.push("00000000-0000-7000-8000-000000000000".into());
        ids.push("ffffffff-ffff-7fff-bfff-ffffffffffff".into());
        let mut by_text = ids.clone();
        by_text.sort();
        let mut by_parts = ids.clone();
        by_parts.sort_by_key(|id| id_parts(id));
        assert_eq!(by_text, by_parts);
    }
}
