//! Queue benchmark: prints medians, each beside a reference measured in the same run.
//!
//! - Queue cycle (SendMessageBatch 10, ReceiveMessage 10, DeleteMessageBatch 10) in messages/s at
//!   depth 1,000 and at depth 1,000,000, with several concurrent callers (group commit is how the
//!   store reaches throughput). Reference: the bare SQLite floor, the same rows inserted, selected,
//!   updated and deleted with prepared statements, one transaction per cycle, one thread. The
//!   cycle also runs in a queue holding 100,000 delayed messages (its own messages are sent
//!   without delay), which a receive must not count or read; reference: depth 1,000.
//! - GetQueueAttributes (All: the visible, in-flight and delayed counts, which scan the queue)
//!   at depth 1,000,000; reference: the same at depth 1,000. Beside it, the drain check
//!   (`holds_messages`) on the same queue, which must not grow with depth; reference: the counts.
//! - Long-poll wake-up latency: a receive waiting while another thread sends; time from the start
//!   of the send to the receive's return. Reference: a send followed by a non-waiting receive.
//!
//! - CPU cost of the queue cycle with one caller: process CPU time (every thread: caller, writer,
//!   checkpointer) per message, which depends far less on other load than wall time does.
//!   Reference: the CPU time per message of the bare SQLite floor with one commit per cycle.
//!
//! Run with `cargo bench -p sqs --bench queue`. `cargo bench -p sqs --bench queue -- cpu` runs only
//! the CPU-cost part: under `valgrind --tool=callgrind` its instruction count divided by the
//! messages it prints is the instructions per message.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use sqs::{
    Config, CreateQueue, DeleteMessageBatchEntry, ReceiveMessage, SendMessage,
    SendMessageBatchEntry, Sqs,
};
use store::{Options, Store, SystemClock};

/// The allocator `cascade` runs the engine on, so that the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BASE: &str = "http://localhost:4566";
const SAMPLES: usize = 5;
const SAMPLE_TIME: Duration = Duration::from_millis(1_500);
const CALLERS: usize = 8;
/// Delayed messages behind the front of the queue of the delayed cycle.
const DELAYED: u64 = 100_000;

fn body(i: u64) -> String {
    format!(
        r#"{{"branchId":"b-{:03}","salespersonId":"s-{:05}","saleId":"{i:012}","amount":{}.{:02}}}"#,
        i % 40,
        i % 2_000,
        i % 997,
        i % 100
    )
}

