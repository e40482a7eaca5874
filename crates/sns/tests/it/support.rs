//! The engines on a temporary store, and an HTTP endpoint on loopback that records every request.

use std::sync::{Arc, Mutex};

use cloudwatch::CloudWatch;
use sns::Sns;
use sqs::Sqs;
use store::{ManualClock, Options, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const T0: i64 = 1_699_999_980_000;

pub struct Env {
    pub sns: Sns,
    pub sqs: Sqs,
    pub cw: CloudWatch,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

pub fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let sqs = Sqs::new(store.clone(), clock.clone(), Default::default()).unwrap();
    let cw = CloudWatch::new(store.clone(), clock.clone(), Default::default()).unwrap();
    let sns = Sns::new(store, clock.clone(), Default::default(), Some(sqs.clone())).unwrap();
    cw.set_notifier(Arc::new(sns.clone()));
    Env {
        sns,
        sqs,
        cw,
        clock,
        _dir: dir,
    }
}

/// One request the endpoint received: its head (request line and headers, lower-cased names)
/// and its body.
#[derive(Debug, Clone)]
pub struct Received {
    pub head: String,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// An HTTP endpoint on loopback answering each request with the next status of `statuses`
/// (the last one repeats), recording what it received.
pub struct Endpoint {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

pub async fn endpoint(statuses: &[u16]) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    let statuses = statuses.to_vec();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then as many body bytes as Content-Length says.
            let (head, body) = loop {
                let k = stream.read(&mut buf).await.unwrap();
                if k == 0 {
                    break (String::new(), String::new());
                }
                data.extend_from_slice(&buf[..k]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let head = text[..end].to_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        let body =
                            String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                        break (head, body);
                    }
                }
            };
            log.lock().unwrap().push(Received { head, body });
            let status = statuses[n.min(statuses.len() - 1)];
            n += 1;
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    Endpoint { url, received }
}
