//! Schedules: when an EventBridge `rate(...)` or `cron(...)` expression fires next, and the task
//! that invokes a rule's function asynchronously with the scheduled event each time (on the
//! injected clock). The grammar is checked by `template::schedule::check`; this module computes
//! firing times.
//!
//! - `rate(N unit)` fires every N units, the first time one period after the rule starts.
//! - `cron(Minutes Hours Day-of-month Month Day-of-week Year)` (UTC) fires at each matching
//!   minute. Day-of-week counts 1 (SUN) to 7 (SAT). Supported beyond `, - * /` and names:
//!   `L` and `NW` in day-of-month, `NL` (last weekday N of the month) and `N#k` in day-of-week.

use crate::events::{civil_from_days, days_from_civil};
use crate::spec::ScheduleSpec;
use crate::{events, Lambda, LambdaError};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// The first firing time strictly after `after_ms` (epoch ms), or an error for an expression
/// that is not valid or never fires (within the next ten years).
pub fn next_fire(expression: &str, after_ms: i64) -> Result<i64, String> {
    template::schedule::check(expression)?;
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let (value, unit) = inner.split_once(' ').ok_or("bad rate")?;
        let value: i64 = value.parse().map_err(|_| "bad rate value")?;
        let unit_ms = match unit.trim_end_matches('s') {
            "minute" => MINUTE_MS,
            "hour" => 60 * MINUTE_MS,
            _ => DAY_MS,
        };
        return Ok(after_ms + value * unit_ms);
    }
    let inner = expression
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or("bad cron")?;
    let cron = Cron::parse(inner)?;
    cron.next_after(after_ms)
        .ok_or_else(|| format!("`{expression}` does not fire in the next ten years"))
}

struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    dom: DayOfMonth,
    months: Vec<bool>,
    dow: DayOfWeek,
    years: Option<Vec<i64>>,
}

enum DayOfMonth {
    Any,
    Set(Vec<bool>),
    Last,
    NearestWeekday(u32),
}

enum DayOfWeek {
    Any,
    /// Index 0 = SUN.
    Set(Vec<bool>),
    /// Last given weekday of the month (0 = SUN).
    Last(u32),
    /// The k-th given weekday of the month.
    Nth(u32, u32),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A `, - * /` field over `[min, max]` with optional names (index 0 = `min`).
fn field(text: &str, min: i64, max: i64, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut set = vec![false; (max + 1) as usize];
    let value = |s: &str| -> Result<i64, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(min + i as i64);
        }
        s.parse().map_err(|_| format!("`{s}` is not a value"))
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<i64>().map_err(|_| format!("bad step `{s}`"))?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        if step < 1 || lo < min || hi > max {
            return Err(format!("`{part}` is out of range"));
        }
        let mut v = lo;
        while v <= hi {
            set[v as usize] = true;
            v += step;
        }
    }
    Ok(set)
}

impl Cron {
    fn parse(inner: &str) -> Result<Cron, String> {
        let f: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = f[..] else {
            return Err("cron needs six fields".into());
        };
        let dom = match dom {
            "?" | "*" => DayOfMonth::Any,
            "L" => DayOfMonth::Last,
            d if d.ends_with('W') => DayOfMonth::NearestWeekday(
                d[..d.len() - 1]
                    .parse()
                    .map_err(|_| format!("bad day `{d}`"))?,
            ),
            d => DayOfMonth::Set(field(d, 1, 31, &[])?),
        };
        let weekday = |s: &str| -> Result<u32, String> {
            if let Some(i) = DAYS.iter().position(|n| n.eq_ignore_ascii_case(s)) {
                return Ok(i as u32);
            }
            s.parse::<u32>()
                .ok()
                .filter(|d| (1..=7).contains(d))
                .map(|d| d - 1)
                .ok_or_else(|| format!("bad weekday `{s}`"))
        };
        let dow = match dow {
            "?" | "*" => DayOfWeek::Any,
            d if d.ends_with('L') && d.len() > 1 => DayOfWeek::Last(weekday(&d[..d.len() - 1])?),
            d if d.contains('#') => {
                let (w, k) = d.split_once('#').ok_or("bad #")?;
                DayOfWeek::Nth(weekday(w)?, k.parse().map_err(|_| format!("bad `{d}`"))?)
            }
            d => {
                let set = field(d, 1, 7, &DAYS)?;
                DayOfWeek::Set(set[1..].to_vec())
            }
        };
        let years = match year {
            "*" | "?" => None,
            y => {
                let set = field(y, 1970, 2199, &[])?;
                Some(
                    (1970..=2199)
                        .filter(|v| set[*v as usize])
                        .collect::<Vec<i64>>(),
                )
            }
        };
        Ok(Cron {
            minutes: field(minutes, 0, 59, &[])?,
            hours: field(hours, 0, 23, &[])?,
            dom,
            months: field(month, 1, 12, &MONTHS)?,
            dow,
            years,
        })
    }

    fn day_matches(&self, days: i64) -> bool {
        let (y, m, d) = civil_from_days(days);
        if let Some(years) = &self.years {
            if !years.contains(&y) {
                return false;
            }
        }
        if !self.months[m as usize] {
            return false;
        }
        let month_len = {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
        };
        let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday.
        let dom_ok = match &self.dom {
            DayOfMonth::Any => true,
            DayOfMonth::Set(set) => set[d as usize],
            DayOfMonth::Last => d == month_len,
            DayOfMonth::NearestWeekday(n) => {
                let n = (*n).min(month_len);
                let first = days - i64::from(d) + i64::from(n);
                let wd = (first + 4).rem_euclid(7);
                let target = match wd {
                    6 if n == 1 => first + 2,
                    6 => first - 1,
                    0 if n == month_len => first - 2,
                    0 => first + 1,
                    _ => first,
                };
                target == days
            }
        };
        let dow_ok = match &self.dow {
            DayOfWeek::Any => true,
            DayOfWeek::Set(set) => set[weekday as usize],
            DayOfWeek::Last(w) => weekday == *w && d + 7 > month_len,
            DayOfWeek::Nth(w, k) => weekday == *w && (d - 1) / 7 + 1 == *k,
        };
        dom_ok && dow_ok
    }

