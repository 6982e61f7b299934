//! The one error type of the documents crate: a document that cannot be read. `Display` is the
//! English message; [`DocumentError::message_zh`] the Chinese one.

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("unsupported format “{0}” (supported: .txt, .html, .docx)")]
    UnsupportedFormat(String),
    #[error("PDF is not supported; save the document as .docx or .txt")]
    Pdf,
    #[error("the text is not UTF-8")]
    NotUtf8,
    #[error("the document is empty")]
    Empty,
    #[error("the .docx file is damaged: {0}")]
    Docx(String),
    #[error("the document is too large: over {0} bytes uncompressed")]
    TooLarge(u64),
}

impl DocumentError {
    pub fn message_zh(&self) -> String {
        match self {
            Self::UnsupportedFormat(name) => {
                format!("不支持的文件格式“{name}”（支持 .txt、.html、.docx）")
            }
            Self::Pdf => "PDF 暂不支持，请另存为 .docx 或 .txt".to_owned(),
            Self::NotUtf8 => "文本不是 UTF-8 编码".to_owned(),
            Self::Empty => "文档为空".to_owned(),
            Self::Docx(why) => format!("docx 文件损坏：{why}"),
            Self::TooLarge(limit) => format!("文档过大：解压后超过 {limit} 字节"),
        }
    }

    /// Both messages, for the command line.
    pub fn both(&self) -> String {
        format!("{} / {self}", self.message_zh())
    }
}
