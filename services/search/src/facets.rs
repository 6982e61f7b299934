//! Facet counts over the whole matching set: one pass over the keyword fast fields (topic,
//! department, region, status, audience) counting term ordinals per segment, turned into text only
//! for the ordinals that occurred.

use std::collections::HashMap;

use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

/// The fast fields counted, in the order of [`Facets`]' members.
const FACET_FIELDS: [&str; 5] = ["topic", "department", "region", "status", "audience"];

/// How many matching policies carry one value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Counts per value for each facet, most frequent first (ties by value), over every matching
/// policy, not just the returned page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Facets {
    pub topic: Vec<FacetCount>,
    pub department: Vec<FacetCount>,
    pub region: Vec<FacetCount>,
    pub status: Vec<FacetCount>,
    pub audience: Vec<FacetCount>,
}

type FieldCounts = [HashMap<String, u64>; FACET_FIELDS.len()];

pub(crate) struct FacetCollector;

pub(crate) struct FacetSegmentCollector {
    columns: Vec<(StrColumn, Vec<u64>)>,
}

impl Collector for FacetCollector {
    type Fruit = Facets;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let mut columns = Vec::with_capacity(FACET_FIELDS.len());
        for field in FACET_FIELDS {
            let column = segment.fast_fields().str(field)?.ok_or_else(|| {
                TantivyError::SchemaError(format!("{field} is not a string fast field"))
            })?;
            let terms = column.num_terms();
            columns.push((column, vec![0; terms]));
        }
        Ok(FacetSegmentCollector { columns })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segment_fruits: Vec<FieldCounts>) -> tantivy::Result<Facets> {
        let mut merged = FieldCounts::default();
        for fruit in segment_fruits {
            for (total, segment) in merged.iter_mut().zip(fruit) {
                for (value, count) in segment {
                    *total.entry(value).or_default() += count;
                }
            }
        }
        let [topic, department, region, status, audience] = merged.map(ranked);
        Ok(Facets {
            topic,
            department,
            region,
            status,
            audience,
        })
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = FieldCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for (column, counts) in &mut self.columns {
            for ord in column.term_ords(doc) {
                counts[ord as usize] += 1;
            }
        }
    }

    fn harvest(self) -> FieldCounts {
        let mut fruit = FieldCounts::default();
        for (out, (column, counts)) in fruit.iter_mut().zip(self.columns) {
            for (ord, count) in counts.into_iter().enumerate() {
                let mut value = String::new();
                // A failed dictionary read would drop one value from the counts, not the search.
                if count > 0 && column.ord_to_str(ord as u64, &mut value).unwrap_or(false) {
                    out.insert(value, count);
                }
            }
        }
        fruit
    }
}

fn ranked(counts: HashMap<String, u64>) -> Vec<FacetCount> {
    let mut ranked: Vec<FacetCount> = counts
        .into_iter()
        .map(|(value, count)| FacetCount { value, count })
        .collect();
    ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    ranked
}
