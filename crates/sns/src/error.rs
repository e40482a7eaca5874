//! [`SnsError`]: one variant per AWS error code the wire endpoint must reproduce.

use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    #[error("Invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotFound(String),
    #[error("internal error: {0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SnsError {
    fn from(e: rusqlite::Error) -> SnsError {
        SnsError::Store(StoreError::Sqlite(e))
    }
}

impl SnsError {
    /// AWS's error code (the query protocol's `Code`).
    pub fn code(&self) -> &'static str {
        match self {
            SnsError::InvalidParameter(_) => "InvalidParameter",
            SnsError::NotFound(_) => "NotFound",
            SnsError::Store(_) => "InternalError",
        }
    }

    /// AWS's HTTP status for the error.
    pub fn status(&self) -> u16 {
        match self {
            SnsError::InvalidParameter(_) => 400,
            SnsError::NotFound(_) => 404,
            SnsError::Store(_) => 500,
        }
    }
}
