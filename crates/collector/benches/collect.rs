//! The cascade's throughput through the local endpoint, next to the endpoint's bare write floor.
//!
//! Run: `cargo bench -p collector --bench collect [-- BRANCHES SALESPERSONS SALES RUNS]`
//! (defaults 10 x 20 x 100, 3 runs).
//!
//! Each run starts a fresh endpoint on a temporary store with the shipped stacks' tables and
//! queues, and the demo vendor API; then times (1) the cascade from the scheduled event until
//! both queues are drained, with several concurrent pollers per queue as an event source mapping
//! would run, (2) a second run over the unchanged source (compare only, no writes), and (3) the
//! floor: the same items written straight to a scratch table with BatchWriteItem through the
//! same endpoint, with the same concurrency. Medians are printed side by side.

#[allow(dead_code)]
#[path = "../tests/it/expected.rs"]
mod expected;
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use collector::{Context, Stage, TokioSleeper};
use expected::Expected;
use support::{now, shipped_project, vendor_config, Cloud, Stages, Vendor};

/// Pollers per queue, as concurrent function instances.
const POLLERS: usize = 8;

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let arg = |i: usize, default: u32| args.get(i).copied().unwrap_or(default);
    let (branches, salespersons, sales, runs) = (arg(0, 10), arg(1, 20), arg(2, 100), arg(3, 3));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut first = Vec::new();
    let mut again = Vec::new();
    let mut floor = Vec::new();
    let mut records = 0;
    for _ in 0..runs {
        let (a, b, c, n) = runtime.block_on(one_run(branches, salespersons, sales));
        first.push(a);
        again.push(b);
        floor.push(c);
        records = n;
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (first, again, floor) = (median(&mut first), median(&mut again), median(&mut floor));
    let rate = |d: Duration| records as f64 / d.as_secs_f64();
    println!(
        "collect: {branches} branches x {salespersons} salespersons x {sales} sales = {records} records, median of {runs} runs, {POLLERS} pollers per queue"
    );
    println!(
        "  first run (all new)      {:>8.3} s  {:>9.0} records/s",
        first.as_secs_f64(),
        rate(first)
    );
    println!(
        "  second run (unchanged)   {:>8.3} s  {:>9.0} records/s",
        again.as_secs_f64(),
        rate(again)
    );
    println!(
        "  floor (bare BatchWrite)  {:>8.3} s  {:>9.0} records/s",
        floor.as_secs_f64(),
        rate(floor)
    );
    println!(
        "  first run / floor        {:>8.2}x",
        first.as_secs_f64() / floor.as_secs_f64()
    );
}

/// One fresh environment: the first run, the unchanged run, the floor, and the record count.
async fn one_run(
    branches: u32,
    salespersons: u32,
    sales: u32,
) -> (Duration, Duration, Duration, usize) {
    let vendor = Vendor::start(vendor_config(branches, salespersons, sales)).await;
    let project = shipped_project(&vendor.url);
    let cloud = Arc::new(Cloud::start().await);
    cloud.deploy(&project).await;
    let expected = Expected::of(&vendor.dataset);
    let mut items: Vec<_> = expected.branches.clone();
    items.extend(expected.salespersons.iter().cloned());
    items.extend(expected.sales.iter().cloned());

    let stages = Arc::new(Stages::new(
        &project,
        &cloud,
        &[],
        Arc::new(TokioSleeper),
        now(),
    ));
    let first = cascade(&cloud, &stages).await;
    let written = stages.sales.counters.snapshot().written as usize;
    assert_eq!(written, expected.sales.len(), "the run missed sales");
    let again = cascade(&cloud, &stages).await;

    let floor = bare_writes(&cloud, items.clone()).await;
    (first, again, floor, items.len())
}

/// The scheduled event, then both queues drained by concurrent pollers; the elapsed time.
async fn cascade(cloud: &Arc<Cloud>, stages: &Arc<Stages>) -> Duration {
    let started = Instant::now();
    collector::handle_schedule(support::schedule_event(None), &stages.branches)
        .await
        .expect("the scheduled run");
    for stage in [Stage::Salespersons, Stage::Sales] {
        let mut pollers = tokio::task::JoinSet::new();
        for _ in 0..POLLERS {
            let cloud = cloud.clone();
            let stages = stages.clone();
            pollers.spawn(async move {
                let ctx: &Context = match stage {
                    Stage::Salespersons => &stages.salespersons,
                    _ => &stages.sales,
                };
                let source = match stage {
                    Stage::Salespersons => stages.branches.queue.as_ref(),
                    _ => stages.salespersons.queue.as_ref(),
                }
                .expect("a source queue")
                .url()
                .to_owned();
                support::drain(&cloud, &source, ctx).await
            });
        }
        while let Some(done) = pollers.join_next().await {
            let stats = done.expect("a poller");
            assert!(stats.failures.is_empty(), "failed messages: {stats:?}");
        }
    }
    started.elapsed()
}

/// The same items written straight to a fresh table, 25 per BatchWriteItem, with as many
/// requests in flight as the cascade has pollers; the elapsed time.
async fn bare_writes(
    cloud: &Cloud,
    items: Vec<std::collections::BTreeMap<String, AttributeValue>>,
) -> Duration {
    let db = cloud.dynamodb();
    db.create_table()
        .table_name("floor")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("k")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("k")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .expect("definition"),
        )
        .send()
        .await
        .expect("create the floor table");
    let requests: Vec<WriteRequest> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let mut item: std::collections::HashMap<_, _> = item.into_iter().collect();
            item.insert("k".to_owned(), AttributeValue::N(i.to_string()));
            item.insert(
                "last_modified".to_owned(),
                AttributeValue::S(collector::time::last_modified(now())),
            );
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("put");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let chunks: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    let shared = Arc::new(std::sync::Mutex::new(chunks));
    for _ in 0..POLLERS {
        let db = db.clone();
        let shared = shared.clone();
        writers.spawn(async move {
            loop {
                let next = shared.lock().expect("chunk list").pop();
                let Some(chunk) = next else { return };
                let output = db
                    .batch_write_item()
                    .request_items("floor", chunk)
                    .send()
                    .await
                    .expect("a bare write");
                let left = output
                    .unprocessed_items
                    .unwrap_or_default()
                    .values()
                    .map(Vec::len)
                    .sum::<usize>();
                assert_eq!(left, 0, "unprocessed items in the floor");
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("a writer");
    }
    started.elapsed()
}
