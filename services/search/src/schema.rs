//! The index layout: which policy text goes into which field with what weight, and the keyword
//! fields behind filters and facets.

use chrono::{Datelike, NaiveDate};
use profiles::Coded;
use serde::Serialize;
use store::policy::{DeliveryMode, Policy};
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analyzer::TOKENIZER_NAME;
use crate::window::item_window;

/// Every field of the index, resolved once.
#[derive(Clone, Debug)]
pub(crate) struct Fields {
    pub(crate) id: Field,
    pub(crate) title: Field,
    pub(crate) key_points: Field,
    pub(crate) summary: Field,
    pub(crate) benefits: Field,
    pub(crate) labels: Field,
    pub(crate) qa: Field,
    pub(crate) full_text: Field,
    pub(crate) doc_number: Field,
    pub(crate) doc_number_raw: Field,
    /// The policy's own region code, for the facet.
    pub(crate) region: Field,
    /// The region code's prefix and its ancestors' prefixes (`11`, `1101`, `110105`), so a
    /// filter on 110000 is one term look-up.
    pub(crate) region_scope: Field,
    pub(crate) department: Field,
    pub(crate) topic: Field,
    pub(crate) audience: Field,
    pub(crate) status: Field,
    pub(crate) level: Field,
    /// Each benefit item's application window, packed (see [`crate::window`]), for the
    /// 申报中 / 即将截止 filter and counts on the day of the search.
    pub(crate) windows: Field,
    /// 发布日期 as days from the common era, for range filters and the newest-first listing.
    pub(crate) published: Field,
}

/// Full-text fields and their weights: a word in the title says more about what the policy is
/// than the same word in the body.
pub(crate) fn weighted_text_fields(fields: &Fields) -> [(Field, f32); 8] {
    [
        (fields.title, 3.0),
        (fields.key_points, 2.0),
        (fields.summary, 1.5),
        (fields.benefits, 1.3),
        (fields.labels, 1.2),
        (fields.qa, 1.0),
        (fields.full_text, 1.0),
        (fields.doc_number, 1.0),
    ]
}

pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let fields = Fields {
        id: builder.add_i64_field("id", INDEXED | FAST | STORED),
        title: builder.add_text_field("title", text(true)),
        key_points: builder.add_text_field("key_points", text(true)),
        summary: builder.add_text_field("summary", text(true)),
        benefits: builder.add_text_field("benefits", text(false)),
        labels: builder.add_text_field("labels", text(false)),
        qa: builder.add_text_field("qa", text(false)),
        full_text: builder.add_text_field("full_text", text(true)),
        doc_number: builder.add_text_field("doc_number", text(false)),
        doc_number_raw: builder.add_text_field("doc_number_raw", STRING),
        region: builder.add_text_field("region", STRING | FAST),
        region_scope: builder.add_text_field("region_scope", STRING),
        department: builder.add_text_field("department", STRING | FAST),
        topic: builder.add_text_field("topic", STRING | FAST),
        audience: builder.add_text_field("audience", STRING | FAST),
        status: builder.add_text_field("status", STRING | FAST),
        level: builder.add_text_field("level", STRING | FAST),
        windows: builder.add_u64_field("windows", FAST),
        published: builder.add_i64_field("published", INDEXED | FAST | STORED),
    };
    (builder.build(), fields)
}

pub(crate) fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

pub(crate) fn date_from_day_number(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()?)
}

/// The wire name of a unit enum (`published`, `national`), the same text the API and store use.
pub(crate) fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => unreachable!("unit enum serialised as {other:?}"),
    }
}

/// Prefixes of `code` and of each ancestor: `110105` → `11`, `1101`, `110105`.
fn region_scopes(code: &str) -> Vec<&str> {
    let prefix = profiles::codes::region_prefix(code);
    (2..=prefix.len())
        .step_by(2)
        .filter_map(|len| prefix.get(..len))
        .collect()
}

pub(crate) fn policy_document(fields: &Fields, policy: &Policy) -> TantivyDocument {
    let content = &policy.content;
    let mut doc = TantivyDocument::default();
    doc.add_i64(fields.id, policy.id);
    doc.add_text(fields.title, &content.title);
    for point in &content.interpretation.key_points {
        doc.add_text(fields.key_points, point);
    }
    doc.add_text(fields.summary, &content.summary);
    for item in &content.benefit_items {
        for text in [&item.name, &item.targets, &item.conditions] {
            doc.add_text(fields.benefits, text);
        }
    }
    match content.delivery_mode {
        DeliveryMode::NoApplication => doc.add_text(fields.labels, "免申即享"),
        DeliveryMode::FastTrack => doc.add_text(fields.labels, "直达快享"),
        DeliveryMode::Apply => {}
    }
    for pair in &content.qa {
        doc.add_text(fields.qa, &pair.question);
        doc.add_text(fields.qa, &pair.answer);
    }
    doc.add_text(fields.full_text, &content.full_text);
    if !content.doc_number.is_empty() {
        doc.add_text(fields.doc_number, &content.doc_number);
        doc.add_text(fields.doc_number_raw, content.doc_number.trim());
    }
    doc.add_text(fields.region, &content.region_code);
    for scope in region_scopes(&content.region_code) {
        doc.add_text(fields.region_scope, scope);
    }
    for department in &content.issuing_departments {
        doc.add_text(fields.department, department.trim());
    }
    for topic in &content.topics {
        doc.add_text(fields.topic, topic);
    }
    for audience in &content.applicability.audiences {
        doc.add_text(fields.audience, audience.code());
        doc.add_text(fields.labels, audience.label_zh());
    }
    doc.add_text(fields.status, wire_name(&content.status));
    doc.add_text(fields.level, wire_name(&content.level));
    for window in content.benefit_items.iter().filter_map(item_window) {
        doc.add_u64(fields.windows, window.pack());
    }
    if let Some(published) = content.published_on {
        doc.add_i64(fields.published, day_number(published));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_scopes_cover_every_ancestor() {
        assert_eq!(region_scopes("110105"), ["11", "1101", "110105"]);
        assert_eq!(region_scopes("110100"), ["11", "1101"]);
        assert_eq!(region_scopes("110000"), ["11"]);
    }

    #[test]
    fn day_numbers_round_trip() {
        let date = NaiveDate::from_ymd_opt(2025, 3, 28).unwrap();
        assert_eq!(date_from_day_number(day_number(date)), Some(date));
    }
}
