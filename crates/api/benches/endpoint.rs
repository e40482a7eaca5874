//! Load benchmark of the endpoint: pre-built AWS JSON 1.0 requests over several keep-alive
//! connections, printing the median of three runs of each workload.
//!
//! Workloads: PutItem ops/s; BatchWriteItem items/s (25-item batches, stream on); the queue cycle
//! (SendMessageBatch 10 / ReceiveMessage 10 / DeleteMessageBatch) in msgs/s at depths 1,000 and
//! 100,000. First, as their reference, the HTTP floor: ListTables ops/s, what a request costs
//! with next to no work behind it, on the same connections and the same two cores. With `BENCH_MOTO_URL=http://127.0.0.1:5000` (a running `moto_server`), the same
//! requests also drive moto in the same run, with fewer repetitions, and the ratio is printed;
//! moto's depth-100,000 cycle runs only with `BENCH_MOTO_DEEP=1`, as filling it takes minutes.
//!
//! `BENCH_ONLY=<text>` runs only the workloads whose name contains the text (for example
//! `BENCH_ONLY="depth 100000"`); the others print as NaN.
//!
//! Run: `cargo bench -p api --bench endpoint` (see `scripts/bench.sh` for moto).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The allocator `cascade` runs the engine on, so that the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 8;

/// One keep-alive connection speaking just enough HTTP/1.1.
struct Conn {
    stream: BufReader<TcpStream>,
    addr: SocketAddr,
    host: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        Conn {
            stream: Conn::connect(addr).await,
            addr,
            host: addr.to_string(),
        }
    }

    async fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        BufReader::new(stream)
    }

    /// The bytes of a signed-shaped AWS JSON request (the endpoint checks the signature only for
    /// keys it issued; moto checks none).
    fn request(&self, target: &str, body: &str) -> Vec<u8> {
        let service = if target.starts_with("AmazonSQS") {
            "sqs"
        } else {
            "dynamodb"
        };
        format!(
            "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: {target}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amz-date: 20250101T000000Z\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\ncontent-length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        )
        .into_bytes()
    }

    async fn send(&mut self, request: &[u8]) -> (u16, Vec<u8>) {
        self.stream
            .get_mut()
            .write_all(request)
            .await
            .expect("write");
        let mut line = String::new();
        self.stream.read_line(&mut line).await.expect("status line");
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body");
        // moto's server (werkzeug) answers every request with `Connection: close`; a client then
        // opens a new connection, and so does this one (the endpoint keeps its connections).
        if close {
            self.stream = Conn::connect(self.addr).await;
        }
        (status, body)
    }

    async fn call(&mut self, target: &str, body: &Value) -> Value {
        let request = self.request(target, &body.to_string());
        let (status, body) = self.send(&request).await;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert!(status == 200, "{target}: {status} {value}");
        value
    }
}

/// Runs the futures `work(connection index, connection)` on every connection at once; returns the
/// time they take. `work` itself runs before the clock starts, so what it does before returning
/// its future (building the connection's requests) is not measured.
async fn parallel<F, Fut>(addr: SocketAddr, work: F) -> Duration
where
    F: Fn(usize, Conn) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut futures = Vec::new();
    for i in 0..CONNECTIONS {
        futures.push(work(i, Conn::open(addr).await));
    }
    let start = Instant::now();
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    for task in tasks {
        task.await.expect("bench task");
    }
    start.elapsed()
}

fn table_body(name: &str) -> Value {
    json!({
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    })
}

fn sale(pk: &str, sk: usize) -> Value {
    json!({"pk": {"S": pk}, "sk": {"N": sk.to_string()}, "amount": {"N": "12.50"}, "customer": {"S": "Dunder Mifflin"}})
}

/// PutItem ops/s: `total` pre-built requests spread over the connections.
async fn put_item(addr: SocketAddr, run: usize, total: usize) -> f64 {
    let table = format!("put{run}");
    Conn::open(addr)
        .await
        .call("DynamoDB_20120810.CreateTable", &table_body(&table))
        .await;
    requests_per_second(addr, total, move |c, i| {
        let body = json!({"TableName": table, "Item": sale(&format!("c{c}"), i)});
        ("DynamoDB_20120810.PutItem", body)
    })
    .await
}

/// The HTTP floor: ListTables ops/s, a request that reaches the engine and reads one small table
/// of the store, so that its rate is what the endpoint costs around an operation.
async fn list_tables(addr: SocketAddr, total: usize) -> f64 {
    requests_per_second(addr, total, |_, _| {
        ("DynamoDB_20120810.ListTables", json!({"Limit": 1}))
    })
    .await
}

