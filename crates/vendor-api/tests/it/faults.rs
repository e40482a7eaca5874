//! Fault injection over HTTP: each kind at its configured rate over a sample, on exactly the
//! requests and records the library's decision functions name.

use std::time::{Duration, Instant};

use expect_test::expect;
use hyper::{Method, StatusCode};
use serde_json::Value;
use vendor_api::{Config, Faults, Malformation, ManualClock, RequestFault, SharedClock};

use crate::support::{config, epoch_plus, list_of, Client, Server, NOW};

/// Asserts that `count` of `total` is within `slack` of `rate`.
#[track_caller]
fn check_rate(what: &str, count: usize, total: usize, rate: f64, slack: f64) {
    let share = count as f64 / total as f64;
    assert!(
        (rate - slack..=rate + slack).contains(&share),
        "{what}: {count} of {total} is {share}, expected {rate} ± {slack}"
    );
}

#[tokio::test]
async fn failures_answer_500_at_the_fail_rate_and_retries_get_through() {
    let server = Server::start(Config {
        fail_rate: 0.2,
        ..config()
    })
    .await;
    let faults = server.dataset.faults();
    let key = Faults::request_key("branches", "limit=2");
    let mut client = server.client();
    let mut statuses = Vec::new();
    let mut expected = Vec::new();
    for attempt in 0..400 {
        statuses.push(client.get("/branches/?limit=2").await.status);
        expected.push(match faults.request_fault(key, attempt) {
            Some(RequestFault::Fail) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::OK,
        });
    }
    assert_eq!(statuses, expected);
    let failed = statuses.iter().filter(|s| s.is_server_error()).count();
    check_rate("500s", failed, 400, 0.2, 0.06);
    // The trailing slash is part of no key: the same request without it continues the count.
    let reply = client.get("/branches?limit=2").await;
    let fifth_hundred = faults.request_fault(key, 400) == Some(RequestFault::Fail);
    assert_eq!(reply.status.is_server_error(), fifth_hundred);
}

#[tokio::test]
async fn slow_answers_outlast_the_client_timeout_at_the_slow_rate() {
    let slow = Duration::from_millis(2_500);
    let server = Server::start(Config {
        slow_rate: 0.3,
        slow,
        sales: 100,
        ..config()
    })
    .await;
    let seller = server
        .dataset
        .salespersons(1)
        .next()
        .expect("a salesperson")
        .id;
    let queries: Vec<String> = (0..100)
        .map(|i| format!("salespersonsID={seller}&limit=1&cursor={i}"))
        .collect();
    let faults = server.dataset.faults().clone();
    let expected: Vec<bool> = queries
        .iter()
        .map(|q| {
            faults.request_fault(Faults::request_key("sales", q), 0) == Some(RequestFault::Slow)
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, query) in queries.into_iter().enumerate() {
        let mut client = server.client();
        tasks.spawn(async move {
            let reply = client
                .get_within(&format!("/sales/?{query}"), Duration::from_secs(1))
                .await;
            (i, reply.is_none())
        });
    }
    let mut timed_out = vec![false; expected.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, late) = joined.expect("request task");
        timed_out[i] = late;
    }
    assert_eq!(timed_out, expected);
    check_rate(
        "slow answers",
        expected.iter().filter(|&&s| s).count(),
        100,
        0.3,
        0.12,
    );

    // A client that waits long enough gets the full page, no sooner than the delay. A new query
    // is needed: a repeated one is a new attempt with a draw of its own.
    let slow_query = (0..)
        .map(|i| format!("salespersonsID={seller}&limit=1&cursor={i}&waited=1"))
        .find(|q| {
            faults.request_fault(Faults::request_key("sales", q), 0) == Some(RequestFault::Slow)
        })
        .expect("a slow query");
    let mut client = server.client();
    let started = Instant::now();
    let reply = client
        .get_within(&format!("/sales/?{slow_query}"), Duration::from_secs(10))
        .await
        .expect("the answer comes after the delay");
    assert!(started.elapsed() >= slow);
    assert_eq!(list_of(&reply.json()).len(), 1);
}

/// Checks one served record against the library's decision: a malformed one has no id or the
/// named bad timestamp; a sound one has its id and a valid timestamp.
#[track_caller]
fn check_record(
    record: &Value,
    malformed: Option<Malformation>,
    field: &str,
    valid: &dyn Fn(&str) -> bool,
) {
    let stamp = record[field].as_str().expect("a timestamp string");
    match malformed {
        Some(Malformation::MissingId) => {
            assert!(record.get("id").is_none(), "{record}");
            assert!(valid(stamp), "{record}");
        }
        Some(Malformation::BadTimestamp(bad)) => {
            assert!(record["id"].is_u64(), "{record}");
            assert_eq!(stamp, bad);
            assert!(!valid(stamp), "{record}");
        }
        None => {
            assert!(record["id"].is_u64(), "{record}");
            assert!(valid(stamp), "{record}");
        }
    }
}

