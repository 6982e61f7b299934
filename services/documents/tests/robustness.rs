//! Any text, cut anywhere, is read and suggested without a panic, and every span points at the
//! text it quotes: the dev passages cut at every few characters, run together, and HTML with
//! stray ampersands and unclosed tags around Chinese text.

use documents::eval::{DEV_SET, parse_passages};
use documents::{Format, read, suggest};

fn spans_hold(text: &str) {
    let s = suggest(text);
    let chars: Vec<char> = text.chars().collect();
    let spans = s
        .conditions
        .iter()
        .map(|c| &c.span)
        .chain(s.amounts.iter().map(|a| &a.span))
        .chain(s.metadata.iter().filter_map(|m| m.span.as_ref()));
    for span in spans {
        assert_eq!(&text[span.start..span.end], span.text);
        let quoted: String = chars[span.char_start..span.char_end].iter().collect();
        assert_eq!(quoted, span.text);
    }
}

#[test]
fn cut_passages_never_panic_and_spans_point_at_their_text() {
    let passages = parse_passages(DEV_SET).unwrap();
    for passage in &passages {
        let text = &passage.text;
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(5).collect();
        for &cut in &cuts {
            spans_hold(&text[cut..]);
            spans_hold(&text[..cut]);
        }
    }
    let all: String = passages.iter().map(|p| p.text.as_str()).collect();
    spans_hold(&all);
}

#[test]
fn odd_html_is_read_without_a_panic() {
    for html in [
        "<p>企业&集团</p>",
        "<p>&#x4e2d;&#20013;&amp&;;&nbsp</p>",
        "<div>从业人数不超过300人<script>",
        "<p>&超过三百人以上的企业；",
        "<<>>&&;;<p>第一条",
        "<style>p{}</style><!-- 注释 -->百分之",
    ] {
        if let Ok(text) = read(Format::Html, html.as_bytes()) {
            spans_hold(&text);
        }
    }
    for odd in [
        "百分之",
        "一百万",
        "满",
        "以上",
        "(含)",
        "第条",
        "1.",
        "京政办发〔〕号",
        "十十十百千万亿",
    ] {
        spans_hold(odd);
    }
}
