//! The crate's one error type: problems that stop a whole import. Problems of single rows are
//! never errors; they go into the [`crate::ImportReport`].

use crate::RowError;
use crate::limits::LimitExceeded;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),

    #[error("not a readable .xlsx workbook: {0}")]
    Xlsx(#[from] calamine::XlsxError),

    #[error("not a readable .xlsx workbook: {0}")]
    Zip(#[from] zip::result::ZipError),

    /// The workbook's XML cannot be read.
    #[error("not a readable .xlsx workbook: {0}")]
    Unreadable(String),

    /// The file is over one of the [`crate::ImportLimits`]: refused whole, before anything is
    /// written.
    #[error("{}", .0.message_en)]
    Limit(#[from] LimitExceeded),

    #[error("the workbook has no worksheet")]
    NoSheet,

    #[error("the file is empty: its first row must name the columns")]
    NoHeader,

    #[error("unsupported file type {0:?}: use .csv or .xlsx")]
    UnsupportedFile(String),

    /// The file is not UTF-8; the messages say which encoding it looks like.
    #[error("{message_en}")]
    Encoding {
        message_zh: String,
        message_en: String,
    },

    /// The header row (row 1) names unknown or repeated columns, or lacks `kind`: every row would
    /// fail the same way, so nothing is imported.
    #[error("the header row is wrong: {}", .0.iter().map(|e| e.message_en.as_str()).collect::<Vec<_>>().join("; "))]
    Header(Vec<RowError>),

    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl ImportError {
    /// The message in Chinese, for the CLI and the job status.
    pub fn message_zh(&self) -> String {
        match self {
            Self::Io(error) => format!("无法读取文件：{error}"),
            Self::Xlsx(error) => format!("不是可读取的 .xlsx 工作簿：{error}"),
            Self::Zip(error) => format!("不是可读取的 .xlsx 工作簿：{error}"),
            Self::Unreadable(error) => format!("不是可读取的 .xlsx 工作簿：{error}"),
            Self::Limit(exceeded) => exceeded.message_zh.clone(),
            Self::NoSheet => "工作簿中没有工作表".to_owned(),
            Self::NoHeader => "文件为空：第一行应为列名".to_owned(),
            Self::UnsupportedFile(name) => {
                format!("不支持的文件类型“{name}”：请使用 .csv 或 .xlsx")
            }
            Self::Encoding { message_zh, .. } => message_zh.clone(),
            Self::Header(errors) => format!(
                "表头（第 1 行）有误：{}",
                errors
                    .iter()
                    .map(|e| e.message_zh.as_str())
                    .collect::<Vec<_>>()
                    .join("；")
            ),
            Self::Store(error) => format!("数据库错误：{error}"),
        }
    }
}
