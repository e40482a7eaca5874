//! [`CloudWatchError`]: one variant per AWS error code the wire endpoint must reproduce.

use store::StoreError;

/// A CloudWatch error; [`CloudWatchError::code`] is AWS's error code, the message names the value.
#[derive(Debug, thiserror::Error)]
pub enum CloudWatchError {
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    #[error("The parameter {0} is required.")]
    MissingParameter(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    InvalidFormat(String),
    #[error("internal error: {0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for CloudWatchError {
    fn from(e: rusqlite::Error) -> CloudWatchError {
        CloudWatchError::Store(StoreError::Sqlite(e))
    }
}

impl CloudWatchError {
    /// AWS's error code.
    pub fn code(&self) -> &'static str {
        match self {
            CloudWatchError::InvalidParameterValue(_) => "InvalidParameterValue",
            CloudWatchError::InvalidParameterCombination(_) => "InvalidParameterCombination",
            CloudWatchError::MissingParameter(_) => "MissingParameter",
            CloudWatchError::ResourceNotFound(_) => "ResourceNotFound",
            CloudWatchError::InvalidFormat(_) => "InvalidFormat",
            CloudWatchError::Store(_) => "InternalServiceError",
        }
    }

    /// Whether the caller is at fault (HTTP 400) rather than the service (HTTP 500).
    pub fn is_sender_fault(&self) -> bool {
        !matches!(self, CloudWatchError::Store(_))
    }
}
