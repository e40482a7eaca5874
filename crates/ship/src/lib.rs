//! Shipping a project to AWS: what `cascade package` and `cascade deploy --target aws` do.
//!
//! - [`package`](mod@package): build and zip each function ([`artifact`]), rewrite `CodeUri`,
//!   `Code` and `TemplateURL` in the templates' own text ([`rewrite`]), upload under
//!   content-addressed keys to a bucket created when absent.
//! - [`deploy`](mod@deploy): CloudFormation change sets, executed and followed event by event;
//!   `destroy` deletes a stack and says what was retained. The event rules are plain data in
//!   [`events`].
//! - [`client`]: the AWS clients from the standard credential chain, with overrides.
//!
//! The crate writes progress lines to a `Write` it is handed and never decides exit codes: the
//! CLI does.

pub mod artifact;
pub mod client;
pub mod deploy;
pub mod error;
pub mod events;
pub mod package;
pub mod rewrite;

pub use artifact::Build;
pub use client::{AwsOptions, Clients};
pub use deploy::{
    deploy, destroy, DeployOptions, Destroyed, Failure, Outcome, Retained, TemplateSource,
};
pub use error::ShipError;
pub use package::{package, PackageOptions, Packaged, Plan};
