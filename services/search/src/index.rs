//! [`PolicyIndex`]: the in-memory index, its writes (each committed and visible to the next
//! search) and its searches (ranked or newest-first hits, facet counts, highlighted snippets).

use std::borrow::Borrow;
use std::sync::Mutex;

use chrono::NaiveDate;
use serde::Serialize;
use store::policy::Policy;
use tantivy::collector::{Collector, Count, FilterCollector, TopDocs};
use tantivy::query::Query;
use tantivy::schema::{Field, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    Term,
};

use crate::SearchError;
use crate::analyzer::{TOKENIZER_NAME, load_dictionary, text_analyzer};
use crate::facets::{FacetCollector, Facets};
use crate::query::{SearchQuery, build_query};
use crate::schema::{Fields, build_schema, date_from_day_number, day_number, policy_document};
use crate::window::ApplicationWindow;

/// Indexing memory shared by the writer threads; more means fewer, larger segments on rebuild.
const WRITER_HEAP_BYTES: usize = 256 * 1024 * 1024;
/// Snippet length in bytes (about 80 Chinese characters).
const SNIPPET_BYTES: usize = 240;
const SNIPPET_FALLBACK_CHARS: usize = 80;

/// One policy in the results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    pub id: i64,
    pub title: String,
    /// Relevance; 0 in a newest-first listing.
    pub score: f32,
    pub published_on: Option<NaiveDate>,
    /// HTML-escaped excerpt, matched words wrapped in `<mark>…</mark>`.
    pub snippet_html: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchResults {
    /// Number of matching policies, not just those on this page.
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

/// The search index over all policies, kept in RAM: it is rebuilt from the database on every
/// start, so a directory on disk would only add files to manage and slower writes.
///
/// Every commit records, as its payload, the change log position (see `store::ChangeCursor`)
/// up to which the index reflects the committed policies; the follower resumes from it.
pub struct PolicyIndex {
    fields: Fields,
    reader: IndexReader,
    /// One writer per index (tantivy's rule); the lock also orders commit-then-reload so a
    /// search after a write sees it.
    writer: Mutex<Writer>,
}

struct Writer {
    writer: IndexWriter,
    /// The change log position the last commit recorded.
    position: i64,
}

impl PolicyIndex {
    /// An empty index; loads the jieba dictionary on first use in the process.
    pub fn new() -> Result<Self, SearchError> {
        load_dictionary();
        let (schema, fields) = build_schema();
        let index = Index::create_in_ram(schema);
        index.tokenizers().register(TOKENIZER_NAME, text_analyzer());
        let writer = index.writer(WRITER_HEAP_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            fields,
            reader,
            writer: Mutex::new(Writer {
                writer,
                position: 0,
            }),
        })
    }

    /// Replaces the whole content with `policies` (references or owned, so a caller can stream
    /// them), read after the change log stood at `position`; searches see the old content until
    /// it is done. Returns how many were indexed.
    pub fn rebuild<P: Borrow<Policy>>(
        &self,
        policies: impl IntoIterator<Item = P>,
        position: i64,
    ) -> Result<usize, SearchError> {
        self.write(Some(position), |writer, fields| {
            writer.delete_all_documents()?;
            let mut count = 0;
            for policy in policies {
                writer.add_document(policy_document(fields, policy.borrow()))?;
                count += 1;
            }
            tracing::info!(
                policies = count,
                "search index rebuild: policies added, committing"
            );
            Ok(count)
        })
    }

    /// Adds the policy, or replaces the one with its id, ahead of the change log (the position
    /// recorded stays where it was).
    pub fn upsert(&self, policy: &Policy) -> Result<(), SearchError> {
        self.apply(std::slice::from_ref(policy), &[], None)
    }

    /// Removes the policy with this id, ahead of the change log; removing an unknown id is not an
    /// error.
    pub fn remove(&self, id: i64) -> Result<(), SearchError> {
        self.apply(&[], &[id], None)
    }

    /// Puts `saved` policies in (replacing those with their ids) and takes the `gone` ids out, in
    /// one commit that records `position` when given. Applying the same again changes nothing:
    /// each id is held once.
    pub fn apply(
        &self,
        saved: &[Policy],
        gone: &[i64],
        position: Option<i64>,
    ) -> Result<(), SearchError> {
        self.write(position, |writer, fields| {
            for id in gone.iter().chain(saved.iter().map(|p| &p.id)) {
                writer.delete_term(Term::from_field_i64(fields.id, *id));
            }
            for policy in saved {
                writer.add_document(policy_document(fields, policy))?;
            }
            Ok(())
        })
    }

    /// The change log position the last commit recorded (0 before any was).
    pub fn position(&self) -> Result<i64, SearchError> {
        let metas = self.reader.searcher().index().load_metas()?;
        Ok(metas.payload.and_then(|p| p.parse().ok()).unwrap_or(0))
    }

    fn write<T>(
        &self,
        position: Option<i64>,
        change: impl FnOnce(&mut IndexWriter, &Fields) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut guard = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        let Writer {
            writer,
            position: recorded,
        } = &mut *guard;
        let outcome = change(writer, &self.fields);
        if outcome.is_err() {
            writer.rollback()?;
            return outcome;
        }
        let position = position.unwrap_or(*recorded);
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&position.to_string());
        commit.commit()?;
        *recorded = position;
        self.reader.reload()?;
        outcome
    }

    /// Number of policies in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `query` as of `today`, the caller's day (the service's clock, not the index's): the
    /// 申报中 / 即将截止 filter and counts judge each window on it.
    pub fn search(
        &self,
        query: &SearchQuery,
        today: NaiveDate,
    ) -> Result<SearchResults, SearchError> {
        query.validate()?;
        let searcher = self.reader.searcher();
        let tantivy_query = build_query(&self.fields, query);
        let day = day_number(today);
        let window = query.window.map(|state| (state, day));
        let facets = FacetCollector { day };
        let page = TopDocs::with_limit(query.limit).and_offset(query.offset);
        let (ranked, total, facets) = if query.has_text() {
            collect(
                &searcher,
                tantivy_query.as_ref(),
                (page.order_by_score(), Count, facets),
                window,
            )?
        } else {
            let (top, total, facets) = collect(
                &searcher,
                tantivy_query.as_ref(),
                (
                    page.order_by_fast_field::<i64>("published", Order::Desc),
                    Count,
                    facets,
                ),
                window,
            )?;
            let unscored = top.into_iter().map(|(_, address)| (0.0, address)).collect();
            (unscored, total, facets)
        };
        let hits = self.hits(&searcher, tantivy_query.as_ref(), query.has_text(), ranked)?;
        Ok(SearchResults {
            total,
            hits,
            facets,
        })
    }

    fn hits(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        highlight: bool,
        ranked: Vec<(f32, DocAddress)>,
    ) -> Result<Vec<Hit>, SearchError> {
        let fields = &self.fields;
        // The first of these with a highlighted word gives the snippet: the summary is written
        // to be read alone, the key points next, the full text is the last resort.
        let snippet_fields = [fields.summary, fields.key_points, fields.full_text];
        let generators = if highlight {
            snippet_fields
                .iter()
                .map(|field| {
                    let mut generator = SnippetGenerator::create(searcher, query, *field)?;
                    generator.set_max_num_chars(SNIPPET_BYTES);
                    Ok(generator)
                })
                .collect::<Result<Vec<_>, SearchError>>()?
        } else {
            Vec::new()
        };
        ranked
            .into_iter()
            .map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                let snippet_html = generators
                    .iter()
                    .map(|generator| {
                        let mut snippet = generator.snippet_from_doc(&doc);
                        snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
                        snippet
                    })
                    .find(|snippet| !snippet.highlighted().is_empty())
                    .map_or_else(
                        || leading_text(&doc, fields.summary, fields.full_text),
                        |snippet| snippet.to_html(),
                    );
                Ok(Hit {
                    id: doc
                        .get_first(fields.id)
                        .and_then(|v| v.as_i64())
                        .ok_or(SearchError::Corrupt("id"))?,
                    title: first_text(&doc, fields.title).to_owned(),
                    score,
                    published_on: doc
                        .get_first(fields.published)
                        .and_then(|v| v.as_i64())
                        .and_then(date_from_day_number),
                    snippet_html,
                })
            })
            .collect()
    }
}

