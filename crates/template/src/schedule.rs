//! EventBridge schedule expressions: `rate(value unit)` and
//! `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, with the grammar of AWS's
//! "Schedule expressions for rules" page.

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Checks one expression; the error says what is wrong in words a user can act on.
pub fn check(expr: &str) -> Result<(), String> {
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        return rate(inner);
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        return cron(inner);
    }
    Err(format!("`{expr}` is neither `rate(value unit)` nor `cron(minutes hours day-of-month month day-of-week year)`"))
}

fn rate(inner: &str) -> Result<(), String> {
    let parts: Vec<&str> = inner.split(' ').collect();
    let [value, unit] = parts[..] else {
        return Err(format!(
            "`rate({inner})` must be `rate(value unit)` with one space"
        ));
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.starts_with('0') {
        return Err(format!("rate value `{value}` must be a positive integer"));
    }
    let singular = value == "1";
    let base = unit.strip_suffix('s').unwrap_or(unit);
    if !["minute", "hour", "day"].contains(&base) {
        return Err(format!(
            "rate unit `{unit}` must be minute(s), hour(s) or day(s)"
        ));
    }
    let plural = unit.ends_with('s');
    if singular && plural {
        return Err(format!(
            "`rate({inner})`: a value of 1 takes the singular unit `{base}`"
        ));
    }
    if !singular && !plural {
        return Err(format!(
            "`rate({inner})`: a value above 1 takes the plural unit `{base}s`"
        ));
    }
    Ok(())
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Names count from this number (SUN is 1, JAN is 1).
    special: &'static str,
}

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
        special: "",
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
        special: "",
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        special: "?LW",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        special: "",
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: DAYS,
        special: "?L#",
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
        special: "",
    },
];

fn cron(inner: &str) -> Result<(), String> {
    let parts: Vec<&str> = inner.split(' ').collect();
    if parts.len() != 6 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`cron({inner})` needs six fields separated by single spaces (minutes hours day-of-month month day-of-week year), found {}",
            parts.iter().filter(|p| !p.is_empty()).count()
        ));
    }
    for (field, text) in FIELDS.iter().zip(&parts) {
        check_field(field, text).map_err(|e| format!("cron {} field `{text}`: {e}", field.name))?;
    }
    match (parts[2] == "?", parts[4] == "?") {
        (true, true) => Err(
            "cron day-of-month and day-of-week are both `?`: one of them must be set".to_string(),
        ),
        (false, false) => Err(
            "cron day-of-month and day-of-week cannot both be set: one of them must be `?`"
                .to_string(),
        ),
        _ => Ok(()),
    }
}

fn value(field: &Field, text: &str) -> Result<u32, String> {
    let n = match field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        Some(i) => i as u32 + 1,
        None => text
            .parse::<u32>()
            .map_err(|_| format!("`{text}` is not a value"))?,
    };
    if n < field.min || n > field.max {
        return Err(format!("{n} is outside {}-{}", field.min, field.max));
    }
    Ok(n)
}

fn check_field(field: &Field, text: &str) -> Result<(), String> {
    if text == "?" {
        return if field.special.contains('?') {
            Ok(())
        } else {
            Err("`?` is only allowed in day-of-month and day-of-week".to_string())
        };
    }
    for item in text.split(',') {
        if item.is_empty() {
            return Err("empty list item".to_string());
        }
        if item == "?" {
            return Err("`?` must stand alone".to_string());
        }
        // Special forms of the day fields.
        if field.special.contains('L') && field.name == "day-of-month" {
            if item == "L" || item == "LW" {
                continue;
            }
            if let Some(d) = item.strip_suffix('W') {
                value(field, d)?;
                continue;
            }
            if let Some(off) = item.strip_prefix("L-") {
                off.parse::<u32>()
                    .ok()
                    .filter(|o| (1..=30).contains(o))
                    .ok_or(format!("`{item}` needs an offset of 1-30"))?;
                continue;
            }
        }
        if field.name == "day-of-week" {
            if item == "L" {
                continue;
            }
            if let Some(d) = item.strip_suffix('L') {
                value(field, d)?;
                continue;
            }
            if let Some((d, nth)) = item.split_once('#') {
                value(field, d)?;
                nth.parse::<u32>()
                    .ok()
                    .filter(|k| (1..=5).contains(k))
                    .ok_or(format!("`#{nth}` must be #1 to #5"))?;
                continue;
            }
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(step) = step {
            let s = step
                .parse::<u32>()
                .map_err(|_| format!("step `{step}` is not a number"))?;
            if s == 0 {
                return Err("a step must be at least 1".to_string());
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                value(field, a)?;
                value(field, b)?;
            }
            None => {
                value(field, range)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn grammar() {
        let cases = [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 hours)",
            "rate(5 hour)",
            "rate(0 minutes)",
            "rate(1 week)",
            "cron(0 12 * * ? *)",
            "cron(0/15 * ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(0 18 ? * 6L 2025-2030)",
            "cron(0 10 ? * 2#3 *)",
            "cron(0 12 * * * *)",
            "cron(0 12 ? * ? *)",
            "cron(60 12 * * ? *)",
            "cron(0 12 L * ? *)",
            "cron(0 12 15W * ? *)",
            "cron(0 12 * JAN,FEB ? *)",
            "cron(0 12 * * ?)",
            "every minute",
        ];
        let got: String = cases
            .iter()
            .map(|c| format!("{c} => {:?}\n", check(c)))
            .collect();
        expect_test::expect![[r#"
            rate(1 minute) => Ok(())
            rate(5 minutes) => Ok(())
            rate(1 hours) => Err("`rate(1 hours)`: a value of 1 takes the singular unit `hour`")
            rate(5 hour) => Err("`rate(5 hour)`: a value above 1 takes the plural unit `hours`")
            rate(0 minutes) => Err("rate value `0` must be a positive integer")
            rate(1 week) => Err("rate unit `week` must be minute(s), hour(s) or day(s)")
            cron(0 12 * * ? *) => Ok(())
            cron(0/15 * ? * MON-FRI *) => Ok(())
            cron(0 8 1 * ? *) => Ok(())
            cron(0 18 ? * 6L 2025-2030) => Ok(())
            cron(0 10 ? * 2#3 *) => Ok(())
            cron(0 12 * * * *) => Err("cron day-of-month and day-of-week cannot both be set: one of them must be `?`")
            cron(0 12 ? * ? *) => Err("cron day-of-month and day-of-week are both `?`: one of them must be set")
            cron(60 12 * * ? *) => Err("cron minutes field `60`: 60 is outside 0-59")
            cron(0 12 L * ? *) => Ok(())
            cron(0 12 15W * ? *) => Ok(())
            cron(0 12 * JAN,FEB ? *) => Ok(())
            cron(0 12 * * ?) => Err("`cron(0 12 * * ?)` needs six fields separated by single spaces (minutes hours day-of-month month day-of-week year), found 5")
            every minute => Err("`every minute` is neither `rate(value unit)` nor `cron(minutes hours day-of-month month day-of-week year)`")
        "#]].assert_eq(&got);
    }
}