    fn next_after(&self, after_ms: i64) -> Option<i64> {
        let start = (after_ms.div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
        let first_day = start.div_euclid(DAY_MS);
        for days in first_day..first_day + 3660 {
            if !self.day_matches(days) {
                continue;
            }
            let day_start = days * DAY_MS;
            for h in 0..24 {
                if !self.hours[h] {
                    continue;
                }
                for m in 0..60 {
                    let t = day_start + (h as i64 * 60 + m as i64) * MINUTE_MS;
                    if self.minutes[m] && t >= start {
                        return Some(t);
                    }
                }
            }
        }
        None
    }
}

/// Fires one schedule on the clock until the service stops.
pub(crate) async fn run(lambda: Lambda, spec: ScheduleSpec) {
    let mut after = lambda.now();
    loop {
        let at = match next_fire(&spec.expression, after) {
            Ok(at) => at,
            Err(e) => {
                tracing::warn!("schedule `{}` stops: {e}", spec.rule);
                return;
            }
        };
        lambda.wait_until(at).await;
        if let Err(e) = fire(&lambda, &spec, at).await {
            tracing::warn!(
                "schedule `{}` could not invoke `{}`: {e}",
                spec.rule,
                spec.function
            );
        }
        after = at;
    }
}

async fn fire(lambda: &Lambda, spec: &ScheduleSpec, at_ms: i64) -> Result<String, LambdaError> {
    let payload = match &spec.input {
        Some(input) => input.clone().into_bytes(),
        None => events::scheduled(
            &lambda.inner.config.account_id,
            &lambda.inner.config.region,
            &spec.rule_arn,
            at_ms,
        )
        .to_string()
        .into_bytes(),
    };
    lambda
        .invoke_async_nonblocking(&spec.function, payload)
        .await
}

impl Lambda {
    /// Fires every schedule of rule `rule` now (`up --once`), whether enabled or not; returns the
    /// request ids of the queued invocations.
    pub async fn fire_now(&self, rule: &str) -> Result<Vec<String>, LambdaError> {
        let specs: Vec<ScheduleSpec> = crate::lock(&self.inner.schedules)
            .iter()
            .filter(|s| s.rule == rule)
            .cloned()
            .collect();
        if specs.is_empty() {
            return Err(LambdaError::InvalidParameter(format!(
                "no schedule named `{rule}`"
            )));
        }
        let mut ids = Vec::new();
        for spec in specs {
            ids.push(fire(self, &spec, self.now()).await?);
        }
        Ok(ids)
    }

    /// The rules of every schedule started, in start order (`up --once` fires each).
    pub fn schedule_rules(&self) -> Vec<String> {
        let mut rules: Vec<String> = Vec::new();
        for s in crate::lock(&self.inner.schedules).iter() {
            if !rules.contains(&s.rule) {
                rules.push(s.rule.clone());
            }
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::next_fire;
    use crate::events::iso_seconds;

    /// The next three firing times after `from` (an ISO time).
    fn check(expression: &str, from_ms: i64, expected: &[&str]) {
        let mut at = from_ms;
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            at = next_fire(expression, at).unwrap();
            got.push(iso_seconds(at));
        }
        assert_eq!(got, expected, "{expression}");
    }

    // 2026-01-01T00:00:00Z, a Thursday.
    const START: i64 = 1_767_225_600_000;

    #[test]
    fn rates_fire_one_period_apart() {
        check(
            "rate(5 minutes)",
            START,
            &[
                "2026-01-01T00:05:00Z",
                "2026-01-01T00:10:00Z",
                "2026-01-01T00:15:00Z",
            ],
        );
        check(
            "rate(1 day)",
            START,
            &["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"],
        );
    }

    #[test]
    fn cron_fields() {
        check(
            "cron(0/15 * * * ? *)",
            START,
            &[
                "2026-01-01T00:15:00Z",
                "2026-01-01T00:30:00Z",
                "2026-01-01T00:45:00Z",
            ],
        );
        check(
            "cron(0 10 ? * MON-FRI *)",
            START,
            &[
                "2026-01-01T10:00:00Z",
                "2026-01-02T10:00:00Z",
                "2026-01-05T10:00:00Z",
            ],
        );
        check(
            "cron(30 2 L * ? *)",
            START,
            &["2026-01-31T02:30:00Z", "2026-02-28T02:30:00Z"],
        );
        check(
            "cron(0 8 ? * 6#2 *)",
            START,
            &["2026-01-09T08:00:00Z", "2026-02-13T08:00:00Z"],
        );
        check("cron(0 8 ? * 2L *)", START, &["2026-01-26T08:00:00Z"]);
        // The 3rd of January 2026 is a Saturday: the nearest weekday is Friday the 2nd.
        check(
            "cron(0 9 3W * ? *)",
            START,
            &["2026-01-02T09:00:00Z", "2026-02-03T09:00:00Z"],
        );
        check("cron(0 0 1 JAN ? 2027)", START, &["2027-01-01T00:00:00Z"]);
    }

    #[test]
    fn invalid_expressions_are_refused() {
        assert!(next_fire("rate(1 minutes)", START).is_err());
        assert!(next_fire("cron(0 0 1 1 1 *)", START).is_err());
        assert!(next_fire("cron(0 0 1 JAN ? 1999)", START).is_err());
    }
}
