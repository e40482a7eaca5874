//! Records per second served by the vendor API over keep-alive HTTP connections, beside the same
//! pages written by the generator alone (no HTTP) in the same run.
//!
//! Workload: W1's shape, 100 branches x 100 salespersons x 100 sales (1,000,000 sales), fetched
//! page by page (`limit=100`, one page per salesperson, and `limit=1000` over 1,000-sale
//! salespersons) by several client tasks, each on its own keep-alive connection. The server runs
//! in process on its own two-thread runtime, as the binary does; the clients run on another.
//! Each client counts the records of every page and the run checks the total. Prints the median
//! of several runs. Run with `cargo bench -p vendor-api --bench serve`.

use std::net::SocketAddr;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::HOST;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use vendor_api::{sales_page_json, Config, Dataset};

const RUNS: usize = 5;
const CLIENTS: usize = 8;

struct Scenario {
    name: &'static str,
    branches: u32,
    salespersons: u32,
    sales: u32,
    limit: u64,
}

const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "W1 shape, limit=100",
        branches: 100,
        salespersons: 100,
        sales: 100,
        limit: 100,
    },
    Scenario {
        name: "1,000 sales each, limit=1000",
        branches: 10,
        salespersons: 100,
        sales: 1_000,
        limit: 1_000,
    },
];

fn config(scenario: &Scenario) -> Config {
    Config {
        now: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        branches: scenario.branches,
        salespersons: scenario.salespersons,
        sales: scenario.sales,
        ..Config::default()
    }
}

/// The salespersons of the dataset, in a fixed order.
fn salespersons(dataset: &Dataset) -> Vec<u64> {
    dataset
        .branches()
        .flat_map(|branch| {
            dataset
                .salespersons(branch.id)
                .map(|e| e.id)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Records in a sales page: one `{` per record, plus the page's and the result's.
fn records_in(body: &[u8]) -> u64 {
    memchr::memchr_iter(b'{', body).count() as u64 - 2
}

/// The reference: every page written by the generator alone, on one thread.
fn generate_only(dataset: &Dataset, sellers: &[u64], limit: u64) -> (u64, Duration) {
    let started = Instant::now();
    let mut records = 0;
    for &seller in sellers {
        let mut cursor = 0;
        loop {
            let body = sales_page_json(dataset, seller, cursor, limit).expect("a salesperson");
            records += records_in(&body);
            std::hint::black_box(&body);
            cursor += limit;
            if cursor >= u64::from(dataset.config().sales) {
                break;
            }
        }
    }
    (records, started.elapsed())
}

/// One client: a keep-alive connection walking the pages of its share of the salespersons.
async fn client(addr: SocketAddr, sellers: Vec<u64>, limit: u64) -> u64 {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let host = addr.to_string();
    let mut records = 0;
    for seller in sellers {
        let mut cursor: Option<String> = None;
        loop {
            let target = match &cursor {
                None => format!("/sales/?salespersonsID={seller}&limit={limit}"),
                Some(c) => format!("/sales/?salespersonsID={seller}&limit={limit}&cursor={c}"),
            };
            sender.ready().await.expect("connection ready");
            let request = Request::get(target)
                .header(HOST, &host)
                .body(Empty::<Bytes>::new())
                .expect("request");
            let response = sender.send_request(request).await.expect("response");
            assert!(response.status().is_success(), "{}", response.status());
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            records += records_in(&body);
            cursor = next_cursor(&body);
            if cursor.is_none() {
                break;
            }
        }
    }
    records
}

/// The `next` cursor, read from the page's tail (the server writes `next` last).
fn next_cursor(body: &[u8]) -> Option<String> {
    let tail = &body[body.len().saturating_sub(40)..];
    let text = std::str::from_utf8(tail).expect("ASCII tail");
    let (_, next) = text.rsplit_once("\"next\":")?;
    let next = next.trim_end_matches('}');
    (next != "null").then(|| next.trim_matches('"').to_string())
}

fn serve_over_http(
    clients: &tokio::runtime::Runtime,
    addr: SocketAddr,
    sellers: &[u64],
    limit: u64,
) -> (u64, Duration) {
    clients.block_on(async {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for share in 0..CLIENTS {
            let mine: Vec<u64> = sellers
                .iter()
                .skip(share)
                .step_by(CLIENTS)
                .copied()
                .collect();
            tasks.spawn(client(addr, mine, limit));
        }
        let mut records = 0;
        while let Some(joined) = tasks.join_next().await {
            records += joined.expect("client task");
        }
        (records, started.elapsed())
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    println!("vendor-api serve benchmark: {RUNS} runs, {CLIENTS} keep-alive client connections");
    for scenario in &SCENARIOS {
        let config = config(scenario);
        let dataset = Dataset::new(config.clone()).expect("valid config");
        let sellers = salespersons(&dataset);
        let expected = sellers.len() as u64 * u64::from(scenario.sales);
        let listener = server_runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = server_runtime.spawn(vendor_api::serve(config, listener));
        let (mut generated, mut served) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (records, took) = generate_only(&dataset, &sellers, scenario.limit);
            assert_eq!(records, expected);
            generated.push(records as f64 / took.as_secs_f64());
            let (records, took) = serve_over_http(&client_runtime, addr, &sellers, scenario.limit);
            assert_eq!(records, expected, "every record served once");
            served.push(records as f64 / took.as_secs_f64());
        }
        server.abort();
        let (generated, served) = (median(generated), median(served));
        println!(
            "{:<30} {expected:>9} records/run  generator alone {:>10.0} rec/s  over HTTP {:>10.0} rec/s  ({:.2} of the generator)",
            scenario.name,
            generated,
            served,
            served / generated
        );
    }
}
