//! The errors of packaging and deploying. Each variant is a case a caller may branch on or a user
//! must act on; AWS service errors keep the operation and the service's own message.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ShipError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{file}` is not a template: {message}")]
    Template { file: String, message: String },
    #[error("{file}: `{path}` ({what}) is outside the project folder")]
    OutsideProject {
        file: String,
        what: String,
        path: String,
    },
    #[error("{file}: nested templates form a cycle through `{path}`")]
    Cycle { file: String, path: String },
    #[error("{file}:{line}:{column}: cannot rewrite this value in place (write it as a one-line scalar)")]
    Rewrite {
        file: String,
        line: u32,
        column: u32,
    },
    #[error("{file}: `{path}` of `{logical_id}` does not exist")]
    MissingCode {
        file: String,
        logical_id: String,
        path: String,
    },
    #[error(
        "cargo-lambda is not installed (`{cargo} lambda` failed): install it with `pip install cargo-lambda`, \
         or build each function's `bootstrap` yourself and package with --no-build"
    )]
    CargoLambdaMissing { cargo: String },
    #[error("`cargo lambda build` failed for `{}` ({status})", dir.display())]
    BuildFailed { dir: PathBuf, status: String },
    #[error("no `bootstrap` for `{logical_id}`: looked in `{}`", looked.display())]
    NoBootstrap { logical_id: String, looked: PathBuf },
    #[error("cannot zip `{}`: {message}", path.display())]
    Zip { path: PathBuf, message: String },
    #[error("bucket `{bucket}` exists but is not reachable with these credentials ({message})")]
    BucketForbidden { bucket: String, message: String },
    #[error("AWS {operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    #[error("stack `{stack}` is {status}: {hint}")]
    StackState {
        stack: String,
        status: String,
        hint: &'static str,
    },
    #[error(
        "no changes to deploy: stack `{stack}` is up to date \
         (pass --no-fail-on-empty-changeset to count this as success)"
    )]
    NoChanges { stack: String },
    #[error("change set `{name}` failed: {reason}")]
    ChangeSetFailed { name: String, reason: String },
    #[error(
        "unknown capability `{0}` (CAPABILITY_IAM, CAPABILITY_NAMED_IAM or CAPABILITY_AUTO_EXPAND)"
    )]
    Capability(String),
    #[error("cannot write progress: {0}")]
    Output(#[from] std::io::Error),
}

impl ShipError {
    /// An AWS SDK error with the service's code and message (the SDK's own `Display` often says
    /// only "service error").
    pub(crate) fn aws<E>(operation: &'static str, err: E) -> ShipError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let message = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => DisplayErrorContext(&err).to_string(),
        };
        ShipError::Aws { operation, message }
    }
}
