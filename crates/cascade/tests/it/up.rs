//! `cascade up --once` on a two-stage cascade of the test function: a schedule fires the starter,
//! whose message (sent with its own role's credentials) triggers the worker through an SQS
//! mapping. A clean run drains and exits 0; a failing message is redriven to the dead-letter
//! queue after maxReceiveCount receives and the run exits 1 naming it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of `tests/data/up` with the test function as `fn/bootstrap`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/up");
    std::fs::copy(data.join("template.yml"), dir.path().join("template.yml")).unwrap();
    std::fs::create_dir_all(dir.path().join("fn")).unwrap();
    std::fs::copy(test_function(), dir.path().join("fn/bootstrap")).unwrap();
    dir
}

/// Builds `test-function` in the test binary's target folder.
fn test_function() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "test-function"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building test-function failed");
    target.join("debug/test-function")
}

fn up(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(["up", "--once", "--listen", "127.0.0.1:0", "--timeout", "60"])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with `{needle}` in:\n{text}"))
}

#[test]
fn a_clean_cascade_drains_and_exits_0() {
    let dir = project();
    let (code, out, err) = up(dir.path(), &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("drained in"), "{out}");
    assert!(out.contains("result: ok"), "{out}");
    // The worker ran once: the starter's message got through with the starter's own key.
    let worker = line_with(&out, "function up-worker");
    assert!(worker.contains("invocations        1"), "{worker}");
    assert!(
        line_with(&out, "up-dead").contains("visible        0"),
        "{out}"
    );
    // A second run deploys nothing new and runs the cascade again.
    let (code, out, err) = up(dir.path(), &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("are up to date"), "{out}");
}

#[test]
fn a_message_that_keeps_failing_ends_in_the_dead_letter_queue_and_exits_1() {
    let dir = project();
    let (code, out, err) = up(dir.path(), &["--param", "Fail=true"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("dead letters: 1 message(s) in up-dead"),
        "{out}"
    );
    // maxReceiveCount is 2: the worker saw the message exactly twice.
    let worker = line_with(&out, "function up-worker");
    assert!(worker.contains("invocations        2"), "{worker}");
    assert!(out.contains("result: FAILED"), "{out}");
}
