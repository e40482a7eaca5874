//! The real parts the tests run the collectors against, and the check helpers.
//!
//! - [`Cloud`]: the `api` endpoint on a temporary store, with the tables and queues of the
//!   shipped stacks (`template.yml` resolved by the `template` crate) created through the AWS SDK.
//! - [`Vendor`]: the demo vendor API on an ephemeral port.
//! - [`Stages`]: one collector `Context` per stage, configured from the resolved environment
//!   variables of the shipped functions (so a renamed variable fails here), pointed at both.
//! - [`Stages::run`]: the cascade once: the schedule handler, then each queue drained by an
//!   event-source-mapping loop that calls the batch handlers with real SQS events.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use collector::{Config, Context, FixedClock, Sleeper, Stage};
use serde_json::Value;
use vendor_api::{Config as VendorConfig, Dataset, ManualClock};

/// The end of the sales window in every test, and the collectors' clock.
pub const NOW: u64 = 1_700_000_000;

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// The workspace root, where `template.yml` is.
fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct DiskLoader(std::path::PathBuf);

impl template::Loader for DiskLoader {
    fn read(&self, path: &str) -> Result<String, template::LoadError> {
        std::fs::read_to_string(self.0.join(path))
            .map_err(|_| template::LoadError::NotFound(path.to_owned()))
    }

    fn exists(&self, path: &str) -> bool {
        self.0.join(path).exists()
    }
}

/// The shipped stacks for environment `dev` with the vendor at `vendor_url`.
pub fn shipped_project(vendor_url: &str) -> template::Project {
    let mut options = template::Options::default();
    options
        .params
        .insert("VendorApiUrl".to_owned(), vendor_url.to_owned());
    let project = template::load("template.yml", &DiskLoader(project_root()), &options);
    let errors: Vec<String> = project
        .diagnostics
        .iter()
        .filter(|d| d.severity == template::Severity::Error)
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(
        errors.is_empty(),
        "the shipped stacks have errors: {errors:#?}"
    );
    project
}

/// Every resource of a type in the shipped stacks, by logical id.
pub fn resources<'a>(
    project: &'a template::Project,
    type_: &str,
) -> Vec<(&'a str, &'a template::Resource)> {
    project
        .stacks
        .iter()
        .flat_map(|stack| stack.resources.iter())
        .filter(|(_, resource)| resource.type_ == type_)
        .map(|(id, resource)| (id.as_str(), resource))
        .collect()
}

/// The local cloud: the endpoint on a temporary store.
pub struct Cloud {
    pub aws: collector::SdkConfig,
    _dir: tempfile::TempDir,
}

