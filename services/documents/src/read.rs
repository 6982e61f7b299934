//! Reading a policy document into plain text with its paragraph breaks: `.txt` (UTF-8),
//! `.html` (tags, scripts and styles dropped, block elements as line breaks, entities decoded) and
//! `.docx` (word/document.xml: one line per `<w:p>`, text from `<w:t>`). Bytes in, text out: the
//! caller does any file or network I/O. PDF is refused with a clear error.

use std::io::{Cursor, Read};

use quick_xml::events::Event;

use crate::error::DocumentError;

/// Largest text a .docx may inflate to; a zip bomb stops here.
pub const MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;

/// The formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Txt,
    Html,
    Docx,
}

impl Format {
    /// The format a file name's extension (or a bare format word) names.
    pub fn from_name(name: &str) -> Result<Self, DocumentError> {
        let extension = name
            .rsplit_once('.')
            .map_or(name, |(_, extension)| extension)
            .to_ascii_lowercase();
        match extension.as_str() {
            "txt" | "text" => Ok(Format::Txt),
            "html" | "htm" => Ok(Format::Html),
            "docx" => Ok(Format::Docx),
            "pdf" => Err(DocumentError::Pdf),
            _ => Err(DocumentError::UnsupportedFormat(name.to_owned())),
        }
    }
}

/// The document's text, paragraphs separated by line breaks, blank lines and trailing spaces
/// removed.
pub fn read(format: Format, bytes: &[u8]) -> Result<String, DocumentError> {
    let text = match format {
        Format::Txt => utf8(bytes)?.to_owned(),
        Format::Html => html_text(utf8(bytes)?),
        Format::Docx => docx_text(bytes)?,
    };
    let text = tidy(&text);
    if text.is_empty() {
        return Err(DocumentError::Empty);
    }
    Ok(text)
}

fn utf8(bytes: &[u8]) -> Result<&str, DocumentError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| DocumentError::NotUtf8)
}

fn tidy(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .map(|line| line.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}'))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Elements whose start or end breaks a line.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "title",
    "blockquote",
    "pre",
    "dd",
    "dt",
    "hr",
];

fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        push_decoded(&mut out, &rest[..open]);
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(close) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[1..close];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &rest[close + 1..];
        if matches!(name.as_str(), "script" | "style" | "noscript" | "template")
            && !tag.starts_with('/')
        {
            let end_tag = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = lower.find(&end_tag).map_or("", |end| {
                let after = &rest[end..];
                after.find('>').map_or("", |gt| &after[gt + 1..])
            });
            continue;
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            out.push('\n');
        } else if name == "td" || name == "th" {
            out.push(' ');
        }
    }
    push_decoded(&mut out, rest);
    // Inside a line, runs of whitespace from the HTML source are one space.
    out.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn push_decoded(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // An entity name is short: look for its ';' among the next few characters only.
        let end = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|end| entity(&rest[1..end]).map(|c| (c, end + 1)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" => ' ',
        "ldquo" => '“',
        "rdquo" => '”',
        "lsquo" => '‘',
        "rsquo" => '’',
        "mdash" => '—',
        "ndash" => '–',
        "middot" => '·',
        "hellip" => '…',
        _ => return None,
    })
}

fn docx_text(bytes: &[u8]) -> Result<String, DocumentError> {
    let damaged = |e: &dyn std::fmt::Display| DocumentError::Docx(e.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| damaged(&e))?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|_| DocumentError::Docx("word/document.xml missing".into()))?;
    let mut xml = String::new();
    entry
        .take(MAX_TEXT_BYTES + 1)
        .read_to_string(&mut xml)
        .map_err(|e| damaged(&e))?;
    if xml.len() as u64 > MAX_TEXT_BYTES {
        return Err(DocumentError::TooLarge(MAX_TEXT_BYTES));
    }
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut out = String::with_capacity(xml.len() / 4);
    let mut in_text = false;
    loop {
        match reader.read_event().map_err(|e| damaged(&e))? {
            Event::Start(element) if element.local_name().as_ref() == "t" => in_text = true,
            Event::End(element) => match element.local_name().as_ref() {
                "t" => in_text = false,
                "p" => out.push('\n'),
                _ => {}
            },
            Event::Empty(element) => match element.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                _ => {}
            },
            Event::Text(text) if in_text => out.push_str(&text.xml10_content()),
            Event::GeneralRef(reference) if in_text => {
                let c = match reference.resolve_char_ref().map_err(|e| damaged(&e))? {
                    Some(c) => Some(c),
                    None => entity(&reference),
                };
                out.extend(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn html_keeps_paragraphs_and_drops_scripts_styles_and_tags() {
        let html = "<html><head><title>关于印发的通知</title><style>p{color:red}</style>\
            <script>var x = '<p>不是正文</p>';</script></head><body><p>第一条&nbsp;为了\
            <b>支持</b>企业&amp;个人</p><!-- 注释 --><div>第二条 年满60周岁</div></body></html>";
        let text = read(Format::Html, html.as_bytes()).unwrap();
        assert_eq!(
            text,
            "关于印发的通知\n第一条 为了支持企业&个人\n第二条 年满60周岁"
        );
    }

    #[test]
    fn docx_paragraphs_come_from_w_p_and_text_from_w_t() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>京政办发〔2025〕8号</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">第一条 </w:t></w:r><w:r><w:t>从业人数不超过300人&amp;</w:t></w:r></w:p></w:body></w:document>"#;
        let mut bytes = Vec::new();
        {
            let mut zip = zip::ZipWriter::new(Cursor::new(&mut bytes));
            zip.start_file(
                "word/document.xml",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            zip.write_all(xml.as_bytes()).unwrap();
            zip.finish().unwrap();
        }
        let text = read(Format::Docx, &bytes).unwrap();
        assert_eq!(text, "京政办发〔2025〕8号\n第一条 从业人数不超过300人&");
    }

    #[test]
    fn formats_come_from_the_file_name_and_pdf_is_refused_clearly() {
        assert_eq!(Format::from_name("a/通知.DOCX").unwrap(), Format::Docx);
        assert_eq!(Format::from_name("x.htm").unwrap(), Format::Html);
        assert!(matches!(
            Format::from_name("x.pdf"),
            Err(DocumentError::Pdf)
        ));
        assert!(matches!(
            Format::from_name("x.doc"),
            Err(DocumentError::UnsupportedFormat(_))
        ));
        assert!(matches!(
            read(Format::Txt, b"\xff\xfe"),
            Err(DocumentError::NotUtf8)
        ));
        assert!(matches!(
            read(Format::Txt, b"  \n "),
            Err(DocumentError::Empty)
        ));
        assert!(matches!(
            read(Format::Docx, b"not a zip"),
            Err(DocumentError::Docx(_))
        ));
    }
}
