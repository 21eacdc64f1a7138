//! A clause of a message: its words in the user's case and in lower case at the same
//! byte offsets (so a title keeps its capitals), and the word-level operations the
//! interpreter is written in.

/// Part of a message, trimmed of punctuation at both ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    /// As the user wrote it.
    pub orig: String,
    /// ASCII-lowercased: the same bytes at the same offsets.
    pub low: String,
}

fn is_edge(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '-')
}

impl Clause {
    pub fn new(text: &str) -> Clause {
        let orig = text.trim_matches(is_edge).to_string();
        let low = orig.to_ascii_lowercase();
        Clause { orig, low }
    }

    pub fn is_empty(&self) -> bool {
        self.low.is_empty()
    }

    /// The clause from byte `from` to byte `to` (each moved forward to a character
    /// boundary, so no offset can split a character).
    pub fn cut(&self, from: usize, to: usize) -> Clause {
        let boundary = |at: usize| (at.min(self.orig.len())..=self.orig.len()).find(|i| self.orig.is_char_boundary(*i));
        let (from, to) = (boundary(from).unwrap_or(0), boundary(to).unwrap_or(self.orig.len()));
        Clause::new(self.orig.get(from..to.max(from)).unwrap_or(""))
    }

    /// Whether `phrase` occurs at byte `at` as whole words.
    fn phrase_at(&self, at: usize, phrase: &str) -> bool {
        let end = at + phrase.len();
        // Punctuation (":") needs no space around it.
        let starts_word = phrase.starts_with(|c: char| c.is_ascii_alphanumeric());
        let ends_word = phrase.ends_with(|c: char| c.is_ascii_alphanumeric());
        self.low.get(at..end) == Some(phrase)
            && (at == 0 || !starts_word || !self.low.as_bytes()[at - 1].is_ascii_alphanumeric())
            && (end == self.low.len() || !ends_word || !is_word_byte(self.low.as_bytes()[end]))
    }

    /// Where `phrase` first occurs as whole words.
    pub fn find(&self, phrase: &str) -> Option<usize> {
        self.low.match_indices(phrase).map(|(i, _)| i).find(|&i| self.phrase_at(i, phrase))
    }

    /// Whether the clause contains any of `phrases` as whole words.
    pub fn has(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.find(p).is_some())
    }

    /// The rest after the first of `phrases` (longest first) that starts the clause.
    pub fn after(&self, phrases: &[&str]) -> Option<Clause> {
        let mut sorted: Vec<&&str> = phrases.iter().collect();
        sorted.sort_by_key(|p| std::cmp::Reverse(p.len()));
        sorted.into_iter().find(|p| self.phrase_at(0, p)).map(|p| self.cut(p.len(), self.orig.len()))
    }

    /// The clause before the first of `phrases` that ends it.
    pub fn before_end(&self, phrases: &[&str]) -> Option<Clause> {
        let mut sorted: Vec<&&str> = phrases.iter().collect();
        sorted.sort_by_key(|p| std::cmp::Reverse(p.len()));
        sorted.into_iter().find_map(|p| {
            let at = self.low.len().checked_sub(p.len())?;
            self.phrase_at(at, p).then(|| self.cut(0, at))
        })
    }

    /// Split at the first occurrence of any of `phrases`: (before, the phrase, after).
    pub fn split(&self, phrases: &[&str]) -> Option<(Clause, String, Clause)> {
        phrases
            .iter()
            .filter_map(|p| self.find(p).map(|at| (at, *p)))
            .min_by_key(|(at, p)| (*at, std::cmp::Reverse(p.len())))
            .map(|(at, p)| (self.cut(0, at), p.to_string(), self.cut(at + p.len(), self.orig.len())))
    }

    /// Split at the last occurrence of any of `phrases`.
    pub fn rsplit(&self, phrases: &[&str]) -> Option<(Clause, String, Clause)> {
        phrases
            .iter()
            .filter_map(|p| {
                let at = self.low.match_indices(p).map(|(i, _)| i).filter(|&i| self.phrase_at(i, p)).last()?;
                Some((at, *p))
            })
            .max_by_key(|(at, _)| *at)
            .map(|(at, p)| (self.cut(0, at), p.to_string(), self.cut(at + p.len(), self.orig.len())))
    }

    /// Removes every occurrence of `phrases` as whole words.
    pub fn without(&self, phrases: &[&str]) -> Clause {
        let mut clause = self.clone();
        while let Some((before, _, after)) = clause.split(phrases) {
            clause = Clause::new(&format!("{} {}", before.orig, after.orig));
        }
        clause
    }

    /// Strips any of `phrases` from the start, repeatedly.
    pub fn strip_starts(&self, phrases: &[&str]) -> Clause {
        let mut clause = self.clone();
        while let Some(rest) = clause.after(phrases) {
            clause = rest;
        }
        clause
    }

    /// Strips any of `phrases` from the end, repeatedly.
    pub fn strip_ends(&self, phrases: &[&str]) -> Clause {
        let mut clause = self.clone();
        while let Some(rest) = clause.before_end(phrases) {
            clause = rest;
        }
        clause
    }

    /// The lowercase words.
    pub fn words(&self) -> Vec<&str> {
        self.low.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect()
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'\''
}

/// The message with typographic quotes made plain and whitespace collapsed.
pub(crate) fn normalise(message: &str) -> String {
    let plain: String = message
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '`' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            // "quarterly report — done": a dash between words is a comma.
            '\u{2014}' | '\u{2013}' => ',',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    plain.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_not_letters() {
        let c = Clause::new("Move the Report to Friday!");
        assert_eq!(c.orig, "Move the Report to Friday");
        assert_eq!(c.find("to"), Some(16));
        assert_eq!(c.find("rep"), None);
        assert_eq!(c.after(&["move", "move the"]).unwrap().orig, "Report to Friday");
        let (target, _, when) = c.split(&["to"]).unwrap();
        assert_eq!((target.orig.as_str(), when.orig.as_str()), ("Move the Report", "Friday"));
        assert_eq!(c.without(&["the"]).orig, "Move Report to Friday");
        assert_eq!(Clause::new("buy milk please").before_end(&["please"]).unwrap().orig, "buy milk");
        assert_eq!(normalise("don\u{2019}t  forget"), "don't forget");
    }
}