/// Runs `collector` over the matches of `query`, keeping only policies in the window state when
/// one is asked for: the state depends on the day, so it is a filter on the packed windows at
/// collection time rather than a term in the index.
fn collect<C: Collector>(
    searcher: &Searcher,
    query: &dyn Query,
    collector: C,
    window: Option<(ApplicationWindow, i64)>,
) -> Result<C::Fruit, SearchError> {
    let fruit = match window {
        None => searcher.search(query, &collector)?,
        Some((state, day)) => searcher.search(
            query,
            &FilterCollector::new(
                "windows".to_owned(),
                move |packed: u64| state.holds(packed, day),
                collector,
            ),
        )?,
    };
    Ok(fruit)
}

fn first_text(doc: &TantivyDocument, field: Field) -> &str {
    doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("")
}

/// The opening of the summary (or of the full text when there is no summary), escaped, for hits
/// where no query word shows in a stored field.
fn leading_text(doc: &TantivyDocument, summary: Field, full_text: Field) -> String {
    let text = Some(first_text(doc, summary))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| first_text(doc, full_text));
    let mut chars = text.chars();
    let mut html = escape_html(
        &chars
            .by_ref()
            .take(SNIPPET_FALLBACK_CHARS)
            .collect::<String>(),
    );
    if chars.next().is_some() {
        html.push('…');
    }
    html
}

fn escape_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            _ => html.push(c),
        }
    }
    html
}
