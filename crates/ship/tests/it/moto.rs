//! A moto server for one test: started on a free loopback port, stopped when dropped.
//!
//! moto comes from PyPI; `scripts/aws_checks.sh` (run by `scripts/test`) installs it into
//! `target/venv`. `CASCADE_MOTO_SERVER` names another `moto_server` executable. A missing server
//! fails the test: these tests never pass by skipping.

use ship::{AwsOptions, Clients};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

fn server_path() -> PathBuf {
    match std::env::var_os("CASCADE_MOTO_SERVER") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/moto_server"),
    }
}

impl Moto {
    pub fn start() -> Moto {
        let path = server_path();
        assert!(
            path.is_file(),
            "moto server not found at {}: run scripts/test or scripts/aws_checks.sh (they install \
             moto[server] into target/venv), or set CASCADE_MOTO_SERVER",
            path.display()
        );
        // Ask the kernel for a free port, then hand it to moto.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("no free loopback port")
            .port();
        let child = Command::new(&path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        // Python takes a moment to import moto; wait for the port, not for a fixed time.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto server exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto server did not listen within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub async fn clients(&self) -> Clients {
        Clients::connect(&AwsOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.url.clone()),
            static_credentials: Some(("testing".into(), "testing".into())),
        })
        .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
