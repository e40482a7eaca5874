//! Shared test support: a server on an ephemeral port, a keep-alive HTTP/1 client, and page walks.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HOST;
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use vendor_api::{Config, Dataset};

/// The end of the sales window in every test, so that two servers agree.
pub const NOW: u64 = 1_700_000_000;

/// A configuration with the fixed window end and small counts.
pub fn config() -> Config {
    Config {
        now: Some(UNIX_EPOCH + Duration::from_secs(NOW)),
        branches: 15,
        salespersons: 4,
        sales: 12,
        ..Config::default()
    }
}

/// A server running on an ephemeral loopback port until dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub dataset: Dataset,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let dataset = Dataset::new(config.clone()).expect("valid test config");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let task = tokio::spawn(async move {
            if let Err(error) = vendor_api::serve(config, listener).await {
                panic!("server stopped: {error}");
            }
        });
        Server {
            addr,
            dataset,
            task,
        }
    }

    pub fn client(&self) -> Client {
        Client {
            addr: self.addr,
            sender: None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One answer of the server.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {:?}", self.body))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A keep-alive HTTP/1 client on one connection, reconnecting after an error or a timeout.
pub struct Client {
    addr: SocketAddr,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl Client {
    async fn connect(&mut self) -> &mut SendRequest<Empty<Bytes>> {
        if self.sender.as_ref().is_none_or(|sender| sender.is_closed()) {
            let stream = TcpStream::connect(self.addr).await.expect("connect");
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().expect("just connected")
    }

    pub async fn request(&mut self, method: hyper::Method, target: &str) -> Reply {
        let host = self.addr.to_string();
        let sender = self.connect().await;
        sender.ready().await.expect("connection ready");
        let request = Request::builder()
            .method(method)
            .uri(target)
            .header(HOST, host)
            .body(Empty::new())
            .expect("valid request");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, target: &str) -> Reply {
        self.request(hyper::Method::GET, target).await
    }

    /// GET with a client timeout; `None` when the answer did not come in time. The connection
    /// is dropped after a timeout, as a real client does.
    pub async fn get_within(&mut self, target: &str, timeout: Duration) -> Option<Reply> {
        match tokio::time::timeout(timeout, self.get(target)).await {
            Ok(reply) => Some(reply),
            Err(_elapsed) => {
                self.sender = None;
                None
            }
        }
    }

    /// Follows `next` from `target` to the last page; returns each page's records and the
    /// number of pages.
    pub async fn walk(&mut self, target: &str) -> (Vec<Value>, usize) {
        let mut records = Vec::new();
        let mut pages = 0;
        let mut url = target.to_string();
        loop {
            let reply = self.get(&url).await;
            assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text());
            let page = reply.json();
            pages += 1;
            records.extend(list_of(&page).iter().cloned());
            match &page["next"] {
                Value::Null => return (records, pages),
                Value::String(cursor) => {
                    let separator = if target.contains('?') { '&' } else { '?' };
                    url = format!("{target}{separator}cursor={cursor}");
                }
                other => panic!("{url}: `next` is neither null nor a string: {other}"),
            }
        }
    }
}

/// The records of a page of any of the three lists.
pub fn list_of(page: &Value) -> &Vec<Value> {
    let result = &page["result"];
    let list = match result {
        Value::Array(_) => result,
        Value::Object(object) if object.contains_key("employees") => &result["employees"],
        Value::Object(_) => &result["sales"],
        other => panic!("unexpected result: {other}"),
    };
    list.as_array().expect("a list of records")
}

/// Parses a library-rendered record, for comparing with what the server sent.
pub fn parsed(json: String) -> Value {
    serde_json::from_str(&json).expect("library JSON parses")
}

/// The ids of records, in order.
pub fn ids(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .map(|record| record["id"].as_u64().expect("record with an id"))
        .collect()
}

/// The clock's start in the rate-limit tests.
pub fn epoch_plus(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}
