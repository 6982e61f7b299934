//! The one error type of the documents crate: a document that cannot be read.

/// Why a document could not be read; every variant names the problem in Chinese and English.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(
        "不支持的文件格式“{0}”（支持 .txt、.html、.docx） / unsupported format “{0}” (supported: .txt, .html, .docx)"
    )]
    UnsupportedFormat(String),
    #[error(
        "PDF 暂不支持，请另存为 .docx 或 .txt / PDF is not supported; save the document as .docx or .txt"
    )]
    Pdf,
    #[error("文本不是 UTF-8 编码 / the text is not UTF-8")]
    NotUtf8,
    #[error("文档为空 / the document is empty")]
    Empty,
    #[error("docx 文件损坏：{0} / the .docx file is damaged: {0}")]
    Docx(String),
    #[error(
        "文档过大：解压后超过 {0} 字节 / the document is too large: over {0} bytes uncompressed"
    )]
    TooLarge(u64),
}
