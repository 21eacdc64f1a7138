use crate::Invalid;

/// Most tags a task may carry.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_LEN: usize = 50;

/// Trims, lowercases and de-duplicates tags (first occurrence wins, order kept).
/// A leading `#` or `@` is dropped, so `#Home` and `@home` both mean `home`.
/// Tags may hold letters, digits and `-_./:+`; the characters of the filter
/// language (spaces, `&|!()*,`) are refused.
pub fn normalize_tags<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, Invalid> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for (i, tag) in raw.iter().enumerate() {
        let field = || format!("tags[{i}]");
        let trimmed = tag.as_ref().trim();
        let bare = trimmed.strip_prefix(['#', '@']).unwrap_or(trimmed);
        let tag = bare.to_lowercase();
        let len = tag.chars().count();
        if len == 0 {
            return Err(Invalid::new(field(), "must not be empty"));
        }
        if len > MAX_TAG_LEN {
            return Err(Invalid::new(field(), format!("must be at most {MAX_TAG_LEN} characters")));
        }
        if let Some(bad) = tag.chars().find(|c| !(c.is_alphanumeric() || "-_./:+".contains(*c))) {
            return Err(Invalid::new(
                field(),
                format!("must not contain {bad:?}; use letters, digits and - _ . / : +"),
            ));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Invalid::new("tags", format!("at most {MAX_TAGS} tags are allowed")));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let ok: &[(&[&str], &[&str])] = &[
            (&["  Home "], &["home"]),
            (&["#Work", "work", "@WORK"], &["work"]),
            (&["a", "b", "a"], &["a", "b"]),
            (&["Straße", "ÉTÉ"], &["straße", "été"]),
            (&["v1.2", "a/b", "x:y", "c++", "snake_case"], &["v1.2", "a/b", "x:y", "c++", "snake_case"]),
            (&[], &[]),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_tags(input).unwrap(), *want, "{input:?}");
        }
        let bad: &[(&[&str], &str)] = &[
            (&[""], "tags[0]"),
            (&["ok", "  "], "tags[1]"),
            (&["#"], "tags[0]"),
            (&["two words"], "tags[0]"),
            (&["a&b"], "tags[0]"),
            (&["(x)"], "tags[0]"),
            (&["star*"], "tags[0]"),
        ];
        for (input, field) in bad {
            assert_eq!(normalize_tags(input).unwrap_err().field, *field, "{input:?}");
        }
        let long = "x".repeat(51);
        assert_eq!(normalize_tags(&[long.as_str()]).unwrap_err().field, "tags[0]");
        assert!(normalize_tags(&["x".repeat(50)]).is_ok());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&many).unwrap_err().field, "tags");
        // duplicates do not count against the limit
        let dupes: Vec<String> = (0..40).map(|i| format!("t{}", i % 20)).collect();
        assert_eq!(normalize_tags(&dupes).unwrap().len(), 20);
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent_and_unique(input in proptest::collection::vec("[#@ ]?[A-Za-z0-9_-]{1,10} ?", 0..20)) {
            let once = normalize_tags(&input).unwrap();
            let twice = normalize_tags(&once).unwrap();
            prop_assert_eq!(&once, &twice);
            let mut sorted = once.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), once.len());
            for t in &once {
                prop_assert_eq!(t.trim(), t.as_str());
                prop_assert_eq!(t.to_lowercase(), t.clone());
            }
        }
    }
}