/// CPU time used so far by every thread of this process.
fn process_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The median over [`SAMPLES`] calls of `f`, in milliseconds.
fn median_ms(mut f: impl FnMut()) -> f64 {
    median(
        (0..SAMPLES)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn service(dir: &std::path::Path, name: &str) -> Sqs {
    let store = Store::open(&dir.join(format!("{name}.db")), Options::default()).unwrap();
    Sqs::new(store, Arc::new(SystemClock), Config::default()).unwrap()
}

fn create(sqs: &Sqs, name: &str) -> String {
    create_with(sqs, name, &[])
}

fn create_with(sqs: &Sqs, name: &str, attributes: &[(&str, &str)]) -> String {
    sqs.create_queue(
        BASE,
        CreateQueue {
            queue_name: name.into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..CreateQueue::default()
        },
    )
    .unwrap()
}

/// Fills the queue to `depth` in large transactions; returns the time taken.
fn fill(sqs: &Sqs, url: &str, depth: u64) -> Duration {
    let start = Instant::now();
    let chunk = 100_000;
    let mut n = 0;
    while n < depth {
        let count = chunk.min(depth - n);
        let bodies = (n..n + count).map(body).collect();
        sqs.send_messages_bulk(url, bodies).unwrap();
        n += count;
    }
    start.elapsed()
}

/// One caller's cycle: send 10 (without delay, whatever the queue's), receive 10, delete what was
/// received. Returns messages cycled.
fn cycle(sqs: &Sqs, url: &str, seq: &mut u64) -> u64 {
    let entries = (0..10)
        .map(|k| {
            *seq += 1;
            SendMessageBatchEntry {
                id: format!("e{k}"),
                message_body: body(*seq),
                delay_seconds: Some(0),
                ..SendMessageBatchEntry::default()
            }
        })
        .collect();
    let sent = sqs.send_message_batch(url, entries).unwrap();
    assert_eq!(sent.successful.len(), 10);
    let got = sqs
        .receive_message(&ReceiveMessage {
            queue_url: url.into(),
            max_number_of_messages: Some(10),
            wait_time_seconds: Some(0),
            ..ReceiveMessage::default()
        })
        .unwrap()
        .messages;
    let entries: Vec<_> = got
        .iter()
        .enumerate()
        .map(|(i, m)| DeleteMessageBatchEntry {
            id: format!("d{i}"),
            receipt_handle: m.receipt_handle.clone(),
        })
        .collect();
    let received = entries.len() as u64;
    if !entries.is_empty() {
        let deleted = sqs.delete_message_batch(url, entries).unwrap();
        assert!(deleted.failed.is_empty());
    }
    received
}

/// Messages/s of the queue cycle with `callers` threads over one sample.
fn sample(sqs: &Sqs, url: &str, callers: usize, round: usize) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(callers + 1));
    let threads: Vec<_> = (0..callers)
        .map(|t| {
            let (sqs, url) = (sqs.clone(), url.to_owned());
            let (stop, total, barrier) = (stop.clone(), total.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut seq = ((round * 1_000 + t) as u64) << 40;
                barrier.wait();
                while !stop.load(Ordering::Relaxed) {
                    total.fetch_add(cycle(&sqs, &url, &mut seq), Ordering::Relaxed);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    std::thread::sleep(SAMPLE_TIME);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    total.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Median messages/s and mean writes per commit of each `(url, callers)` configuration. The
/// configurations take turns sample by sample, so that they share the machine's conditions (other
/// load varies over a run) and their ratio is meaningful.
fn cycle_rates(sqs: &Sqs, configs: &[(&str, usize)]) -> Vec<(f64, f64)> {
    let mut rates = vec![Vec::new(); configs.len()];
    let mut batching = vec![(0u64, 0u64); configs.len()];
    for round in 0..SAMPLES {
        for (i, (url, callers)) in configs.iter().enumerate() {
            let before = sqs.store().stats();
            rates[i].push(sample(sqs, url, *callers, round * 10 + i));
            let after = sqs.store().stats();
            batching[i].0 += after.writes - before.writes;
            batching[i].1 += after.commits - before.commits;
        }
    }
    rates
        .into_iter()
        .zip(batching)
        .map(|(r, (writes, commits))| (median(r), writes as f64 / commits as f64))
        .collect()
}

/// The bare SQLite floor: the same rows and index, insert 10 + select 10 + update 10 + delete 10
/// with prepared statements, one thread, WAL with synchronous=NORMAL; one transaction per cycle, or
/// (`one_transaction`) all the cycles of a sample in one transaction (pure row work, no commits).
fn floor_rate(dir: &std::path::Path, depth: u64, one_transaction: bool) -> f64 {
    floor_run(dir, depth, one_transaction, SAMPLES, None).0
}

/// The floor as [`floor_rate`] describes it, `samples` samples of [`SAMPLE_TIME`] each or (with
/// `cycles`) one sample of that many cycles. Returns the median messages/s and the CPU time per
/// message over all samples (µs).
fn floor_run(
    dir: &std::path::Path,
    depth: u64,
    one_transaction: bool,
    samples: usize,
    cycles: Option<u64>,
) -> (f64, f64) {
    let conn = Connection::open(dir.join(format!(
        "floor-{depth}-{one_transaction}-{}.db",
        cycles.unwrap_or(0)
    )))
    .unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE m (id INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL, message_id TEXT NOT NULL,
            body TEXT NOT NULL, body_md5 TEXT NOT NULL, sent_ms INTEGER NOT NULL,
            visible_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
            receive_count INTEGER NOT NULL DEFAULT 0) STRICT;
         CREATE INDEX m_visible ON m (queue_id, visible_ms);",
    )
    .unwrap();
    let insert =
        "INSERT INTO m (queue_id, message_id, body, body_md5, sent_ms, visible_ms, expires_ms)
                  VALUES (1, ?1, ?2, 'd41d8cd98f00b204e9800998ecf8427e', ?3, ?3, ?3 + 345600000)";
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..depth {
        conn.prepare_cached(insert)
            .unwrap()
            .execute(params![format!("id-{i}"), body(i), i as i64])
            .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let mut rates = Vec::new();
    let mut seq = depth;
    let (cpu_start, mut all_cycled) = (process_cpu(), 0u64);
    for _ in 0..samples {
        let start = Instant::now();
        let (mut cycled, mut rounds) = (0u64, 0u64);
        while cycles.map_or(start.elapsed() < SAMPLE_TIME, |c| rounds < c) {
            rounds += 1;
            let now = 10_000_000_000 + seq as i64;
            if !one_transaction || cycled == 0 {
                conn.prepare_cached("BEGIN").unwrap().execute([]).unwrap();
            }
            for _ in 0..10 {
                seq += 1;
                conn.prepare_cached(insert)
                    .unwrap()
                    .execute(params![format!("id-{seq}"), body(seq), now])
                    .unwrap();
            }
            let ids: Vec<i64> = conn
                .prepare_cached(
                    "SELECT id, body FROM m WHERE queue_id = 1 AND visible_ms <= ?1
                     ORDER BY visible_ms, id LIMIT 10",
                )
                .unwrap()
                .query_map([now], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for id in &ids {
                conn.prepare_cached(
                    "UPDATE m SET receive_count = receive_count + 1, visible_ms = ?2 WHERE id = ?1",
                )
                .unwrap()
                .execute([*id, now + 30_000])
                .unwrap();
            }
            for id in &ids {
                conn.prepare_cached("DELETE FROM m WHERE id = ?1")
                    .unwrap()
                    .execute([*id])
                    .unwrap();
            }
            if !one_transaction {
                conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
            }
            cycled += ids.len() as u64;
        }
        if one_transaction {
            conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
        }
        rates.push(cycled as f64 / start.elapsed().as_secs_f64());
        all_cycled += cycled;
    }
    let cpu = (process_cpu() - cpu_start).as_secs_f64() * 1e6 / all_cycled as f64;
    (median(rates), cpu)
}

/// CPU time per message (µs) of `cycles` queue cycles by one caller, and the messages cycled.
fn cpu_cost(sqs: &Sqs, url: &str, cycles: u64) -> (f64, u64) {
    let mut seq = 7u64 << 40;
    let start = process_cpu();
    let mut cycled = 0;
    for _ in 0..cycles {
        cycled += cycle(sqs, url, &mut seq);
    }
    let cpu = (process_cpu() - start).as_secs_f64() * 1e6 / cycled as f64;
    (cpu, cycled)
}

/// Long-poll wake-up latency (µs, median) and the reference send + immediate receive (µs, median).
fn wake_latency(sqs: &Sqs, url: &str) -> (f64, f64) {
    let rounds = 200;
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<Instant>();
    let receiver = {
        let (sqs, url) = (sqs.clone(), url.to_owned());
        std::thread::spawn(move || {
            for _ in 0..rounds {
                ready_tx.send(()).unwrap();
                let got = sqs
                    .receive_message(&ReceiveMessage {
                        queue_url: url.clone(),
                        wait_time_seconds: Some(20),
                        ..ReceiveMessage::default()
                    })
                    .unwrap();
                let returned = Instant::now();
                assert_eq!(got.messages.len(), 1);
                sqs.delete_message(&url, &got.messages[0].receipt_handle)
                    .unwrap();
                done_tx.send(returned).unwrap();
            }
        })
    };
    let mut latencies = Vec::new();
    for i in 0..rounds {
        ready_rx.recv().unwrap();
        // Let the receiver reach its wait.
        std::thread::sleep(Duration::from_millis(2));
        let start = Instant::now();
        sqs.send_message(SendMessage {
            queue_url: url.into(),
            message_body: body(i),
            ..SendMessage::default()
        })
        .unwrap();
        let returned = done_rx.recv().unwrap();
        latencies.push(returned.duration_since(start).as_secs_f64() * 1e6);
    }
    receiver.join().unwrap();
    let mut reference = Vec::new();
    for i in 0..rounds {
        let start = Instant::now();
        sqs.send_message(SendMessage {
            queue_url: url.into(),
            message_body: body(i),
            ..SendMessage::default()
        })
        .unwrap();
        let got = sqs
            .receive_message(&ReceiveMessage {
                queue_url: url.into(),
                wait_time_seconds: Some(0),
                ..ReceiveMessage::default()
            })
            .unwrap();
        reference.push(start.elapsed().as_secs_f64() * 1e6);
        sqs.delete_message(url, &got.messages[0].receipt_handle)
            .unwrap();
    }
    (median(latencies), median(reference))
}

/// Cycles of the CPU-cost measurement.
const CPU_CYCLES: u64 = 3_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = service(dir.path(), "bench");
    if std::env::args().skip(1).any(|a| a == "cpu") {
        // Only the CPU cost, short enough to run under callgrind.
        let url = create(&sqs, "cpu");
        fill(&sqs, &url, 1_000);
        let (cpu, cycled) = cpu_cost(&sqs, &url, CPU_CYCLES);
        let (_, floor_cpu) = floor_run(dir.path(), 1_000, false, 1, Some(CPU_CYCLES));
        println!(
            "cpu cost, 1 caller, depth 1,000: {cpu:.2} µs/msg over {cycled} msgs | bare SQLite floor {floor_cpu:.2} µs/msg over {} msgs",
            CPU_CYCLES * 10
        );
        return;
    }
    println!("queue benchmark: medians of {SAMPLES} samples of {SAMPLE_TIME:?}; {CALLERS} concurrent callers for the service");

    let floor = floor_rate(dir.path(), 1_000, false);
    let floor_rows = floor_rate(dir.path(), 1_000, true);
    let floor_deep = floor_rate(dir.path(), 1_000_000, false);

    let shallow = create(&sqs, "shallow");
    fill(&sqs, &shallow, 1_000);
    let deep = create(&sqs, "deep");
    let fill_time = fill(&sqs, &deep, 1_000_000);
    let checkpoint_start = Instant::now();
    sqs.store().checkpoint().unwrap();
    let checkpoint_time = checkpoint_start.elapsed();
    println!(
        "fill depth 1,000,000:   {:.2} s ({:.0} msgs/s, bulk sends of 100,000 per transaction), then checkpoint {:.2} s",
        fill_time.as_secs_f64(),
        1e6 / fill_time.as_secs_f64(),
        checkpoint_time.as_secs_f64()
    );

    let delayed = create_with(&sqs, "delayed", &[("DelaySeconds", "900")]);
    fill(&sqs, &delayed, DELAYED);

    let rates = cycle_rates(
        &sqs,
        &[
            (&shallow, CALLERS),
            (&deep, CALLERS),
            (&shallow, 1),
            (&shallow, 4 * CALLERS),
            (&delayed, CALLERS),
        ],
    );
    let [(many, many_batch), (deep_rate, deep_batch), (one, one_batch), (more, more_batch), (behind, _)] =
        rates[..]
    else {
        unreachable!()
    };
    println!(
        "cycle depth 1,000:      {many:>9.0} msgs/s ({CALLERS} callers, {many_batch:.1} writes/commit) | bare SQLite floor {floor:>9.0} msgs/s (ratio {:.2}; floor without commits {floor_rows:.0} msgs/s)",
        many / floor
    );
    println!(
        "cycle depth 1,000,000:  {deep_rate:>9.0} msgs/s ({CALLERS} callers, {deep_batch:.1} writes/commit) | depth 1,000 {many:>9.0} msgs/s | deep/shallow {:.2} | bare SQLite floor at depth 1,000,000 {floor_deep:.0} msgs/s (floor deep/shallow {:.2})",
        deep_rate / many,
        floor_deep / floor
    );
    println!(
        "cycle, 100,000 delayed:  {behind:>9.0} msgs/s ({CALLERS} callers, the delayed messages behind the front) | depth 1,000 {many:>9.0} msgs/s | ratio {:.2}",
        behind / many
    );
    println!(
        "cycle depth 1,000, other callers: 1 caller {one:>9.0} msgs/s ({one_batch:.1} writes/commit) | {} callers {more:>9.0} msgs/s ({more_batch:.1} writes/commit)",
        4 * CALLERS
    );

    let names = ["All".to_string()];
    let counts = median_ms(|| {
        sqs.get_queue_attributes(&deep, &names).unwrap();
    });
    println!(
        "queue attributes:       {counts:>9.2} ms at depth 1,000,000 (GetQueueAttributes All, the message counts) | depth 1,000 {:>9.2} ms",
        median_ms(|| {
            sqs.get_queue_attributes(&shallow, &names).unwrap();
        })
    );
    println!(
        "drain check:            {:>9.3} ms at depth 1,000,000 (holds_messages, which the engine asks while a cascade runs) | the counts {counts:>9.2} ms",
        median_ms(|| assert!(sqs.holds_messages(&deep).unwrap()))
    );

    let cpu_queue = create(&sqs, "cpu");
    fill(&sqs, &cpu_queue, 1_000);
    let (cpu, _) = cpu_cost(&sqs, &cpu_queue, CPU_CYCLES);
    let (_, floor_cpu) = floor_run(dir.path(), 1_000, false, 1, Some(CPU_CYCLES));
    println!(
        "cpu cost, 1 caller:     {cpu:>9.2} µs/msg (process CPU time, all threads) | bare SQLite floor {floor_cpu:>9.2} µs/msg (ratio {:.2})",
        cpu / floor_cpu
    );

    let waiting = create(&sqs, "waiting");
    let (wake, reference) = wake_latency(&sqs, &waiting);
    println!(
        "long-poll wake-up:      {wake:>9.0} µs median (send start to waiting receive's return) | reference send + immediate receive {reference:>9.0} µs"
    );
}
