//! One page of a sorted list in a single pass: the total count, and the first
//! `limit` documents after the cursor in (sort key, id) order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::query::{Sort, SortKey};
use crate::schema::names;

/// The value a document is sorted by. Scores are kept as integers (see
/// [`score_key`]): JSON does not round-trip every float exactly, and a cursor must.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Primary {
    Int(i64),
    Text(String),
}

impl Primary {
    fn compare(&self, other: &Primary) -> Ordering {
        match (self, other) {
            (Primary::Int(a), Primary::Int(b)) => a.cmp(b),
            (Primary::Text(a), Primary::Text(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

/// An integer that orders like the float (IEEE 754 total order).
pub(crate) fn score_key(score: f32) -> i64 {
    let bits = score.to_bits() as i32;
    i64::from(bits ^ ((((bits >> 31) as u32) >> 1) as i32))
}

/// A document's position in a sorted list: its sort values, then its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Key {
    #[serde(rename = "k")]
    pub primary: Primary,
    #[serde(rename = "k2", default, skip_serializing_if = "Option::is_none")]
    pub secondary: Option<Primary>,
    #[serde(rename = "h")]
    pub hi: u64,
    #[serde(rename = "l")]
    pub lo: u64,
}

fn directed(order: Ordering, descending: bool) -> Ordering {
    if descending {
        order.reverse()
    } else {
        order
    }
}

impl Key {
    /// Order in the list: the first value in its direction, then the second in its
    /// own, then the id in the first's direction.
    pub fn list_order(&self, other: &Key, sort: &Sort) -> Ordering {
        let first = directed(self.primary.compare(&other.primary), sort.descending);
        let second = match (&self.secondary, &other.secondary, sort.then) {
            (Some(a), Some(b), Some((_, descending))) => directed(a.compare(b), descending),
            _ => Ordering::Equal,
        };
        let id = directed(self.hi.cmp(&other.hi).then(self.lo.cmp(&other.lo)), sort.descending);
        first.then(second).then(id)
    }
}

/// A document found for the page.
pub(crate) struct Hit {
    pub key: Key,
    pub address: DocAddress,
    sort: Sort,
}

impl PartialEq for Hit {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.list_order(&other.key, &self.sort)
    }
}

pub(crate) struct PageCollector {
    pub sort: Sort,
    /// Documents to keep: the page size plus one, to know whether more follow.
    pub keep: usize,
    pub after: Option<Key>,
}

pub(crate) struct PageSegment {
    segment: SegmentOrdinal,
    sort: Sort,
    keep: usize,
    after: Option<Key>,
    hi: Column<u64>,
    lo: Column<u64>,
    value: Value,
    second: Option<Value>,
    heap: BinaryHeap<Hit>,
    total: usize,
}

enum Value {
    /// A date; undated documents sort last in either direction.
    Date(Column<i64>, bool),
    Int(Column<i64>),
    Unsigned(Column<u64>),
    Text(Option<StrColumn>),
    Score,
}

fn column_for(
    fast: &tantivy::fastfield::FastFieldReaders,
    (key, descending): (SortKey, bool),
) -> tantivy::Result<Value> {
    Ok(match key {
        SortKey::Due => Value::Date(fast.i64(names::DUE)?, descending),
        SortKey::Created => Value::Int(fast.i64(names::CREATED)?),
        SortKey::Updated => Value::Int(fast.i64(names::UPDATED)?),
        SortKey::Priority => Value::Unsigned(fast.u64(names::PRIORITY)?),
        SortKey::Title => Value::Text(fast.str(names::TITLE_KEY)?),
        SortKey::Relevance => Value::Score,
    })
}

impl Value {
    fn of(&self, doc: DocId, score: Score) -> Primary {
        match self {
            Value::Date(column, descending) => {
                Primary::Int(column.first(doc).unwrap_or(if *descending { i64::MIN } else { i64::MAX }))
            }
            Value::Int(column) => Primary::Int(column.first(doc).unwrap_or(0)),
            Value::Unsigned(column) => Primary::Int(column.first(doc).unwrap_or(0) as i64),
            Value::Text(column) => {
                let mut text = String::new();
                if let Some(column) = column {
                    if let Some(ord) = column.term_ords(doc).next() {
                        let _ = column.ord_to_str(ord, &mut text);
                    }
                }
                Primary::Text(text)
            }
            // Best first when ascending.
            Value::Score => Primary::Int(score_key(-score)),
        }
    }
}

impl Collector for PageCollector {
    type Fruit = (Vec<Hit>, usize);
    type Child = PageSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<PageSegment> {
        let fast = reader.fast_fields();
        let value = column_for(fast, (self.sort.key, self.sort.descending))?;
        let second = self.sort.then.map(|then| column_for(fast, then)).transpose()?;
        Ok(PageSegment {
            segment,
            sort: self.sort,
            keep: self.keep,
            after: self.after.clone(),
            hi: fast.u64(names::ID_HI)?,
            lo: fast.u64(names::ID_LO)?,
            value,
            second,
            heap: BinaryHeap::with_capacity(self.keep + 1),
            total: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort.uses_relevance()
    }

    fn merge_fruits(&self, fruits: Vec<(Vec<Hit>, usize)>) -> tantivy::Result<(Vec<Hit>, usize)> {
        let total = fruits.iter().map(|(_, n)| n).sum();
        let mut hits: Vec<Hit> = fruits.into_iter().flat_map(|(hits, _)| hits).collect();
        hits.sort();
        hits.truncate(self.keep);
        Ok((hits, total))
    }
}

impl SegmentCollector for PageSegment {
    type Fruit = (Vec<Hit>, usize);

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        let primary = self.value.of(doc, score);
        // Most documents of a big list sort after the page kept so far: drop them
        // before reading their ids or touching the heap.
        if self.heap.len() >= self.keep {
            if let Some(worst) = self.heap.peek() {
                if directed(primary.compare(&worst.key.primary), self.sort.descending) == Ordering::Greater {
                    return;
                }
            }
        }
        let key = Key {
            primary,
            secondary: self.second.as_ref().map(|second| second.of(doc, score)),
            hi: self.hi.first(doc).unwrap_or(0),
            lo: self.lo.first(doc).unwrap_or(0),
        };
        if let Some(after) = &self.after {
            if key.list_order(after, &self.sort) != Ordering::Greater {
                return;
            }
        }
        self.heap.push(Hit { key, address: DocAddress::new(self.segment, doc), sort: self.sort });
        if self.heap.len() > self.keep {
            self.heap.pop();
        }
    }

    fn harvest(self) -> (Vec<Hit>, usize) {
        (self.heap.into_vec(), self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::score_key;

    #[test]
    fn score_keys_order_like_floats() {
        let mut scores = vec![-3.5f32, -0.0, 0.0, 1e-9, 2.25, 17.0, -17.0, f32::MAX, f32::MIN, 9.201_347];
        scores.sort_by(|a, b| a.total_cmp(b));
        let keys: Vec<i64> = scores.iter().map(|s| score_key(*s)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{scores:?} {keys:?}");
    }
}
