//! The AWS-compatible endpoint: SQS, DynamoDB and DynamoDB Streams, CloudWatch and CloudWatch Logs,
//! SNS, CloudFormation (read) and Lambda on one HTTP/1.1 port.
//!
//! The endpoint only translates. It reads AWS's wire shapes (AWS JSON 1.0 by `X-Amz-Target`, the
//! SQS query protocol by `Action`), calls the engines of the `sqs` and `dynamodb` crates with their
//! typed requests, and writes their typed results and errors back in the same protocol. No wire
//! shape leaves this crate, and no service rule lives in it.
//!
//! Layout:
//! - `config.rs`: [`ServeConfig`] and its rules (an auth token off loopback), the start-up line.
//! - `server.rs`: the hyper listener, body limit, identity, routing, engine calls.
//! - `identity.rs`: access keys, the [`KeyRegistry`] of issued keys, SigV4 verification.
//! - `error.rs`: [`ApiError`] and its rendering in each protocol's error shape.
//! - `wire.rs`: reading members of a JSON request with AWS's errors for wrong types.
//! - `sqs_api.rs` (operations, JSON in and out; the queue cycle's answers are plain structs
//!   serialized without a JSON value tree) and `sqs_query.rs` (form text to the same JSON shape,
//!   results to XML).
//! - `dynamodb_api.rs` (DynamoDB and Streams operations) and `dynamodb_values.rs` (attribute
//!   values, items and table descriptions as JSON); `dynamodb_typed.rs`, the fast path of
//!   PutItem, BatchWriteItem and BatchGetItem (the body read straight into the engine's types).
//! - `lambda_api.rs`: the Lambda API (REST-JSON under `/2015-03-31/`): ListFunctions,
//!   GetFunction, GetFunctionConfiguration and Invoke, answered by the Lambda service in
//!   [`Services::functions`]; ListEventSourceMappings and GetEventSourceMapping, from the
//!   deployed-stack registry.
//! - `logs_api.rs`: CloudWatch Logs, read side (AWS JSON 1.1): the functions' log groups and
//!   streams, GetLogEvents and FilterLogEvents, read from the store.
//! - [`runtime`]: the tokio configuration every process serving the endpoint runs on.

mod authorize;
mod cloudformation_api;
mod cloudwatch_api;
mod config;
mod dynamodb_api;
mod dynamodb_typed;
mod dynamodb_values;
mod error;
mod identity;
mod lambda_api;
mod logs_api;
mod server;
mod sns_api;
mod sqs_api;
mod sqs_query;
mod wire;

use std::sync::{Arc, RwLock};

use anyhow::Context;
use store::{Clock, Options, Store, SystemClock};
use tokio::net::TcpListener;

pub use authorize::{Authorizer, AuthorizerSlot, IamAuthorizer};
pub use config::{
    ConfigError, ServeConfig, AUTH_TOKEN_ENV, DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, STORE_FILE,
};
pub use error::{ApiError, Protocol};
pub use identity::{Identity, KeyRegistry, Principal, SigV4};
/// The engines behind [`Services`], for hosts that sync them from the deployed stacks.
pub use {::cloudwatch, ::iam, ::sns};

/// The engines behind the endpoint, sharing one store and one clock.
#[derive(Clone)]
pub struct Services {
    pub sqs: ::sqs::Sqs,
    pub dynamodb: ::dynamodb::DynamoDb,
    /// The access keys the engine issued.
    pub keys: KeyRegistry,
    pub clock: Arc<dyn Clock>,
    pub cloudwatch: ::cloudwatch::CloudWatch,
    /// SNS; it is also the CloudWatch engine's alarm notifier.
    pub sns: ::sns::Sns,
    /// The deployed-stack registry the CloudFormation read API answers from.
    pub stacks: ::stacks::Registry,
    /// Consulted for requests signed with issued keys; while empty they may do everything.
    pub authorizer: AuthorizerSlot,
    /// The Lambda service the Lambda API answers from, set by a host that runs functions
    /// (`up`, `invoke`); while empty, the Lambda API answers that functions are not running.
    pub functions: Slot<::lambda::Lambda>,
}