impl Cloud {
    pub async fn start() -> Cloud {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = store::Store::open(&dir.path().join("state.db"), store::Options::default())
            .expect("open the store");
        let services =
            api::Services::new(store, Arc::new(store::SystemClock)).expect("open the engines");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let mut config = api::ServeConfig::new("dev", dir.path());
        config.listen = addr;
        tokio::spawn(api::serve_with(config, services, listener));
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "AKIDLOCAL",
                "secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(format!("http://{addr}"))
            .http_client(collector::http_client())
            .load()
            .await;
        Cloud { aws, _dir: dir }
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.aws)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.aws)
    }

    pub fn streams(&self) -> aws_sdk_dynamodbstreams::Client {
        aws_sdk_dynamodbstreams::Client::new(&self.aws)
    }

    /// Creates the tables and queues of the shipped stacks, as their properties say.
    pub async fn deploy(&self, project: &template::Project) {
        let db = self.dynamodb();
        for (id, table) in resources(project, "AWS::DynamoDB::Table") {
            let p = &table.properties;
            let mut create = db
                .create_table()
                .table_name(str_of(&p["TableName"]))
                .billing_mode(BillingMode::PayPerRequest);
            for key in p["KeySchema"].as_array().expect("KeySchema") {
                create = create.key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(str_of(&key["AttributeName"]))
                        .key_type(KeyType::from(str_of(&key["KeyType"])))
                        .build()
                        .expect("key"),
                );
            }
            for attribute in p["AttributeDefinitions"].as_array().expect("definitions") {
                create = create.attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(str_of(&attribute["AttributeName"]))
                        .attribute_type(ScalarAttributeType::from(str_of(
                            &attribute["AttributeType"],
                        )))
                        .build()
                        .expect("definition"),
                );
            }
            if let Some(view) = p["StreamSpecification"]["StreamViewType"].as_str() {
                create = create.stream_specification(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::from(view))
                        .build()
                        .expect("stream"),
                );
            }
            create
                .send()
                .await
                .unwrap_or_else(|e| panic!("create table {id}: {e:?}"));
        }
        let sqs = self.sqs();
        let mut queues = resources(project, "AWS::SQS::Queue");
        // Dead-letter queues first: a redrive policy names an existing queue.
        queues.sort_by_key(|(_, queue)| queue.properties.get("RedrivePolicy").is_some());
        for (id, queue) in queues {
            let p = &queue.properties;
            let mut create = sqs.create_queue().queue_name(str_of(&p["QueueName"]));
            for (name, attribute) in [
                ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
                (
                    "MessageRetentionPeriod",
                    QueueAttributeName::MessageRetentionPeriod,
                ),
            ] {
                if let Some(value) = p.get(name) {
                    create = create.attributes(attribute, text_of(value));
                }
            }
            if let Some(redrive) = p.get("RedrivePolicy") {
                create = create.attributes(QueueAttributeName::RedrivePolicy, redrive.to_string());
            }
            create
                .send()
                .await
                .unwrap_or_else(|e| panic!("create queue {id}: {e:?}"));
        }
    }

    /// Every item of a table, as sorted maps, keys first in the text.
    pub async fn scan(&self, table: &str) -> Vec<BTreeMap<String, AttributeValue>> {
        crate::expected::scan_table(&self.dynamodb(), table).await
    }

    /// Every stream record of a table so far: `(event name, keys as text)`.
    pub async fn stream_records(&self, table: &str) -> Vec<(String, String)> {
        let arn = self
            .dynamodb()
            .describe_table()
            .table_name(table)
            .send()
            .await
            .expect("describe table")
            .table
            .and_then(|t| t.latest_stream_arn)
            .expect("a stream");
        let streams = self.streams();
        let description = streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .expect("describe stream")
            .stream_description
            .expect("stream description");
        let mut records = Vec::new();
        for shard in description.shards.unwrap_or_default() {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id.unwrap_or_default())
                .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
                .send()
                .await
                .expect("shard iterator")
                .shard_iterator;
            while let Some(current) = iterator {
                let page = streams
                    .get_records()
                    .shard_iterator(current)
                    .send()
                    .await
                    .expect("get records");
                let got = page.records.unwrap_or_default();
                if got.is_empty() {
                    break;
                }
                for record in got {
                    let name = record
                        .event_name
                        .map(|n| n.as_str().to_owned())
                        .unwrap_or_default();
                    let keys = record
                        .dynamodb
                        .and_then(|d| d.keys)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, format!("{v:?}")))
                        .collect::<BTreeMap<_, _>>();
                    records.push((name, format!("{keys:?}")));
                }
                iterator = page.next_shard_iterator;
            }
        }
        records
    }

    /// The number of messages in a queue, visible or not.
    pub async fn depth(&self, queue_name: &str) -> u64 {
        let url = self.queue_url(queue_name).await;
        let attributes = self
            .sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ]
        .iter()
        .filter_map(|name| attributes.get(name)?.parse::<u64>().ok())
        .sum()
    }

    pub async fn queue_url(&self, queue_name: &str) -> String {
        self.sqs()
            .get_queue_url()
            .queue_name(queue_name)
            .send()
            .await
            .expect("queue url")
            .queue_url
            .expect("a url")
    }
}

fn str_of(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The vendor API on an ephemeral port until dropped.
pub struct Vendor {
    pub url: String,
    pub dataset: Dataset,
    task: tokio::task::JoinHandle<()>,
}

impl Vendor {
    pub async fn start(config: VendorConfig) -> Vendor {
        let dataset = Dataset::new(config.clone()).expect("valid vendor config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let task = tokio::spawn(async move {
            if let Err(error) = vendor_api::serve(config, listener).await {
                panic!("vendor stopped: {error}");
            }
        });
        Vendor { url, dataset, task }
    }
}

impl Drop for Vendor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A vendor configuration with the tests' window end and the given counts.
pub fn vendor_config(branches: u32, salespersons: u32, sales: u32) -> VendorConfig {
    VendorConfig {
        now: Some(now()),
        branches,
        salespersons,
        sales,
        ..VendorConfig::default()
    }
}

/// A sleeper that moves the vendor's clock instead of waiting, so that the vendor's rate limiter
/// refills exactly as if the collector had slept.
#[derive(Clone)]
pub struct VirtualSleeper(pub ManualClock);

