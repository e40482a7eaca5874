//! [`SqsError`]: one variant per AWS error code a caller (the wire endpoint) must reproduce.

use store::StoreError;

/// An SQS error. [`SqsError::code`] gives the AWS error code (the JSON protocol's short name); the
/// message (`Display`) names the offending value, as AWS's messages do.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    #[error("The specified queue does not exist: `{0}`")]
    QueueDoesNotExist(String),
    #[error("A queue already exists with the name `{0}` and different attributes")]
    QueueAlreadyExists(String),
    #[error("Unknown Attribute `{0}`")]
    InvalidAttributeName(String),
    #[error("Invalid value for the parameter {name}: {reason}")]
    InvalidAttributeValue { name: String, reason: String },
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("The request must contain the parameter {0}")]
    MissingParameter(String),
    #[error("The input receipt handle `{0}` is not a valid receipt handle")]
    ReceiptHandleIsInvalid(String),
    #[error("The message referred to by receipt handle `{0}` is not in flight")]
    MessageNotInflight(String),
    #[error("{0}")]
    OverLimit(String),
    #[error("Maximum number of entries per request are 10; the request has {0}")]
    TooManyEntriesInBatchRequest(usize),
    #[error("Id `{0}` repeated")]
    BatchEntryIdsNotDistinct(String),
    #[error("Batch requests cannot be longer than {limit} bytes; this one has {size}")]
    BatchRequestTooLong { size: usize, limit: usize },
    #[error(
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores and \
         be at most 80 characters long: `{0}`"
    )]
    InvalidBatchEntryId(String),
    #[error("There should be at least one entry in the request")]
    EmptyBatchRequest,
    #[error("Only one PurgeQueue operation on `{0}` is allowed every 60 seconds")]
    PurgeQueueInProgress(String),
    #[error("Invalid characters found in the message body: {0}")]
    InvalidMessageContents(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("internal error: {0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SqsError {
    fn from(e: rusqlite::Error) -> SqsError {
        SqsError::Store(StoreError::Sqlite(e))
    }
}

impl SqsError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            SqsError::QueueDoesNotExist(_) => "QueueDoesNotExist",
            SqsError::QueueAlreadyExists(_) => "QueueAlreadyExists",
            SqsError::InvalidAttributeName(_) => "InvalidAttributeName",
            SqsError::InvalidAttributeValue { .. } => "InvalidAttributeValue",
            SqsError::InvalidParameterValue(_) => "InvalidParameterValue",
            SqsError::MissingParameter(_) => "MissingParameter",
            SqsError::ReceiptHandleIsInvalid(_) => "ReceiptHandleIsInvalid",
            SqsError::MessageNotInflight(_) => "MessageNotInflight",
            SqsError::OverLimit(_) => "OverLimit",
            SqsError::TooManyEntriesInBatchRequest(_) => "TooManyEntriesInBatchRequest",
            SqsError::BatchEntryIdsNotDistinct(_) => "BatchEntryIdsNotDistinct",
            SqsError::BatchRequestTooLong { .. } => "BatchRequestTooLong",
            SqsError::InvalidBatchEntryId(_) => "InvalidBatchEntryId",
            SqsError::EmptyBatchRequest => "EmptyBatchRequest",
            SqsError::PurgeQueueInProgress(_) => "PurgeQueueInProgress",
            SqsError::InvalidMessageContents(_) => "InvalidMessageContents",
            SqsError::ResourceNotFound(_) => "ResourceNotFoundException",
            SqsError::UnsupportedOperation(_) => "UnsupportedOperation",
            SqsError::Store(_) => "InternalError",
        }
    }

    /// Whether the caller's request was at fault (AWS's `SenderFault`; HTTP 4xx rather than 5xx).
    pub fn is_sender_fault(&self) -> bool {
        !matches!(self, SqsError::Store(_))
    }

    /// The AWS code of the older query protocol, where it differs from [`SqsError::code`].
    pub fn legacy_code(&self) -> &'static str {
        match self {
            SqsError::QueueDoesNotExist(_) => "AWS.SimpleQueueService.NonExistentQueue",
            SqsError::QueueAlreadyExists(_) => "QueueAlreadyExists",
            SqsError::PurgeQueueInProgress(_) => "AWS.SimpleQueueService.PurgeQueueInProgress",
            SqsError::TooManyEntriesInBatchRequest(_) => {
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
            }
            SqsError::BatchEntryIdsNotDistinct(_) => {
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
            }
            SqsError::BatchRequestTooLong { .. } => "AWS.SimpleQueueService.BatchRequestTooLong",
            SqsError::InvalidBatchEntryId(_) => "AWS.SimpleQueueService.InvalidBatchEntryId",
            SqsError::EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            SqsError::MessageNotInflight(_) => "AWS.SimpleQueueService.MessageNotInflight",
            SqsError::UnsupportedOperation(_) => "AWS.SimpleQueueService.UnsupportedOperation",
            other => other.code(),
        }
    }
}
