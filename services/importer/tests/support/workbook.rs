//! A minimal XLSX workbook built in memory, for the tests that feed sheets to the importer: the
//! importer's own and the end-to-end upload tests include this one file.

/// A minimal workbook (inline strings, no shared strings or styles): one sheet declaring
/// `dimension`, with `rows` from A1 down, then the raw `<row>` elements `tail`, and the further
/// archive entries `extra` (name, content).
pub fn xlsx(
    dimension: &str,
    rows: &[Vec<String>],
    tail: &str,
    extra: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;

    let mut sheet_data = String::new();
    for (index, row) in rows.iter().enumerate() {
        sheet_data.push_str(&format!("<row r=\"{}\">", index + 1));
        for (column, text) in row.iter().enumerate() {
            let letter = char::from(b'A' + u8::try_from(column).expect("few columns"));
            sheet_data.push_str(&format!(
                "<c r=\"{letter}{}\" t=\"inlineStr\"><is><t>{text}</t></is></c>",
                index + 1
            ));
        }
        sheet_data.push_str("</row>");
    }
    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    const DOC: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let parts = [
        (
            "[Content_Types].xml",
                "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
                 <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
                 <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
                 <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
                 <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>"
                .to_owned(),
        ),
        (
            "_rels/.rels",
            format!(
                "<Relationships xmlns=\"{RELS}\"><Relationship Id=\"rId1\" Type=\"{DOC}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
            ),
        ),
        (
            "xl/workbook.xml",
            format!(
                "<workbook xmlns=\"{MAIN}\" xmlns:r=\"{DOC}\"><sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                "<Relationships xmlns=\"{RELS}\"><Relationship Id=\"rId1\" Type=\"{DOC}/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>"
            ),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
                 <worksheet xmlns=\"{MAIN}\"><dimension ref=\"{dimension}\"/><sheetData>{sheet_data}{tail}</sheetData></worksheet>"
            ),
        ),
    ];
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in parts
        .iter()
        .map(|(name, content)| (*name, content.as_bytes()))
        .chain(extra.iter().map(|(name, content)| (*name, &content[..])))
    {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(content).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}
