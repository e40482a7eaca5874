//! The vendor client against the demo vendor: pages, the retry rules and their delays, with a
//! sleeper that records (or moves the vendor's virtual clock) instead of waiting.

use std::sync::Arc;
use std::time::Duration;

use collector::{FixedClock, RecordingSleeper, RetryPolicy, Sleeper, VendorClient, VendorError};
use vendor_api::{Clock as _, Faults, ManualClock, RequestFault, SharedClock};

use crate::support::{now, vendor_config, Vendor, VirtualSleeper};

fn client(
    vendor: &Vendor,
    page_limit: u32,
    timeout: Duration,
    sleeper: Arc<dyn Sleeper>,
) -> VendorClient {
    VendorClient::new(
        &vendor.url,
        timeout,
        page_limit,
        RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        },
        sleeper,
        Arc::new(FixedClock(now())),
    )
    .with_jitter_seed(7)
}

fn ids(records: &[collector::page::RawRecord]) -> Vec<u64> {
    records
        .iter()
        .map(|r| r.get("id").and_then(|id| id.as_u64()).expect("an id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_followed_to_the_end() {
    let vendor = Vendor::start(vendor_config(13, 4, 23)).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let vendor_client = client(&vendor, 5, Duration::from_secs(5), sleeper.clone());
    let branches = vendor_client.branches(&[]).await.expect("branches");
    assert_eq!(ids(&branches), (1..=13).collect::<Vec<u64>>());
    let named = vendor_client
        .branches(&["Utica".to_owned(), "New York".to_owned()])
        .await
        .expect("named branches");
    assert_eq!(ids(&named), [6, 13]);
    let seller = vendor.dataset.salespersons(2).next().expect("a seller").id;
    let sales = vendor_client.sales(seller).await.expect("sales");
    let expected: Vec<u64> = vendor.dataset.sales(seller).map(|s| s.id).collect();
    assert_eq!(ids(&sales), expected);
    assert!(sleeper.slept().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_other_than_429_is_never_retried() {
    let vendor = Vendor::start(vendor_config(3, 2, 2)).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let vendor_client = client(&vendor, 100, Duration::from_secs(5), sleeper.clone());
    let error = vendor_client
        .employees(9_999)
        .await
        .expect_err("no such branch");
    match &error {
        VendorError::Refused { failure, .. } => {
            assert!(failure.to_string().starts_with("HTTP 404"), "{failure}")
        }
        other => panic!("expected a refusal, got {other}"),
    }
    assert!(sleeper.slept().is_empty(), "a 404 was retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_that_keeps_failing_is_given_up_after_max_attempts_with_growing_delays() {
    let vendor = Vendor::start(vendor_api::Config {
        fail_branches: vec![1],
        ..vendor_config(3, 2, 2)
    })
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let vendor_client = client(&vendor, 100, Duration::from_secs(5), sleeper.clone());
    let error = vendor_client.employees(1).await.expect_err("always 500");
    assert!(
        matches!(error, VendorError::GaveUp { attempts: 4, .. }),
        "{error}"
    );
    let slept = sleeper.slept();
    assert_eq!(slept.len(), 3);
    // Full jitter under ceilings of 100, 200 and 400 ms.
    for (delay, ceiling) in slept.iter().zip([100, 200, 400]) {
        assert!(*delay <= Duration::from_millis(ceiling), "{slept:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_as_retry_after_says() {
    let clock = ManualClock::new(now());
    let vendor = Vendor::start(vendor_api::Config {
        rate_limit: Some(2),
        clock: SharedClock::new(clock.clone()),
        ..vendor_config(13, 2, 2)
    })
    .await;
    let sleeper = Arc::new(VirtualSleeper(clock.clone()));
    // Thirteen pages of one branch at two requests per second of virtual time.
    let vendor_client = client(&vendor, 1, Duration::from_secs(5), sleeper);
    let branches = vendor_client.branches(&[]).await.expect("branches");
    assert_eq!(branches.len(), 13);
    let waited = clock
        .now()
        .duration_since(now())
        .expect("the clock moved forward");
    // A burst of two, then every other page meets a 429 asking for a second: six waits.
    assert!(waited >= Duration::from_secs(5), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_time_out_and_are_retried() {
    let vendor = Vendor::start(vendor_api::Config {
        slow_rate: 0.3,
        slow: Duration::from_secs(2),
        ..vendor_config(13, 2, 2)
    })
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let vendor_client = VendorClient::new(
        &vendor.url,
        Duration::from_millis(100),
        1,
        RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::default()
        },
        sleeper.clone(),
        Arc::new(FixedClock(now())),
    );
    let branches = vendor_client.branches(&[]).await.expect("branches");
    assert_eq!(ids(&branches), (1..=13).collect::<Vec<u64>>());
    // Each page is asked again after each slow answer, as the vendor's fault draws say.
    let faults = vendor.dataset.faults();
    let timeouts: usize = (0..13)
        .map(|page| {
            let query = match page {
                0 => "limit=1".to_owned(),
                page => format!("limit=1&cursor={page}"),
            };
            let key = Faults::request_key("branches", &query);
            (0..)
                .take_while(|&attempt| {
                    faults.request_fault(key, attempt) == Some(RequestFault::Slow)
                })
                .count()
        })
        .sum();
    assert!(timeouts > 0, "the seed makes no request slow");
    assert_eq!(sleeper.slept().len(), timeouts);
}
