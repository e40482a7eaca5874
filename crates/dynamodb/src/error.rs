//! The errors of the DynamoDB layer, one variant per AWS error code a caller may branch on.
//!
//! Messages are DynamoDB's own texts where they are known, so that a client printing them sees
//! what AWS would print. The wire shape (`__type`, HTTP status) is built by the HTTP endpoint from
//! [`Error::code`]; nothing here knows about JSON.

use crate::value::Item;

/// Why one action of a transaction was cancelled (`CancellationReasons` of AWS).
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationReason {
    /// `None`, `ConditionalCheckFailed`, `ValidationError`, ...
    pub code: String,
    pub message: Option<String>,
    /// The item as it was, when the action asked for it with `ReturnValuesOnConditionCheckFailure`.
    pub item: Option<Item>,
}

/// An error of a DynamoDB or DynamoDB Streams operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; the message names what and where.
    #[error("{0}")]
    Validation(String),
    /// A table or stream that does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// Creating a table that exists, or deleting one that is in use.
    #[error("{0}")]
    ResourceInUse(String),
    /// A ConditionExpression evaluated to false. `item` is the current item when the request set
    /// `ReturnValuesOnConditionCheckFailure` to `ALL_OLD`.
    #[error("The conditional request failed")]
    ConditionalCheckFailed { item: Option<Item> },
    /// A transaction was cancelled; one reason per action, in request order.
    #[error("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", .reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", "))]
    TransactionCanceled { reasons: Vec<CancellationReason> },
    /// A shard iterator older than 15 minutes.
    #[error("{0}")]
    ExpiredIterator(String),
    /// A failure of the store underneath (disk, corruption). Never caused by the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The AWS error code (`__type` without its namespace).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "ValidationException",
            Error::ResourceNotFound(_) => "ResourceNotFoundException",
            Error::ResourceInUse(_) => "ResourceInUseException",
            Error::ConditionalCheckFailed { .. } => "ConditionalCheckFailedException",
            Error::TransactionCanceled { .. } => "TransactionCanceledException",
            Error::ExpiredIterator(_) => "ExpiredIteratorException",
            Error::Internal(_) => "InternalServerError",
        }
    }

    pub(crate) fn validation(message: impl Into<String>) -> Error {
        Error::Validation(message.into())
    }
}

impl From<store::rusqlite::Error> for Error {
    fn from(e: store::rusqlite::Error) -> Error {
        Error::Internal(format!("sqlite: {e}"))
    }
}

impl From<store::StoreError> for Error {
    fn from(e: store::StoreError) -> Error {
        Error::Internal(format!("store: {e}"))
    }
}
