//! The three handlers end to end on the shipped stacks: exact table contents, idempotence seen
//! through DynamoDB Streams, revisions, faults, and a poison message.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use collector::{BranchMessage, RecordingSleeper, Stage, Tally};
use vendor_api::{revision_class, ManualClock, SharedClock};

use crate::expected::{check_table, Expected};
use crate::support::{
    now, receive_event, settle, shipped_project, vendor_config, Cloud, Stages, Vendor,
    VirtualSleeper,
};

const TABLES: [(&str, &str); 3] = [
    ("branch-dev", "branch_id"),
    ("salesperson-dev", "employee_id"),
    ("sale-dev", "sale_id"),
];

const QUEUES: [&str; 4] = [
    "employee-queue-dev",
    "employee-workload-dead-letter-queue-dev",
    "sale-queue-dev",
    "sale-workload-dead-letter-queue-dev",
];

/// A cloud with the shipped stacks deployed and a vendor serving `config`.
async fn setup(config: vendor_api::Config) -> (Cloud, Vendor, template::Project) {
    let vendor = Vendor::start(config).await;
    let project = shipped_project(&vendor.url);
    let cloud = Cloud::start().await;
    cloud.deploy(&project).await;
    (cloud, vendor, project)
}

/// Asserts that every table holds exactly the vendor's records and every queue is empty;
/// returns each table's `last_modified` stamps by key.
async fn check_contents(
    cloud: &Cloud,
    expected: &Expected,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let wanted = [&expected.branches, &expected.salespersons, &expected.sales];
    let mut stamps = Vec::new();
    for ((table, key), want) in TABLES.iter().zip(wanted) {
        stamps.push(check_table(table, cloud.scan(table).await, want, key));
    }
    for queue in QUEUES {
        assert_eq!(cloud.depth(queue).await, 0, "{queue} is not empty");
    }
    stamps
}