#[tokio::test]
async fn malformed_records_lack_an_id_or_carry_a_bad_timestamp() {
    let server = Server::start(Config {
        malformed_rate: 0.05,
        sales: 200,
        ..config()
    })
    .await;
    let data = &server.dataset;
    let sale_time = time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day] [hour]:[minute]:[second]",
    )
    .expect("format");
    let in_window = |stamp: &str| {
        time::PrimitiveDateTime::parse(stamp, &sale_time).is_ok_and(|t| {
            let t = t.assume_utc().unix_timestamp();
            (NOW as i64 - 86_400..NOW as i64).contains(&t)
        })
    };
    let day =
        time::format_description::parse_borrowed::<2>("[year]-[month]-[day]").expect("format");
    let is_date = |stamp: &str| stamp.len() == 10 && time::Date::parse(stamp, &day).is_ok();
    let mut client = server.client();
    let (mut sales, mut broken_sales, mut kinds) = (0, 0, Vec::new());
    let mut employees = 0;
    for branch in data.branches() {
        let (served, _) = client
            .walk(&format!("/employees?branchID={}&limit=1000", branch.id))
            .await;
        let expected: Vec<_> = data.employees(branch.id).collect();
        assert_eq!(served.len(), expected.len());
        for (record, employee) in served.iter().zip(&expected) {
            check_record(record, employee.malformed, "hired_on", &is_date);
            employees += 1;
        }
        for seller in data.salespersons(branch.id) {
            let (served, _) = client
                .walk(&format!("/sales/?salespersonsID={}&limit=1000", seller.id))
                .await;
            let expected: Vec<_> = data.sales(seller.id).collect();
            assert_eq!(served.len(), expected.len());
            for (record, sale) in served.iter().zip(&expected) {
                check_record(record, sale.malformed, "transaction_timestamp", &in_window);
                sales += 1;
                if let Some(kind) = sale.malformed {
                    broken_sales += 1;
                    kinds.push(kind);
                }
            }
        }
    }
    assert!(employees > 100);
    check_rate("malformed sales", broken_sales, sales, 0.05, 0.015);
    assert!(kinds.contains(&Malformation::MissingId));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, Malformation::BadTimestamp(_))));
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let clock = ManualClock::new(epoch_plus(NOW));
    let server = Server::start(Config {
        rate_limit: Some(5),
        clock: SharedClock::new(clock.clone()),
        ..config()
    })
    .await;
    let mut client = server.client();
    async fn statuses(client: &mut Client, n: usize) -> Vec<(u16, Option<String>)> {
        let mut out = Vec::new();
        for _ in 0..n {
            let reply = client.get("/branches/?limit=1").await;
            let retry = reply
                .headers
                .get("retry-after")
                .map(|v| v.to_str().expect("ascii").to_string());
            out.push((reply.status.as_u16(), retry));
        }
        out
    }
    let ok = (200, None);
    let limited = (429, Some("1".to_string()));
    let mut expected = vec![ok.clone(); 5];
    expected.extend(vec![limited.clone(); 3]);
    assert_eq!(statuses(&mut client, 8).await, expected);
    // The health check is never limited.
    assert_eq!(client.get("/health").await.status, StatusCode::OK);
    // Tokens come back at the rate: 400 ms is two requests' worth.
    clock.advance(Duration::from_millis(400));
    assert_eq!(statuses(&mut client, 3).await, [ok.clone(), ok, limited]);
    clock.advance(Duration::from_secs(10));
    let refilled = statuses(&mut client, 6).await;
    assert_eq!(refilled.iter().filter(|s| s.0 == 200).count(), 5);
}

#[tokio::test]
async fn a_failing_branch_always_answers_500() {
    let server = Server::start(Config {
        fail_branches: vec![3],
        ..config()
    })
    .await;
    let mut client = server.client();
    let seller = server
        .dataset
        .salespersons(3)
        .next()
        .expect("a salesperson")
        .id;
    for _ in 0..20 {
        assert_eq!(client.get("/employees?branchID=3").await.status, 500);
        let sales = client
            .get(&format!("/sales/?salespersonsID={seller}"))
            .await;
        assert_eq!(sales.status, 500);
    }
    assert_eq!(client.get("/employees?branchID=2").await.status, 200);
    let (branches, _) = client.walk("/branches/?branch=Buffalo").await;
    assert_eq!(branches.len(), 1, "the branch itself is still listed");
}

#[tokio::test]
async fn the_admin_paths_set_and_clear_a_failing_branch() {
    let server = Server::start(Config {
        fail_branches: vec![3],
        ..config()
    })
    .await;
    let mut client = server.client();
    let mut log = String::new();
    for (method, target) in [
        (Method::GET, "/employees?branchID=3"),
        (Method::DELETE, "/_admin/fail-branch/3"),
        (Method::GET, "/employees?branchID=3"),
        (Method::GET, "/employees?branchID=5"),
        (Method::PUT, "/_admin/fail-branch/5"),
        (Method::GET, "/employees?branchID=5"),
        (Method::GET, "/_admin/fail-branch/5"),
        (Method::PUT, "/_admin/fail-branch/x"),
    ] {
        let reply = client.request(method.clone(), target).await;
        log.push_str(&format!("{method} {target} -> {}\n", reply.status.as_u16()));
    }
    expect![[r#"
        GET /employees?branchID=3 -> 500
        DELETE /_admin/fail-branch/3 -> 204
        GET /employees?branchID=3 -> 200
        GET /employees?branchID=5 -> 200
        PUT /_admin/fail-branch/5 -> 204
        GET /employees?branchID=5 -> 500
        GET /_admin/fail-branch/5 -> 405
        PUT /_admin/fail-branch/x -> 404
    "#]]
    .assert_eq(&log);
}