impl Sleeper for VirtualSleeper {
    fn sleep(&self, duration: Duration) -> collector::time::SleepFuture {
        self.0.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// The three collectors, configured as the shipped stacks configure the functions.
pub struct Stages {
    pub branches: Context,
    pub salespersons: Context,
    pub sales: Context,
}

/// Overrides of the shipped variables for a test (`VENDOR_PAGE_LIMIT`, `VENDOR_TIMEOUT_MS`...).
pub type Overrides<'a> = &'a [(&'a str, &'a str)];

impl Stages {
    pub fn new(
        project: &template::Project,
        cloud: &Cloud,
        overrides: Overrides<'_>,
        sleeper: Arc<dyn Sleeper>,
        clock: SystemTime,
    ) -> Stages {
        let functions = resources(project, "AWS::Lambda::Function");
        let context = |function: &str, stage: Stage| {
            let (_, resource) = functions
                .iter()
                .find(|(id, _)| *id == function)
                .unwrap_or_else(|| panic!("no function {function} in the shipped stacks"));
            let variables = resource.properties["Environment"]["Variables"].clone();
            let config = Config::from_lookup(stage, |name| {
                overrides
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
                    .or_else(|| variables.get(name).map(text_of))
            })
            .unwrap_or_else(|e| panic!("{function}: {e}"));
            Context::new(
                config,
                &cloud.aws,
                Arc::new(FixedClock(clock)),
                sleeper.clone(),
            )
        };
        Stages {
            branches: context("BranchCollector", Stage::Branches),
            salespersons: context("SalespersonCollector", Stage::Salespersons),
            sales: context("SaleCollector", Stage::Sales),
        }
    }

    /// The cascade once: a scheduled event whose window ends at [`NOW`], then both queues
    /// drained. Messages that keep failing are left to the queues' redrive.
    pub async fn run(&self, cloud: &Cloud) -> Drained {
        let started = collector::handle_schedule(schedule_event(None), &self.branches)
            .await
            .expect("the scheduled run");
        assert!(started.branches > 0 || started.rejected > 0);
        let employees = drain(
            cloud,
            self.branches.queue.as_ref().expect("employee queue").url(),
            &self.salespersons,
        )
        .await;
        let sales = drain(
            cloud,
            self.salespersons.queue.as_ref().expect("sale queue").url(),
            &self.sales,
        )
        .await;
        Drained { employees, sales }
    }
}

/// What draining the queues saw.
#[derive(Debug, Default)]
pub struct Drained {
    pub employees: DrainStats,
    pub sales: DrainStats,
}

#[derive(Debug, Default)]
pub struct DrainStats {
    pub batches: u64,
    pub messages: u64,
    /// Message ids reported failed, in order.
    pub failures: Vec<String>,
}

/// A scheduled event as EventBridge sends it, with the window ending at [`NOW`].
pub fn schedule_event(detail: Option<Value>) -> collector::ScheduleEvent {
    let json = serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2023-11-14T22:13:20Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/cascade-schedule"],
        "detail": detail.unwrap_or_else(|| serde_json::json!({})),
    });
    serde_json::from_value(json).expect("a schedule event")
}

/// Receives one batch of up to 10 messages as the SQS event Lambda would get; empty when the
/// queue has nothing visible.
pub async fn receive_event(cloud: &Cloud, queue_url: &str) -> (SqsEvent, Vec<String>) {
    let received = cloud
        .sqs()
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive");
    let mut event = SqsEvent::default();
    let mut handles = Vec::new();
    for message in received.messages.unwrap_or_default() {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id.clone();
        record.receipt_handle = message.receipt_handle.clone();
        record.body = message.body.clone();
        record.md5_of_body = message.md5_of_body.clone();
        record.attributes = message
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect::<HashMap<_, _>>();
        record.event_source = Some("aws:sqs".to_owned());
        record.event_source_arn = Some(format!(
            "arn:aws:sqs:us-east-1:000000000000:{}",
            queue_url.rsplit('/').next().unwrap_or_default()
        ));
        record.aws_region = Some("us-east-1".to_owned());
        handles.push(message.receipt_handle.unwrap_or_default());
        event.records.push(record);
    }
    (event, handles)
}

/// Settles a batch as the event source mapping does: deletes the messages that succeeded and
/// makes the failed ones visible again at once (standing in for the visibility timeout).
pub async fn settle(
    cloud: &Cloud,
    queue_url: &str,
    event: &SqsEvent,
    handles: &[String],
    response: &SqsBatchResponse,
) {
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for (record, handle) in event.records.iter().zip(handles) {
        let id = record.message_id.as_deref().unwrap_or_default();
        if failed.contains(&id) {
            cloud
                .sqs()
                .change_message_visibility()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .expect("release a failed message");
        } else {
            cloud
                .sqs()
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .expect("delete a handled message");
        }
    }
}

/// Drains a queue through a batch handler until nothing is visible.
pub async fn drain(cloud: &Cloud, queue_url: &str, ctx: &Context) -> DrainStats {
    let mut stats = DrainStats::default();
    loop {
        let (event, handles) = receive_event(cloud, queue_url).await;
        if event.records.is_empty() {
            return stats;
        }
        stats.batches += 1;
        stats.messages += event.records.len() as u64;
        let response = match ctx.config.stage {
            Stage::Salespersons => collector::handle_branch_batch(event.clone(), ctx).await,
            _ => collector::handle_salesperson_batch(event.clone(), ctx).await,
        };
        stats.failures.extend(
            response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone()),
        );
        settle(cloud, queue_url, &event, &handles, &response).await;
    }
}