/// A part of the services that its host sets once it exists (the authorizer once the roles are
/// read, the Lambda service once it starts), replaceable while the endpoint serves. Cheap to
/// clone; clones share the slot.
pub struct Slot<T> {
    /// A `std::sync::RwLock`: held only to clone or replace the value, never during a call.
    inner: Arc<RwLock<Option<T>>>,
}

impl<T: Clone> Slot<T> {
    /// Sets (or with `None` empties) the slot.
    pub fn set(&self, value: Option<T>) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = value;
    }

    pub fn get(&self) -> Option<T> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Slot<T> {
        Slot {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Slot<T> {
        Slot {
            inner: Arc::new(RwLock::new(None)),
        }
    }
}

impl Services {
    /// Opens both engines on `store` with `clock`.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> anyhow::Result<Services> {
        let sqs = ::sqs::Sqs::new(store.clone(), Arc::clone(&clock), ::sqs::Config::default())
            .context("open the SQS engine")?;
        let dynamodb = ::dynamodb::DynamoDb::new(store.clone(), Arc::clone(&clock))
            .context("open the DynamoDB engine")?;
        let cloudwatch = ::cloudwatch::CloudWatch::new(
            store.clone(),
            Arc::clone(&clock),
            ::cloudwatch::Config::default(),
        )
        .context("open the CloudWatch engine")?;
        let sns = ::sns::Sns::new(
            store,
            Arc::clone(&clock),
            ::sns::Config::default(),
            Some(sqs.clone()),
        )
        .context("open the SNS engine")?;
        cloudwatch.set_notifier(Arc::new(sns.clone()));
        let stacks = ::stacks::Registry::open(sqs.store().clone())
            .context("open the deployed-stack registry")?;
        Ok(Services {
            sqs,
            dynamodb,
            keys: KeyRegistry::default(),
            clock,
            cloudwatch,
            sns,
            stacks,
            authorizer: AuthorizerSlot::default(),
            functions: Slot::default(),
        })
    }

    /// Opens the store of `config.state_dir` on the system clock.
    pub fn open(config: &ServeConfig) -> anyhow::Result<Services> {
        let path = config.state_dir.join(STORE_FILE);
        let store = Store::open(&path, Options::default())
            .with_context(|| format!("open the store `{}`", path.display()))?;
        Services::new(store, Arc::new(SystemClock))
    }
}

/// The async runtime of a process that serves the endpoint (`cascade serve`, `up`, `invoke`, and
/// the endpoint's load benchmark).
///
/// Two workers, one per core of a small machine. The blocking pool, whose threads take over a
/// worker's other tasks while it runs a request's store work in place (`store::blocking`), is
/// capped at 8 threads: with tokio's default of 512, a burst of concurrent requests
/// starts a thread each, every new thread gets fresh allocator pages and its own read connection,
/// and the threads then fight over two cores. On W1 at 200,000 sales, a cap of 6 or 8 took the
/// engine's peak memory from 394 MiB to 67 to 76 MiB and `up --once` from 11.2 s to 9.3 to 11.4 s
/// (a noisy machine); a cap of 3 was slower, as fewer concurrent writers share each commit.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
}

/// `cascade serve`: checks the configuration, opens the environment's store, prints the start-up
/// line to standard error and serves `listener` until the task is dropped.
pub async fn serve(config: ServeConfig, listener: TcpListener) -> anyhow::Result<()> {
    config.check()?;
    let services = Services::open(&config)?;
    let bound = listener.local_addr().context("read the bound address")?;
    eprintln!("{}", config.startup_message(bound));
    serve_with(config, services, listener).await
}

/// Serves `listener` with engines the caller opened (tests use a temporary store and their clock).
pub async fn serve_with(
    config: ServeConfig,
    services: Services,
    listener: TcpListener,
) -> anyhow::Result<()> {
    config.check()?;
    server::run(config, services, listener).await;
    Ok(())
}
