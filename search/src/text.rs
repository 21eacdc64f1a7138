//! Full-text matching rules shared by the index and the reference evaluator:
//! every word must match a title, description or tag word, the last word also as a
//! prefix (type-ahead), and words of five or more letters also with one typo.

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, TokenStream,
};

/// Words shorter than this get no typo tolerance.
pub const TYPO_MIN_LEN: usize = 5;
/// The last word matches as a prefix from this length on.
pub const PREFIX_MIN_LEN: usize = 2;

/// Longest search text (`q`, or a filter's `search:`), in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Most words in one search: each becomes a few term queries, some fuzzy.
pub const MAX_QUERY_WORDS: usize = 20;

/// Whether a search text is within [`MAX_QUERY_CHARS`] and [`MAX_QUERY_WORDS`]; the
/// error says which limit it breaks.
pub fn check_query(text: &str) -> Result<(), String> {
    let length = text.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(format!("at most {MAX_QUERY_CHARS} characters, not {length}"));
    }
    let count = words(text).len();
    if count > MAX_QUERY_WORDS {
        return Err(format!("at most {MAX_QUERY_WORDS} words, not {count}"));
    }
    Ok(())
}

/// Unicode word splitting, lowercasing and ASCII folding (`Café` -> `cafe`), applied
/// before words are indexed and to query words alike.
fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The words of `text` as the index sees them.
pub fn words(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// How one query word may match an indexed word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    /// The analysed word.
    pub text: String,
    /// Also match indexed words that start with it.
    pub prefix: bool,
    /// Also match indexed words one edit away.
    pub typo: bool,
}

/// The words of a search text with their matching rules.
pub fn query_words(text: &str) -> Vec<QueryWord> {
    let analysed = words(text);
    let last = analysed.len().saturating_sub(1);
    analysed
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let len = text.chars().count();
            QueryWord { prefix: i == last && len >= PREFIX_MIN_LEN, typo: len >= TYPO_MIN_LEN, text }
        })
        .collect()
}

impl QueryWord {
    /// Whether this query word matches the indexed word `word`.
    pub fn matches(&self, word: &str) -> bool {
        word == self.text
            || (self.prefix && word.starts_with(&self.text))
            || (self.typo && within_one_edit(&self.text, word))
    }
}

/// Optimal-string-alignment distance <= 1 (one insertion, deletion, substitution
/// or swap of neighbours), as tantivy's Levenshtein automaton with transpositions.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match (ra.len(), rb.len()) {
        (0, 0) | (1, 0) | (0, 1) => true,
        (la, lb) if la == lb => {
            ra[1..] == rb[1..] || (la >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        (la, lb) if la > lb => ra[1..] == *rb,
        _ => *ra == rb[1..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_folds_case_and_accents() {
        assert_eq!(words("Café au-lait, NAÏVE plan"), ["cafe", "au", "lait", "naive", "plan"]);
    }

    #[test]
    fn one_edit() {
        for (a, b) in [
            ("invoice", "invoise"),
            ("invoice", "invoce"),
            ("invoice", "invoices"),
            ("invoice", "inovice"),
            ("abc", "abc"),
        ] {
            assert!(within_one_edit(a, b), "{a} {b}");
        }
        for (a, b) in [("invoice", "ivnoise"), ("invoice", "invoicess"), ("abc", "cba")] {
            assert!(!within_one_edit(a, b), "{a} {b}");
        }
    }

    #[test]
    fn last_word_is_a_prefix_and_long_words_tolerate_typos() {
        let q = query_words("pay invoic");
        assert!(!q[0].prefix && q[1].prefix);
        assert!(q[1].matches("invoices") && q[1].matches("invoic"));
        assert!(!q[0].matches("payment"), "only the last word is a prefix");
        assert!(query_words("groceries")[0].matches("groseries"));
        assert!(!query_words("milk")[0].matches("mild"), "short words need exact letters");
    }
}