/// Sends `total` pre-built requests, `request(connection, n)` each, spread over the connections;
/// returns requests per second.
async fn requests_per_second<F>(addr: SocketAddr, total: usize, request: F) -> f64
where
    F: Fn(usize, usize) -> (&'static str, Value) + Clone + Send + 'static,
{
    let per = total / CONNECTIONS;
    let elapsed = parallel(addr, move |c, conn| {
        let requests: Vec<Vec<u8>> = (0..per)
            .map(|i| {
                let (target, body) = request(c, i);
                conn.request(target, &body.to_string())
            })
            .collect();
        let mut conn = conn;
        async move {
            for request in &requests {
                let (status, _) = conn.send(request).await;
                assert_eq!(status, 200);
            }
        }
    })
    .await;
    (per * CONNECTIONS) as f64 / elapsed.as_secs_f64()
}

/// BatchWriteItem items/s with 25-item batches on a table with a stream.
async fn batch_write(addr: SocketAddr, run: usize, batches: usize) -> f64 {
    let table = format!("batch{run}");
    Conn::open(addr)
        .await
        .call("DynamoDB_20120810.CreateTable", &table_body(&table))
        .await;
    let per = batches / CONNECTIONS;
    let elapsed = parallel(addr, move |c, mut conn| {
        let requests: Vec<Vec<u8>> = (0..per)
            .map(|b| {
                let writes: Vec<Value> = (0..25)
                    .map(|i| json!({"PutRequest": {"Item": sale(&format!("c{c}"), b * 25 + i)}}))
                    .collect();
                let body = json!({"RequestItems": {table.clone(): writes}});
                conn.request("DynamoDB_20120810.BatchWriteItem", &body.to_string())
            })
            .collect();
        async move {
            for request in &requests {
                let (status, _) = conn.send(request).await;
                assert_eq!(status, 200);
            }
        }
    })
    .await;
    (per * CONNECTIONS * 25) as f64 / elapsed.as_secs_f64()
}

fn send_batch(url: &str, c: usize, n: usize) -> Value {
    let entries: Vec<Value> = (0..10)
        .map(|i| json!({"Id": format!("m{i}"), "MessageBody": format!("{{\"sale\":{c},\"n\":{n},\"i\":{i}}}")}))
        .collect();
    json!({"QueueUrl": url, "Entries": entries})
}

/// What the queue cycle reads of a ReceiveMessage answer. The cycle reads answers with typed
/// structs rather than JSON value trees, so that the load generator, which shares the two cores
/// with the endpoint, takes as little of them as it can.
#[derive(Deserialize)]
struct Received<'a> {
    #[serde(rename = "Messages", default, borrow)]
    messages: Vec<ReceivedMessage<'a>>,
}

#[derive(Deserialize)]
struct ReceivedMessage<'a> {
    #[serde(rename = "ReceiptHandle", borrow)]
    receipt_handle: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteBatch<'a> {
    queue_url: &'a str,
    entries: Vec<DeleteEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteEntry<'a> {
    id: &'a str,
    receipt_handle: &'a str,
}

/// The entry ids of a DeleteMessageBatch request.
const DELETE_IDS: [&str; 10] = ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[derive(Default)]
struct Deleted {
    successful: Vec<serde::de::IgnoredAny>,
    failed: Vec<serde::de::IgnoredAny>,
}

