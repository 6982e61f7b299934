//! A quoted stretch of the 原文: byte offsets (for Rust), character offsets (for the editor's
//! highlighting in JavaScript, which counts UTF-16 units — the same as characters for the CJK
//! text of policies, outside the astral planes) and the text itself.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub char_start: usize,
    pub char_end: usize,
    pub text: String,
}

impl Span {
    /// The span `start..end` (byte offsets on character boundaries) of `text`.
    pub fn new(text: &str, start: usize, end: usize) -> Self {
        let char_start = text[..start].chars().count();
        let quoted = &text[start..end];
        Span {
            start,
            end,
            char_start,
            char_end: char_start + quoted.chars().count(),
            text: quoted.to_owned(),
        }
    }

    /// Whether two spans share at least one byte.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}
