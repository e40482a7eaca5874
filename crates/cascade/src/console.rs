//! Standard error, shared by the live view of `up` and the engines' log lines.
//!
//! The engines report what goes wrong outside any request (a mapping that cannot read its queue,
//! a schedule that stops, an ignored CreateTable member) through `tracing`; [`init_logging`]
//! prints those lines at `warn` and above, or as `CASCADE_LOG` says (`info`, `lambda=debug,warn`).
//! On a terminal the live view is redrawn in place, so anything else printed while it is on screen
//! (a log line, a notification, a summary) first erases the view: the line stays on screen and the
//! next draw starts below it.

use std::io::Write;
use std::str::FromStr;
use std::sync::Mutex;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The environment variable that sets which engine log lines are printed.
pub const LOG_ENV: &str = "CASCADE_LOG";

/// How many lines the live view has on screen below the cursor's line (0 when nothing is drawn
/// in place).
static DRAWN: Mutex<usize> = Mutex::new(0);

/// Installs the subscriber that prints the engines' log lines on standard error.
pub fn init_logging() {
    let filter = match std::env::var(LOG_ENV) {
        Ok(text) => Targets::from_str(&text).unwrap_or_else(|e| {
            eprintln!("warning: {LOG_ENV}={text:?} is not a log filter ({e}); using `warn`");
            Targets::new().with_default(LevelFilter::WARN)
        }),
        Err(_) => Targets::new().with_default(LevelFilter::WARN),
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(|| LogLine)
        .with_ansi(false)
        .without_time()
        .with_target(false);
    // A second subscriber (a test harness's) may already be installed; this one then stays out.
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(filter)
        .try_init();
}

/// Draws `text` (whole lines) in place of the previous view on a terminal, or below it otherwise.
pub fn draw_view(text: &str, tty: bool) {
    let mut drawn = DRAWN.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = std::io::stderr().lock();
    erase(&mut err, *drawn);
    let _ = err.write_all(text.as_bytes());
    *drawn = if tty { text.lines().count() } else { 0 };
}

/// Erases the live view, so that what is printed next (a summary on standard output) is not drawn
/// over by the next view, which starts below it.
pub fn clear_view() {
    let mut drawn = DRAWN.lock().unwrap_or_else(|e| e.into_inner());
    erase(&mut std::io::stderr().lock(), *drawn);
    *drawn = 0;
}

/// Prints one line on standard error in place of the live view, which the next draw puts below it.
pub fn line(text: &str) {
    let _ = LogLine.write_all(format!("{text}\n").as_bytes());
}

/// Moves up over `lines` lines and clears to the end of the screen.
fn erase(err: &mut impl Write, lines: usize) {
    if lines > 0 {
        let _ = write!(err, "\x1b[{lines}A\x1b[J");
    }
}

/// One log line on its way to standard error.
struct LogLine;

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut drawn = DRAWN.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        erase(&mut err, *drawn);
        *drawn = 0;
        err.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