fn totals(stages: &Stages) -> Tally {
    let mut total = stages.branches.counters.snapshot();
    total += stages.salespersons.counters.snapshot();
    total += stages.sales.counters.snapshot();
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_fills_each_table_with_the_source_records_field_for_field() {
    let (cloud, vendor, project) = setup(vendor_config(3, 4, 6)).await;
    // Pages of 5 make every list span several pages.
    let stages = Stages::new(
        &project,
        &cloud,
        &[("VENDOR_PAGE_LIMIT", "5")],
        Arc::new(RecordingSleeper::default()),
        now(),
    );
    let drained = stages.run(&cloud).await;
    let expected = Expected::of(&vendor.dataset);
    assert_eq!(
        (
            expected.branches.len(),
            expected.salespersons.len(),
            expected.sales.len()
        ),
        (3, 12, 72)
    );
    check_contents(&cloud, &expected).await;
    assert_eq!(drained.employees.messages, 3);
    assert_eq!(drained.sales.messages, 12);
    assert!(drained.employees.failures.is_empty() && drained.sales.failures.is_empty());
    let total = totals(&stages);
    assert_eq!(total.written, 3 + 12 + 72);
    assert_eq!((total.rejected, total.unchanged, total.failed), (0, 0, 0));
    assert_eq!(total.sent, 3 + 12);
    // Every stage's progress reached CloudWatch: 3 branches, 12 salespersons among the
    // employees, 72 sales among all the salespersons' sales.
    check_stage_metrics(&cloud, &stages).await;
    assert_eq!(
        metric_sum(&cloud, "WrittenRecords", Some(Stage::Sales)).await,
        72.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_of_unchanged_source_writes_nothing_and_adds_no_stream_record() {
    let (cloud, vendor, project) = setup(vendor_config(2, 3, 4)).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let first = Stages::new(&project, &cloud, &[], sleeper.clone(), now());
    first.run(&cloud).await;
    let expected = Expected::of(&vendor.dataset);
    let stamps = check_contents(&cloud, &expected).await;
    let mut streams = Vec::new();
    for (table, _) in TABLES {
        let records = cloud.stream_records(table).await;
        assert!(records.iter().all(|(name, _)| name == "INSERT"), "{table}");
        streams.push(records);
    }
    assert_eq!(streams.iter().map(Vec::len).collect::<Vec<_>>(), [2, 6, 24]);
    // An hour later, the same source: every record compares equal, nothing is written.
    let second = Stages::new(
        &project,
        &cloud,
        &[],
        sleeper,
        now() + Duration::from_secs(3_600),
    );
    second.run(&cloud).await;
    assert_eq!(check_contents(&cloud, &expected).await, stamps);
    for ((table, _), before) in TABLES.iter().zip(&streams) {
        assert_eq!(&cloud.stream_records(table).await, before, "{table}");
    }
    let total = totals(&second);
    assert_eq!((total.written, total.unchanged), (0, 2 + 6 + 24));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_rewrites_exactly_the_changed_records() {
    // Enough records that revision 1 (about 5% of each kind) changes some of every kind.
    let counts = (13, 8, 10);
    // Going from revision r - 1 to r changes the records of class r; r is branch 1's class, so
    // that a branch changes too.
    let r = match revision_class(1) {
        0 => vendor_api::REVISION_MODULUS,
        class => class,
    } as u32;
    let (cloud, vendor, project) = setup(vendor_api::Config {
        revision: r - 1,
        ..vendor_config(counts.0, counts.1, counts.2)
    })
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    Stages::new(&project, &cloud, &[], sleeper.clone(), now())
        .run(&cloud)
        .await;
    let before: Vec<usize> = {
        let mut lengths = Vec::new();
        for (table, _) in TABLES {
            lengths.push(cloud.stream_records(table).await.len());
        }
        lengths
    };
    let revised = Vendor::start(vendor_api::Config {
        revision: r,
        ..vendor_config(counts.0, counts.1, counts.2)
    })
    .await;
    let revised_project = shipped_project(&revised.url);
    let later = now() + Duration::from_secs(3_600);
    Stages::new(&revised_project, &cloud, &[], sleeper, later)
        .run(&cloud)
        .await;
    let expected = Expected::of(&revised.dataset);
    let stamps = check_contents(&cloud, &expected).await;

    // The records of revision class r changed, and only they got a stream record.
    let touched = |items: &[std::collections::BTreeMap<
        String,
        aws_sdk_dynamodb::types::AttributeValue,
    >],
                   key: &str|
     -> BTreeSet<String> {
        items
            .iter()
            .filter(|item| match &item[key] {
                aws_sdk_dynamodb::types::AttributeValue::S(id) => {
                    revision_class(id.parse().expect("numeric id"))
                        == u64::from(r) % vendor_api::REVISION_MODULUS
                }
                _ => false,
            })
            .map(|item| format!("{:?}", item[key]))
            .collect()
    };
    let wanted = [&expected.branches, &expected.salespersons, &expected.sales];
    let later_stamp = collector::time::last_modified(later);
    for (((table, key), items), (before, stamps)) in
        TABLES.iter().zip(wanted).zip(before.iter().zip(&stamps))
    {
        let changed = touched(items, key);
        assert!(
            !changed.is_empty(),
            "{table}: revision {r} changes nothing here"
        );
        let records = cloud.stream_records(table).await;
        let new: Vec<&(String, String)> = records[*before..].iter().collect();
        assert!(
            new.iter().all(|(name, _)| name == "MODIFY"),
            "{table}: {new:?}"
        );
        assert_eq!(new.len(), changed.len(), "{table}: stream records");
        let restamped: BTreeSet<String> = stamps
            .iter()
            .filter(|(_, stamp)| **stamp == later_stamp)
            .map(|(key, _)| key.clone())
            .collect();
        assert_eq!(restamped, changed, "{table}: rewritten items");
    }
    drop(vendor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_faults_every_good_record_lands_and_every_malformed_one_is_rejected() {
    let clock = ManualClock::new(now());
    let config = vendor_api::Config {
        fail_rate: 0.10,
        slow_rate: 0.02,
        slow: Duration::from_millis(400),
        malformed_rate: 0.01,
        rate_limit: Some(40),
        clock: SharedClock::new(clock.clone()),
        ..vendor_config(13, 3, 30)
    };
    let (cloud, vendor, project) = setup(config).await;
    // Small pages and a short timeout: many requests, so every fault kind happens.
    let stages = Stages::new(
        &project,
        &cloud,
        &[("VENDOR_PAGE_LIMIT", "10"), ("VENDOR_TIMEOUT_MS", "150")],
        Arc::new(VirtualSleeper(clock)),
        now(),
    );
    let drained = stages.run(&cloud).await;
    let expected = Expected::of(&vendor.dataset);
    assert!(
        expected.malformed > 0,
        "the seed serves no malformed record"
    );
    check_contents(&cloud, &expected).await;
    let total = totals(&stages);
    assert_eq!(total.rejected, expected.malformed);
    assert_eq!(
        total.written as usize,
        expected.branches.len() + expected.salespersons.len() + expected.sales.len()
    );
    assert!(drained.employees.failures.is_empty(), "{drained:?}");
    assert!(drained.sales.failures.is_empty(), "{drained:?}");
    // The rejections reached CloudWatch as `Cascade/Sales` `RejectedRecords`, the alarm's metric.
    for stage in [&stages.branches, &stages.salespersons, &stages.sales] {
        assert_eq!(stage.counters.metric_failures(), 0);
    }
    assert_eq!(
        metric_sum(&cloud, "RejectedRecords", None).await,
        expected.malformed as f64
    );
    // Per stage, the same rejections, and what each stage fetched and wrote.
    check_stage_metrics(&cloud, &stages).await;
    let mut rejected = 0.0;
    for stage in [Stage::Branches, Stage::Salespersons, Stage::Sales] {
        rejected += metric_sum(&cloud, "RejectedRecords", Some(stage)).await;
    }
    assert_eq!(rejected, expected.malformed as f64);
}

/// Checks that each stage's `FetchedRecords`, `WrittenRecords` and `RejectedRecords` (dimensions
/// `Environment` and `Stage`) add up to the stage's counters.
async fn check_stage_metrics(cloud: &Cloud, stages: &Stages) {
    for (stage, ctx) in [
        (Stage::Branches, &stages.branches),
        (Stage::Salespersons, &stages.salespersons),
        (Stage::Sales, &stages.sales),
    ] {
        assert_eq!(ctx.counters.metric_failures(), 0, "{}", stage.as_str());
        let tally = ctx.counters.snapshot();
        assert!(tally.fetched > 0, "{}: nothing fetched", stage.as_str());
        let sums = (
            metric_sum(cloud, "FetchedRecords", Some(stage)).await,
            metric_sum(cloud, "WrittenRecords", Some(stage)).await,
            metric_sum(cloud, "RejectedRecords", Some(stage)).await,
        );
        assert_eq!(
            sums,
            (
                tally.fetched as f64,
                tally.written as f64,
                tally.rejected as f64
            ),
            "{}: metric sums (fetched, written, rejected) against {tally:?}",
            stage.as_str()
        );
    }
}

/// The sum of the `Cascade/Sales` metric `name` for environment `dev` over the last hour: the
/// environment's own when `stage` is `None` (the alarm's metric), else that stage's.
async fn metric_sum(cloud: &Cloud, name: &str, stage: Option<Stage>) -> f64 {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = std::time::SystemTime::now();
    let mut dimensions = vec![Dimension::builder()
        .name("Environment")
        .value("dev")
        .build()];
    if let Some(stage) = stage {
        dimensions.push(
            Dimension::builder()
                .name("Stage")
                .value(stage.as_str())
                .build(),
        );
    }
    let statistics = aws_sdk_cloudwatch::Client::new(&cloud.aws)
        .get_metric_statistics()
        .namespace("Cascade/Sales")
        .metric_name(name)
        .set_dimensions(Some(dimensions))
        .start_time(DateTime::from(now - Duration::from_secs(3_600)))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .period(3_600)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect("metric statistics");
    statistics
        .datapoints
        .unwrap_or_default()
        .iter()
        .filter_map(|point| point.sum)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_the_vendor_always_fails_fails_exactly_its_message_until_the_dead_letter_queue() {
    let config = vendor_api::Config {
        fail_branches: vec![2],
        ..vendor_config(3, 2, 2)
    };
    let (cloud, vendor, project) = setup(config).await;
    let stages = Stages::new(
        &project,
        &cloud,
        &[("VENDOR_MAX_ATTEMPTS", "3")],
        Arc::new(RecordingSleeper::default()),
        now(),
    );
    collector::handle_schedule(crate::support::schedule_event(None), &stages.branches)
        .await
        .expect("the scheduled run");
    let queue = cloud.queue_url("employee-queue-dev").await;

    // One batch with the three branch messages: exactly branch 2's is reported failed.
    let (mut event, mut handles) = receive_event(&cloud, &queue).await;
    while event.records.len() < 3 {
        let (more, more_handles) = receive_event(&cloud, &queue).await;
        assert!(!more.records.is_empty(), "fewer than 3 branch messages");
        event.records.extend(more.records);
        handles.extend(more_handles);
    }
    let response = collector::handle_branch_batch(event.clone(), &stages.salespersons).await;
    let failed: Vec<u64> = response
        .batch_item_failures
        .iter()
        .map(|failure| {
            let record = event
                .records
                .iter()
                .find(|r| r.message_id.as_deref() == Some(failure.item_identifier.as_str()))
                .expect("a failure names a message of the batch");
            BranchMessage::decode(record.body.as_deref().unwrap_or_default())
                .expect("a branch message")
                .branch_id
        })
        .collect();
    assert_eq!(failed, [2]);
    settle(&cloud, &queue, &event, &handles, &response).await;

    // Redelivered until the redrive policy's maxReceiveCount (10), then in the dead-letter queue.
    let drained = crate::support::drain(&cloud, &queue, &stages.salespersons).await;
    assert_eq!(drained.failures.len(), 9, "{drained:?}");
    assert_eq!(cloud.depth("employee-queue-dev").await, 0);
    assert_eq!(
        cloud.depth("employee-workload-dead-letter-queue-dev").await,
        1
    );

    // The fault cleared and the dead-letter queue redriven, the branch completes.
    let admin = format!("{}/_admin/fail-branch/2", vendor.url);
    let status = delete(&admin).await;
    assert_eq!(status, 204);
    let dlq = cloud
        .queue_url("employee-workload-dead-letter-queue-dev")
        .await;
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:employee-workload-dead-letter-queue-dev";
    cloud
        .sqs()
        .start_message_move_task()
        .source_arn(dlq_arn)
        .send()
        .await
        .expect("start the redrive");
    let mut moved = false;
    for _ in 0..200 {
        if cloud.depth("employee-workload-dead-letter-queue-dev").await == 0 {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(moved, "the redrive of {dlq} did not finish");
    let redriven = crate::support::drain(&cloud, &queue, &stages.salespersons).await;
    assert!(redriven.failures.is_empty());
    crate::support::drain(
        &cloud,
        &cloud.queue_url("sale-queue-dev").await,
        &stages.sales,
    )
    .await;
    let healthy = Vendor::start(vendor_config(3, 2, 2)).await;
    check_contents(&cloud, &Expected::of(&healthy.dataset)).await;
}

/// An HTTP DELETE on loopback; the status.
async fn delete(url: &str) -> u16 {
    use http_body_util::Empty;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let request = hyper::Request::delete(url)
        .body(Empty::new())
        .expect("a request");
    client
        .request(request)
        .await
        .expect("the vendor answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_invoke_runs_every_branch_or_the_ones_its_detail_names() {
    let (cloud, _vendor, project) = setup(vendor_config(3, 1, 1)).await;
    let stages = Stages::new(
        &project,
        &cloud,
        &[],
        Arc::new(RecordingSleeper::default()),
        now(),
    );
    // What `cascade invoke BranchCollector` sends by default, and what the Lambda console's
    // test button sends with a hand-written detail: neither is a whole EventBridge event.
    for (event, branches) in [("{}", 3), (r#"{"detail": {"branches": ["Akron"]}}"#, 1)] {
        let event: collector::ScheduleEvent = serde_json::from_str(event)
            .unwrap_or_else(|error| panic!("`{event}` is not a schedule event: {error}"));
        let started = collector::handle_schedule(event, &stages.branches)
            .await
            .expect("the run");
        assert_eq!((started.branches, started.sent), (branches, branches));
    }
    assert_eq!(cloud.depth("employee-queue-dev").await, 3 + 1);
}
