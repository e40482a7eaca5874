//! The sales cascade's collectors: the library behind the three Lambda binaries
//! (`branch-collector`, `salesperson-collector`, `sale-collector`), each a thin `main` over
//! [`Context::from_env`] and one handler.
//!
//! A stage fetches records from the vendor API, checks them one by one, writes the new and
//! changed ones to its DynamoDB table and sends one message per record to the next stage:
//!
//! ```text
//! schedule -> handle_schedule -> branch table + employee queue
//!          -> handle_branch_batch -> salesperson table + sale queue
//!          -> handle_salesperson_batch -> sale table
//! ```
//!
//! Layout:
//! - `config`: [`Config`] from the environment, per [`Stage`].
//! - `message`: the versioned JSON messages between stages.
//! - `vendor`: the vendor API client (pages, timeout, retries with backoff and jitter).
//! - `page`: a page of the vendor read into raw records, the members of each kind of record.
//! - `records`: checks of vendor records and the table items they become.
//! - `table`: idempotent upserts (compare, then write only what changed).
//! - `queue`: SendMessageBatch in tens.
//! - `telemetry`: the per-invocation summary, counters and the `Cascade/Sales` metrics.
//! - `time`: the injected clock and sleeper, timestamp spellings.
//! - `handlers`: the three handlers.

pub mod config;
pub mod handlers;
pub mod message;
pub mod page;
pub mod queue;
pub mod records;
pub mod table;
pub mod telemetry;
pub mod time;
pub mod vendor;

use std::sync::Arc;

/// The allocator of the three functions (each `main` installs it as the global allocator): a
/// collector builds and drops many small maps and strings per record, and mimalloc spends less
/// time on that: in a profile of W1, the C library, mostly its allocator, took about 40% of a
/// collector's time.
pub use mimalloc::MiMalloc as Allocator;

pub use aws_config::SdkConfig;
pub use config::{Config, ConfigError, Stage};
pub use handlers::{
    handle_branch_batch, handle_salesperson_batch, handle_schedule, HandlerError, RunStarted,
    ScheduleEvent,
};
pub use message::{BranchMessage, MessageError, SalespersonMessage};
pub use telemetry::{Counters, Tally};
pub use time::{Clock, FixedClock, RecordingSleeper, Sleeper, SystemClock, TokioSleeper};
pub use vendor::{RetryPolicy, VendorClient, VendorError};

use crate::queue::Queue;
use crate::records::{BRANCH_TABLE, SALESPERSON_TABLE, SALE_TABLE};
use crate::table::Table;
use crate::telemetry::Metrics;

/// Everything a handler uses, built once per process and shared by its invocations.
pub struct Context {
    pub config: Config,
    pub vendor: VendorClient,
    pub table: Table,
    /// The queue the stage feeds; `None` for the sale collector.
    pub queue: Option<Queue>,
    pub metrics: Metrics,
    pub clock: Arc<dyn Clock>,
    pub counters: Arc<Counters>,
}

impl Context {
    /// Builds the stage's context from an AWS configuration, a clock and a sleeper (tests pass a
    /// pinned clock and a sleeper that does not wait).
    pub fn new(
        config: Config,
        aws: &SdkConfig,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Context {
        let policy = RetryPolicy {
            max_attempts: config.max_attempts,
            ..RetryPolicy::default()
        };
        let vendor = VendorClient::new(
            &config.vendor_url,
            config.vendor_timeout,
            config.page_limit,
            policy,
            sleeper.clone(),
            clock.clone(),
        );
        let spec = match config.stage {
            Stage::Branches => BRANCH_TABLE,
            Stage::Salespersons => SALESPERSON_TABLE,
            Stage::Sales => SALE_TABLE,
        };
        let table = Table::new(
            aws_sdk_dynamodb::Client::new(aws),
            &config.table_name,
            spec,
            sleeper.clone(),
        );
        let queue = config
            .target_queue_url
            .as_deref()
            .map(|url| Queue::new(aws_sdk_sqs::Client::new(aws), url, sleeper.clone()));
        let metrics = Metrics::new(aws_sdk_cloudwatch::Client::new(aws), &config.environment);
        Context {
            config,
            vendor,
            table,
            queue,
            metrics,
            clock,
            counters: Arc::new(Counters::default()),
        }
    }

    /// The context of a Lambda process: the stage's variables, the AWS configuration from the
    /// environment (region, credentials, and `AWS_ENDPOINT_URL` for a local endpoint), the
    /// system clock and the Tokio timer.
    pub async fn from_env(stage: Stage) -> anyhow::Result<Context> {
        let config = Config::from_env(stage)?;
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http_client())
            .load()
            .await;
        Ok(Context::new(
            config,
            &aws,
            Arc::new(SystemClock),
            Arc::new(TokioSleeper),
        ))
    }
}

/// The HTTP client of the AWS SDK clients: hyper with rustls on *ring* (no CMake, no aws-lc),
/// platform root certificates; plain HTTP for a local endpoint.
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Sets up logging for a collector process: one line per event on standard output (Lambda turns
/// each into a log event), filtered by `AWS_LAMBDA_LOG_LEVEL`, `LOGGING_LEVEL` or `RUST_LOG`
/// (first set wins; `info` otherwise).
pub fn init_logging() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "LOGGING_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "info".to_owned())
        .to_ascii_lowercase();
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
}
