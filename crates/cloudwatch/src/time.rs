//! Timestamps as AWS writes them: ISO 8601 in UTC with milliseconds.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

/// `2026-11-26T03:05:00.000Z` for epoch milliseconds `ms` (SNS, CloudWatch query results).
pub fn iso(ms: i64) -> String {
    let t = datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `2026-11-26T03:05:00.000+0000`, the form of CloudWatch alarm notifications' `StateChangeTime`.
pub fn iso_offset(ms: i64) -> String {
    let mut text = iso(ms);
    text.pop();
    text.push_str("+0000");
    text
}

/// `26/11/26 03:05:00`, the form of datapoint times in alarm state reasons.
pub fn reason_time(ms: i64) -> String {
    let t = datetime(ms);
    format!(
        "{:02}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year().rem_euclid(100),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Epoch milliseconds of an ISO 8601 timestamp (`2026-11-26T03:05:00Z`, with or without
/// fractional seconds or an offset) or of epoch seconds written as a number.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds
            .is_finite()
            .then(|| (seconds * 1000.0).round() as i64);
    }
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .or_else(|| OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339).ok())?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn datetime(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_and_parses() {
        assert_eq!(super::iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(super::iso_offset(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(super::reason_time(1_700_000_000_000), "14/11/23 22:13:20");
        assert_eq!(
            super::parse("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(super::parse("2023-11-14T22:13:20"), Some(1_700_000_000_000));
        assert_eq!(super::parse("1700000000"), Some(1_700_000_000_000));
        assert_eq!(super::parse("yesterday"), None);
    }
}
