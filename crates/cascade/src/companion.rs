//! Companion processes of `cascade up` (see `settings.rs`): started in the project folder before
//! the deploy, their output appended to `.cascade/<env>/logs/<name>.log`, ready when a line of
//! their output contains the configured text, stopped when `up` stops.
//!
//! A companion must not outlive `up` even when `up` is killed with SIGKILL (its port would block
//! the next run), so on Linux each one is started with a parent-death signal.

use crate::settings::Companion;
use anyhow::Context;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running companion; dropping it stops the process.
pub struct Running {
    /// The output line that said it was ready (`listening on http://127.0.0.1:4580`).
    pub ready_line: Option<String>,
    child: Child,
}

impl Running {
    /// Starts `spec` in `project_dir` and waits for its ready line.
    pub fn start(
        name: &str,
        spec: &Companion,
        project_dir: &Path,
        log_dir: &Path,
    ) -> anyhow::Result<Running> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("create `{}`", log_dir.display()))?;
        let log_path = log_dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("open `{}`", log_path.display()))?;
        let mut command = Command::new(&spec.command[0]);
        command
            .args(&spec.command[1..])
            .current_dir(project_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("start companion `{name}` (`{}`)", spec.command.join(" ")))?;
        let (tx, rx) = mpsc::channel::<String>();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            let mut log = log.try_clone().context("share the companion log")?;
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(log, "{line}");
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let mut running = Running {
            ready_line: None,
            child,
        };
        let Some(ready) = &spec.ready else {
            return Ok(running);
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(spec.ready_timeout_secs);
        // The first lines it printed, quoted when it fails before it is ready: usually the reason.
        let mut first_lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(ready.as_str()) => {
                    running.ready_line = Some(line);
                    // Keep draining its output into the log so the pipes never fill.
                    std::thread::spawn(move || for _ in rx {});
                    return Ok(running);
                }
                Ok(line) => {
                    if first_lines.len() < QUOTED_LINES && !line.trim().is_empty() {
                        first_lines.push(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => anyhow::bail!(
                    "companion `{name}` printed no line containing `{ready}` within {} s (its output: `{}`){}",
                    spec.ready_timeout_secs,
                    log_path.display(),
                    quoted(&first_lines)
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = running.child.wait().ok();
                    anyhow::bail!(
                        "companion `{name}` exited{} before it was ready (its output: `{}`){}",
                        status.map(|s| format!(" ({s})")).unwrap_or_default(),
                        log_path.display(),
                        quoted(&first_lines)
                    )
                }
            }
        }
    }
}

/// The non-blank lines of a companion's output that an error before it is ready quotes.
const QUOTED_LINES: usize = 5;

/// `lines` as the tail of an error message, one indented line each.
fn quoted(lines: &[String]) -> String {
    lines.iter().map(|line| format!("\n    {line}")).collect()
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &[&str], ready: Option<&str>, timeout: u64) -> Companion {
        Companion {
            command: command.iter().map(|s| s.to_string()).collect(),
            environments: vec![],
            ready: ready.map(str::to_string),
            ready_timeout_secs: timeout,
        }
    }

    #[test]
    fn ready_line_is_read_and_output_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let running = Running::start(
            "echoer",
            &spec(
                &[
                    "sh",
                    "-c",
                    "echo starting; echo 'listening on http://127.0.0.1:1'; sleep 30",
                ],
                Some("listening on "),
                30,
            ),
            dir.path(),
            &dir.path().join("logs"),
        )
        .unwrap();
        assert_eq!(
            running.ready_line.as_deref(),
            Some("listening on http://127.0.0.1:1")
        );
        let log = std::fs::read_to_string(dir.path().join("logs/echoer.log")).unwrap();
        assert!(log.contains("starting\n"), "{log}");
    }

    #[test]
    fn a_companion_that_exits_before_ready_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Running::start(
            "quitter",
            &spec(
                &[
                    "sh",
                    "-c",
                    "echo nope; echo; echo 'port in use' >&2; exit 3",
                ],
                Some("listening on "),
                30,
            ),
            dir.path(),
            &dir.path().join("logs"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("companion `quitter` exited"), "{err}");
        assert!(err.contains("quitter.log"), "{err}");
        // What it printed is quoted, blank lines left out, stderr included.
        assert!(err.contains("\n    nope"), "{err}");
        assert!(err.contains("\n    port in use"), "{err}");
        assert_eq!(err.lines().count(), 3, "{err}");
    }

    #[test]
    fn a_missing_program_is_an_error_naming_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = Running::start(
            "ghost",
            &spec(&["/nonexistent/program"], None, 1),
            dir.path(),
            &dir.path().join("logs"),
        )
        .err()
        .unwrap();
        assert!(format!("{err:#}").contains("start companion `ghost` (`/nonexistent/program`)"));
    }
}
