//! Starting a server on a temporary store, and the clients that talk to it.

use std::net::SocketAddr;
use std::sync::Arc;

use api::{ServeConfig, Services};
use store::{Clock, ManualClock, Options, Store, SystemClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running endpoint; the server task ends with the test's runtime.
pub struct Server {
    pub addr: SocketAddr,
    pub services: Services,
    _dir: tempfile::TempDir,
}

pub async fn start() -> Server {
    start_with(Arc::new(SystemClock), None).await
}

/// A server on a virtual clock.
pub async fn start_virtual() -> (Server, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let server = start_with(clock.clone(), None).await;
    (server, clock)
}

pub async fn start_with(clock: Arc<dyn Clock>, auth_token: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let services = Services::new(store, clock).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServeConfig::new("test", dir.path());
    config.listen = addr;
    config.auth_token = auth_token.map(str::to_owned);
    config.max_body_bytes = 1024 * 1024;
    tokio::spawn(api::serve_with(config, services.clone(), listener));
    Server {
        addr,
        services,
        _dir: dir,
    }
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        self.sqs_as("AKIDLOCAL", "secret")
    }

    pub fn sqs_as(&self, key: &str, secret: &str) -> aws_sdk_sqs::Client {
        client_as!(aws_sdk_sqs, self, key, secret)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb_as("AKIDLOCAL", "secret")
    }

    pub fn dynamodb_as(&self, key: &str, secret: &str) -> aws_sdk_dynamodb::Client {
        client_as!(aws_sdk_dynamodb, self, key, secret)
    }

    pub fn lambda_as(&self, key: &str, secret: &str) -> aws_sdk_lambda::Client {
        client_as!(aws_sdk_lambda, self, key, secret)
    }

    pub fn streams(&self) -> aws_sdk_dynamodbstreams::Client {
        client_as!(aws_sdk_dynamodbstreams, self, "AKIDLOCAL", "secret")
    }

    /// Sends raw bytes on a new connection and reads the whole answer.
    pub async fn raw(&self, request: &[u8]) -> Raw {
        self.raw_then(request, false).await
    }

    /// Sends raw bytes, then closes the sending side (a client that gave up mid-request).
    pub async fn raw_truncated(&self, request: &[u8]) -> Raw {
        self.raw_then(request, true).await
    }

    async fn raw_then(&self, request: &[u8], close_sending: bool) -> Raw {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        if close_sending {
            stream.shutdown().await.unwrap();
        }
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        Raw::parse(&answer)
    }

    /// A POST with headers and a body, on its own connection.
    pub async fn post(&self, headers: &[(&str, &str)], body: &[u8]) -> Raw {
        self.post_to("/", headers, body).await
    }

    pub async fn post_to(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Raw {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes).await
    }

    /// An AWS JSON 1.0 request.
    pub async fn json(&self, target: &str, body: &str) -> Raw {
        self.post(
            &[
                ("x-amz-target", target),
                ("content-type", "application/x-amz-json-1.0"),
            ],
            body.as_bytes(),
        )
        .await
    }

    /// An SQS query-protocol request.
    pub async fn query(&self, form: &str) -> Raw {
        self.post(
            &[("content-type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .await
    }
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Raw {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Raw {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `status __type` of a JSON error, for one-line assertions.
    pub fn error_type(&self) -> String {
        format!(
            "{} {}",
            self.status,
            self.json()["__type"].as_str().unwrap_or("-")
        )
    }
}
