//! The `vendor-api` binary: it prints its bound address as one line, serves, restarts with the
//! same data for the same seed, and names a bad flag value.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::NOW;

/// A running `vendor-api` process, killed when dropped.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    fn start(args: &[&str]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vendor-api"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vendor-api");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the first line");
        let base = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Process { child, base }
    }

    /// The body of `GET path`, over a fresh connection with a plain HTTP/1.0 exchange.
    async fn get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.strip_prefix("http://").expect("http base");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        let status = answer[9..12].parse().expect("a status code");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_string())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_address_and_serves_the_same_data_after_a_restart() {
    let now = NOW.to_string();
    let args = [
        "--seed",
        "9",
        "--branches",
        "20",
        "--sales",
        "30",
        "--now",
        &now,
    ];
    let first = Process::start(&args);
    assert!(
        first.base.starts_with("http://127.0.0.1:"),
        "{}",
        first.base
    );
    assert_eq!(
        first.get("/health").await,
        (200, r#"{"status":"ok"}"#.to_string())
    );
    let paths = [
        "/branches/?limit=1000",
        "/employees?branchID=20",
        "/sales/?salespersonsID=2000003",
    ];
    let mut before = Vec::new();
    for path in paths {
        let (status, body) = first.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        before.push(body);
    }
    drop(first);
    let second = Process::start(&args);
    for (path, body) in paths.iter().zip(&before) {
        assert_eq!(&second.get(path).await.1, body, "{path}");
    }
}

#[test]
fn a_bad_flag_value_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_vendor-api"))
        .args(["--listen", "127.0.0.1:0", "--fail-rate", "1.5"])
        .output()
        .expect("run vendor-api");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`--fail-rate` is 1.5, but must be between 0 and 1"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_vendor-api"))
        .args(["--now", "yesterday"])
        .output()
        .expect("run vendor-api");
    assert_eq!(output.status.code(), Some(2));
}
