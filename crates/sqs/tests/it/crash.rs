//! Crash test: a child process performs acknowledged writes (batch sends, deletes) and is killed
//! with SIGKILL at random moments; after each kill the database is reopened and every acknowledged
//! write must be there, and nothing half-written visible.
//!
//! The child is this test binary run again with [`CHILD_DB`] set, executing only this test, which
//! then plays the child. It prints `ACK SENT <batch>`, `INTENT DELETE <body>` and `ACK DELETED
//! <body>` lines, each ending in ` END` so that a line cut by the kill is never taken for a whole one.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sqs::{Config, DeleteMessageBatchEntry, ReceiveMessage, SendMessageBatchEntry, Sqs};
use store::{Options, Store, SystemClock};

const CHILD_DB: &str = "SQS_CRASH_CHILD_DB";
const CHILD_ROUND: &str = "SQS_CRASH_CHILD_ROUND";
const TEST_NAME: &str = "crash::acknowledged_writes_survive_sigkill";
const URL: &str = "http://localhost/000000000000/crash";
const ROUNDS: usize = 24;
const WRITERS: usize = 3;

fn open(path: &std::path::Path) -> Sqs {
    let store = Store::open(path, Options::default()).unwrap();
    Sqs::new(store, Arc::new(SystemClock), Config::default()).unwrap()
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line} END").unwrap();
    out.flush().unwrap();
}

/// The child: several writers sending batches of 10 and deleting received messages, forever.
fn child(path: String, round: String) -> ! {
    let sqs = open(path.as_ref());
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let sqs = sqs.clone();
            let round = round.clone();
            std::thread::spawn(move || {
                for i in 0.. {
                    let batch = format!("r{round}-t{t}-b{i}");
                    let entries = (0..10)
                        .map(|k| SendMessageBatchEntry {
                            id: format!("e{k}"),
                            message_body: format!("{batch}-{k}"),
                            ..SendMessageBatchEntry::default()
                        })
                        .collect();
                    let sent = sqs.send_message_batch(URL, entries).unwrap();
                    assert_eq!(sent.successful.len(), 10);
                    say(format!("ACK SENT {batch}"));
                    if i % 2 == 1 {
                        let got = sqs
                            .receive_message(&ReceiveMessage {
                                queue_url: URL.into(),
                                max_number_of_messages: Some(10),
                                wait_time_seconds: Some(0),
                                ..ReceiveMessage::default()
                            })
                            .unwrap()
                            .messages;
                        for m in &got {
                            say(format!("INTENT DELETE {}", m.body));
                        }
                        let entries = got
                            .iter()
                            .enumerate()
                            .map(|(n, m)| DeleteMessageBatchEntry {
                                id: format!("d{n}"),
                                receipt_handle: m.receipt_handle.clone(),
                            })
                            .collect::<Vec<_>>();
                        if !entries.is_empty() {
                            let deleted = sqs.delete_message_batch(URL, entries).unwrap();
                            assert!(deleted.failed.is_empty());
                            for m in &got {
                                say(format!("ACK DELETED {}", m.body));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        let _ = w.join();
    }
    std::process::exit(0)
}

/// What the parent learned from the children's output.
#[derive(Default)]
struct Acks {
    sent: HashSet<String>,
    intended_deletes: HashSet<String>,
    deleted: HashSet<String>,
}

impl Acks {
    fn take(&mut self, line: &str) {
        let Some(line) = line.strip_suffix(" END") else {
            return;
        };
        if let Some(batch) = line.strip_prefix("ACK SENT ") {
            self.sent.insert(batch.to_owned());
        } else if let Some(body) = line.strip_prefix("INTENT DELETE ") {
            self.intended_deletes.insert(body.to_owned());
        } else if let Some(body) = line.strip_prefix("ACK DELETED ") {
            self.deleted.insert(body.to_owned());
        }
    }
}

/// Checks the reopened database against everything acknowledged so far.
fn verify(path: &std::path::Path, acks: &Acks) {
    let sqs = open(path);
    let rows: Vec<(String, String)> = sqs
        .store()
        .read(|c| -> Result<_, store::StoreError> {
            let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            assert_eq!(ok, "ok");
            let mut stmt = c.prepare("SELECT body, body_md5 FROM sqs_messages")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .unwrap();
    let mut present: HashSet<String> = HashSet::new();
    for (body, md5) in rows {
        assert_eq!(md5, sqs::md5_hex(body.as_bytes()), "row intact: {body}");
        present.insert(body);
    }
    for batch in &acks.sent {
        for k in 0..10 {
            let body = format!("{batch}-{k}");
            // A delete whose acknowledgement was cut by the kill may still have committed.
            if !acks.intended_deletes.contains(&body) {
                assert!(present.contains(&body), "acknowledged send lost: {body}");
            }
        }
    }
    for body in &acks.deleted {
        assert!(
            !present.contains(body),
            "acknowledged delete undone: {body}"
        );
    }
    // A batch is all or nothing: every body of a batch seen in the table is there unless a delete
    // of it was at least attempted.
    let mut batches: HashMap<String, usize> = HashMap::new();
    for body in &present {
        let (batch, _) = body.rsplit_once('-').unwrap();
        *batches.entry(batch.to_owned()).or_default() += 1;
    }
    for (batch, count) in batches {
        let missing: Vec<String> = (0..10)
            .map(|k| format!("{batch}-{k}"))
            .filter(|b| !present.contains(b) && !acks.intended_deletes.contains(b))
            .collect();
        assert!(
            missing.is_empty(),
            "half-written batch {batch} ({count}/10): {missing:?}"
        );
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let (Ok(path), Ok(round)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ROUND)) {
        child(path, round);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let sqs = open(&path);
        sqs.create_queue(
            "http://localhost",
            sqs::CreateQueue {
                queue_name: "crash".into(),
                attributes: [("VisibilityTimeout".to_string(), "3600".to_string())].into(),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acks = Acks::default();
    let mut rounds_with_acks = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DB, &path)
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let wait = rng.u64(40..250);
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap(); // SIGKILL on Unix.
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let before = acks.sent.len();
        for line in &lines {
            acks.take(line);
        }
        if acks.sent.len() > before {
            rounds_with_acks += 1;
        }
        verify(&path, &acks);
    }
    assert!(
        rounds_with_acks >= ROUNDS / 2,
        "only {rounds_with_acks} of {ROUNDS} children acknowledged writes before the kill (seed {seed})"
    );
    assert!(
        !acks.deleted.is_empty(),
        "deletes were exercised (seed {seed})"
    );
}
