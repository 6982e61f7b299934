//! Facet counts over the whole matching set: one pass over the keyword fast fields (topic,
//! department, region, status, audience, level) counting term ordinals per segment, turned into
//! text only for the ordinals that occurred, and over the packed application windows, counting
//! 申报中 / 即将截止 on the day of the search.

use std::collections::HashMap;

use crate::window::ApplicationWindow;
use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

/// The fast fields counted, in the order of [`Facets`]' members.
const FACET_FIELDS: [&str; 6] = [
    "topic",
    "department",
    "region",
    "status",
    "audience",
    "level",
];
/// The window states counted, in the order of their counts in a segment's fruit.
const WINDOWS: [ApplicationWindow; 2] = [ApplicationWindow::Open, ApplicationWindow::ClosingSoon];

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
    /// Administrative level (`national`, `provincial`, `municipal`, `district`).
    pub level: Vec<FacetCount>,
    /// `open` (申报中) and `closing_soon` (即将截止, also counted in `open`) on the search's day;
    /// a state no matching policy is in is left out.
    pub window: Vec<FacetCount>,
}

type FieldCounts = (
    [HashMap<String, u64>; FACET_FIELDS.len()],
    [u64; WINDOWS.len()],
);

/// Counts the facets; `day` (a day number, see `schema::day_number`) is the day windows are
/// judged on.
pub(crate) struct FacetCollector {
    pub(crate) day: i64,
}

pub(crate) struct FacetSegmentCollector {
    columns: Vec<(StrColumn, Vec<u64>)>,
    /// Absent in a segment where no policy has a window.
    windows: Option<Column<u64>>,
    window_counts: [u64; WINDOWS.len()],
    day: i64,
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
        Ok(FacetSegmentCollector {
            columns,
            windows: segment.fast_fields().column_opt("windows")?,
            window_counts: [0; WINDOWS.len()],
            day: self.day,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segment_fruits: Vec<FieldCounts>) -> tantivy::Result<Facets> {
        let (mut merged, mut windows) = FieldCounts::default();
        for (fields, window_counts) in segment_fruits {
            for (total, segment) in merged.iter_mut().zip(fields) {
                for (value, count) in segment {
                    *total.entry(value).or_default() += count;
                }
            }
            for (total, count) in windows.iter_mut().zip(window_counts) {
                *total += count;
            }
        }
        let [topic, department, region, status, audience, level] = merged.map(ranked);
        let window = WINDOWS
            .iter()
            .zip(windows)
            .filter(|(_, count)| *count > 0)
            .map(|(state, count)| FacetCount {
                value: crate::schema::wire_name(state),
                count,
            })
            .collect();
        Ok(Facets {
            topic,
            department,
            region,
            status,
            audience,
            level,
            window,
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
        if let Some(windows) = &self.windows {
            for (state, count) in WINDOWS.iter().zip(&mut self.window_counts) {
                if windows
                    .values_for_doc(doc)
                    .any(|packed| state.holds(packed, self.day))
                {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> FieldCounts {
        let mut fruit = FieldCounts::default();
        fruit.1 = self.window_counts;
        for (out, (column, counts)) in fruit.0.iter_mut().zip(self.columns) {
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