/// Queue cycle msgs/s at `depth` messages already waiting: each connection sends 10, receives
/// 10 and deletes what it received, `cycles` times in all.
async fn queue_cycle(addr: SocketAddr, run: usize, depth: usize, cycles: usize) -> f64 {
    let mut setup = Conn::open(addr).await;
    let created = setup
        .call(
            "AmazonSQS.CreateQueue",
            &json!({"QueueName": format!("cycle{run}-{depth}")}),
        )
        .await;
    let url = Arc::new(created["QueueUrl"].as_str().expect("QueueUrl").to_owned());
    let fill = Arc::clone(&url);
    parallel(addr, move |c, mut conn| {
        let url = Arc::clone(&fill);
        async move {
            for n in (c..depth / 10).step_by(CONNECTIONS) {
                conn.call("AmazonSQS.SendMessageBatch", &send_batch(&url, c, n))
                    .await;
            }
        }
    })
    .await;
    let per = cycles / CONNECTIONS;
    let moved = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&moved);
    let elapsed = parallel(addr, move |c, mut conn| {
        let url = Arc::clone(&url);
        let moved = Arc::clone(&counter);
        let sends: Vec<Vec<u8>> = (0..per)
            .map(|n| {
                conn.request(
                    "AmazonSQS.SendMessageBatch",
                    &send_batch(&url, c, n).to_string(),
                )
            })
            .collect();
        let receive = conn.request(
            "AmazonSQS.ReceiveMessage",
            &json!({"QueueUrl": *url, "MaxNumberOfMessages": 10}).to_string(),
        );
        async move {
            for send in &sends {
                assert_eq!(conn.send(send).await.0, 200);
                let (status, body) = conn.send(&receive).await;
                assert_eq!(status, 200);
                let received: Received<'_> = serde_json::from_slice(&body).expect("receive answer");
                if received.messages.is_empty() {
                    continue;
                }
                let delete = DeleteBatch {
                    queue_url: &url,
                    entries: received
                        .messages
                        .iter()
                        .enumerate()
                        .map(|(i, m)| DeleteEntry {
                            id: DELETE_IDS[i],
                            receipt_handle: &m.receipt_handle,
                        })
                        .collect(),
                };
                let request = conn.request(
                    "AmazonSQS.DeleteMessageBatch",
                    &serde_json::to_string(&delete).expect("delete request"),
                );
                let (status, body) = conn.send(&request).await;
                assert_eq!(status, 200);
                let deleted: Deleted = serde_json::from_slice(&body).expect("delete answer");
                assert!(deleted.failed.is_empty(), "deletes failed");
                moved.fetch_add(
                    deleted.successful.len(),
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
        }
    })
    .await;
    moved.load(std::sync::atomic::Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

/// The median of `values`, or NaN for a workload that did not run.
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs every workload against `addr`; `scale` divides the amounts (moto is far slower).
/// `deep` includes the queue cycle at depth 100,000 (moto needs many minutes to fill that queue).
async fn measure(addr: SocketAddr, scale: usize, runs: usize, deep: bool) -> Vec<(String, f64)> {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let selected = |name: &str| name.contains(only.as_str());
    let mut results = Vec::new();
    let mut sample = Vec::new();
    let name = "HTTP floor: ListTables ops/s";
    if selected(name) {
        for _ in 0..runs {
            sample.push(list_tables(addr, 40_000 / scale).await);
        }
    }
    results.push((name.to_owned(), median(std::mem::take(&mut sample))));
    let name = "PutItem ops/s";
    if selected(name) {
        for run in 0..runs {
            sample.push(put_item(addr, run, 40_000 / scale).await);
        }
    }
    results.push((name.to_owned(), median(std::mem::take(&mut sample))));
    let name = "BatchWriteItem items/s";
    if selected(name) {
        for run in 0..runs {
            sample.push(batch_write(addr, run, 4_000 / scale).await);
        }
    }
    results.push((name.to_owned(), median(std::mem::take(&mut sample))));
    // Runs of 4,000 cycles (under a second here) varied by a fifth from one to the next; 16,000
    // take about three seconds. moto moves about 12 msgs/s, so it keeps 100 cycles.
    let cycles = if scale == 1 { 16_000 } else { 4_000 / scale };
    for depth in [1_000, 100_000] {
        let name = format!("queue cycle msgs/s, depth {depth}");
        if selected(&name) && (depth <= 1_000 || deep) {
            for run in 0..runs {
                sample.push(queue_cycle(addr, run, depth, cycles).await);
            }
        }
        results.push((name, median(std::mem::take(&mut sample))));
    }
    results
}

fn main() {
    // The runtime `cascade serve` runs on; the load generator shares it.
    let runtime = api::runtime().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store::Store::open(&dir.path().join("state.db"), store::Options::default())
            .expect("store");
        let services = api::Services::new(store, Arc::new(store::SystemClock)).expect("services");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = api::ServeConfig::new("bench", dir.path());
        tokio::spawn(api::serve_with(config, services, listener));

        let ours = measure(addr, 1, 3, true).await;
        let moto = match std::env::var("BENCH_MOTO_URL") {
            Ok(url) => {
                let moto_addr: SocketAddr = url
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .parse()
                    .expect("BENCH_MOTO_URL as http://IP:PORT");
                Some(
                    measure(
                        moto_addr,
                        40,
                        1,
                        std::env::var_os("BENCH_MOTO_DEEP").is_some(),
                    )
                    .await,
                )
            }
            Err(_) => None,
        };
        println!(
            "{:<36} {:>12} {:>12} {:>8}",
            "workload", "cascade", "moto", "ratio"
        );
        for (i, (name, value)) in ours.iter().enumerate() {
            match &moto {
                Some(moto) => {
                    let reference = moto[i].1;
                    println!(
                        "{name:<36} {value:>12.0} {reference:>12.0} {:>7.0}x",
                        value / reference
                    );
                }
                None => println!("{name:<36} {value:>12.0} {:>12} {:>8}", "-", "-"),
            }
        }
    });
}
