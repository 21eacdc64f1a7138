use serde::Serialize;

/// A value that breaks a rule of the domain, naming the offending field (a JSON
/// path such as `tags[3]` or `recurrence.rule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// Path of the offending field in the request body.
    pub field: String,
    /// Human-readable explanation, lowercase, without the field name.
    pub message: String,
}

impl Invalid {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// Prefixes the field path, e.g. `rule` inside `recurrence` becomes `recurrence.rule`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_string()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}
