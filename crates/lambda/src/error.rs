//! The service's errors: [`SpecError`] for a definition that cannot run, [`LambdaError`] for a
//! call that failed (the variants a caller branches on carry AWS's error codes).

use std::path::PathBuf;

/// A resource definition the service cannot run, with the place of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Resources.{logical_id}.Properties.{property}: {message}")]
pub struct SpecError {
    pub logical_id: String,
    /// The property path, as `Timeout` or `ScalingConfig.MaximumConcurrency`.
    pub property: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// `ResourceNotFoundException`.
    #[error("Function not found: {0}")]
    FunctionNotFound(String),
    /// `TooManyRequestsException`: the function or the account is at its concurrency limit.
    #[error("Rate Exceeded: function `{function}` is at its concurrency limit of {limit}")]
    Throttled { function: String, limit: usize },
    /// `InvalidParameterValueException`.
    #[error("{0}")]
    InvalidParameter(String),
    /// `RequestTooLargeException`.
    #[error("Request payload of {size} bytes exceeds the limit of {limit} bytes")]
    RequestTooLarge { size: usize, limit: usize },
    /// The function's `bootstrap` could not be started (`Runtime.InvalidEntrypoint`).
    #[error("cannot start `{path}`: {source}")]
    Start {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A loopback listener or pipe could not be set up.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Sqs(#[from] sqs::SqsError),
    #[error(transparent)]
    DynamoDb(#[from] dynamodb::Error),
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The service is shutting down.
    #[error("the Lambda service has stopped")]
    Stopped,
}

impl LambdaError {
    /// AWS's error code of this error, as the Lambda API names it.
    pub fn code(&self) -> &'static str {
        match self {
            LambdaError::FunctionNotFound(_) => "ResourceNotFoundException",
            LambdaError::Throttled { .. } => "TooManyRequestsException",
            LambdaError::InvalidParameter(_) | LambdaError::Spec(_) => {
                "InvalidParameterValueException"
            }
            LambdaError::RequestTooLarge { .. } => "RequestTooLargeException",
            _ => "ServiceException",
        }
    }
}

impl From<store::rusqlite::Error> for LambdaError {
    fn from(e: store::rusqlite::Error) -> LambdaError {
        LambdaError::Store(store::StoreError::from(e))
    }
}
