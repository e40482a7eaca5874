//! Time as the collectors see it: an injected wall clock, an injected sleeper, and the few
//! timestamp spellings they read and write.
//!
//! Nothing in the crate reads the system time or sleeps directly. Production uses
//! [`SystemClock`] and [`TokioSleeper`]; tests pin the clock and replace the sleeper with one that
//! records the delays (or moves a virtual clock), so retry rules are tested without waiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock standing still at one instant, for tests and benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// A boxed future of a sleep.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waits between retries.
pub trait Sleeper: Send + Sync + 'static {
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// Sleeps on the Tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Returns at once and remembers every delay asked for, in order.
#[derive(Debug, Clone, Default)]
pub struct RecordingSleeper {
    // A std mutex: held only to push or copy, never across an await.
    slept: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    /// The delays asked for so far.
    pub fn slept(&self) -> Vec<Duration> {
        self.slept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.slept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// The time as a UTC `DateTime`; times before 1970 or beyond chrono's range clamp to the epoch.
pub fn to_utc(at: SystemTime) -> DateTime<Utc> {
    at.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| DateTime::from_timestamp(since.as_secs() as i64, since.subsec_nanos()))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// `last_modified`: RFC 3339 in UTC with milliseconds (`2023-11-14T22:13:20.000Z`).
pub fn last_modified(at: SystemTime) -> String {
    to_utc(at).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A window end: RFC 3339 in UTC, truncated to whole seconds (`2023-11-14T22:13:20Z`).
pub fn window_end(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads a window end written by [`window_end`] (any RFC 3339 time is accepted); Unix seconds.
pub fn parse_window_end(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.timestamp())
}

/// Reads the vendor's `YYYY-MM-DD HH:MM:SS` (UTC); Unix seconds.
///
/// Read field by field rather than through chrono's format parser, which interprets the format
/// string on every call: a sale collector reads one of these per sale, and the parser took about
/// 4% of its time in W1 (`perf`). chrono still checks the calendar (month lengths, leap years).
pub fn parse_vendor_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = vendor_date(&b[..10])?;
    let time = NaiveTime::from_hms_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    )?;
    Some(date.and_time(time).and_utc().timestamp())
}

/// Whether `text` is a valid `YYYY-MM-DD` date.
pub fn is_vendor_date(text: &str) -> bool {
    vendor_date(text.as_bytes()).is_some()
}

/// A `YYYY-MM-DD` date that exists in the calendar.
fn vendor_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// The number an ASCII run of decimal digits spells; `None` for anything else.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// Reads an HTTP `Retry-After` value: delay seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let now = to_utc(now);
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_strictly() {
        assert_eq!(
            parse_vendor_timestamp("2023-11-14 22:13:20"),
            Some(1_700_000_000)
        );
        for bad in [
            "2024-13-45 25:61:61",
            "not a timestamp",
            "",
            "1700000000",
            "yesterday 14:00",
            "2023-11-14T22:13:20",
            "2023-1-14 22:13:20 ",
            "2023-11-14 22:13:2x",
            "2023-02-29 00:00:00",
            "+023-11-14 22:13:20",
            "2023-11-14 24:00:00",
            "2023-11-14 22:60:00",
        ] {
            assert_eq!(parse_vendor_timestamp(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_vendor_timestamp("2024-02-29 00:00:00"),
            Some(1_709_164_800)
        );
        assert!(is_vendor_date("2019-02-28"));
        assert!(is_vendor_date("2020-02-29"));
        for bad in [
            "2019-02-30",
            "not a date",
            "",
            "03/14/2015",
            "2019-2-28",
            "2019-02-2a",
            "2019 02 28",
        ] {
            assert!(!is_vendor_date(bad), "{bad:?}");
        }
    }

    #[test]
    fn spellings_of_written_times() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(last_modified(at), "2023-11-14T22:13:20.123Z");
        assert_eq!(window_end(to_utc(at)), "2023-11-14T22:13:20Z");
        assert_eq!(
            parse_window_end("2023-11-14T22:13:20Z"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:25 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
