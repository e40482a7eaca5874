//! What a collector reads from its environment, checked once at start.
//!
//! Each stage needs a different subset: the branch and salesperson collectors write a table and
//! feed the next queue, the sale collector only writes its table. [`Config::from_lookup`] takes
//! the lookup as a function so that tests build a configuration without touching the process
//! environment; [`Config::from_env`] is the same over `std::env::var`.

use std::time::Duration;

/// The stage a collector runs; it decides which variables are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Scheduled; writes the branch table and feeds the employee queue.
    Branches,
    /// Reads the employee queue; writes the salesperson table and feeds the sale queue.
    Salespersons,
    /// Reads the sale queue; writes the sale table.
    Sales,
}

impl Stage {
    /// The stage's name in logs and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Branches => "branches",
            Stage::Salespersons => "salespersons",
            Stage::Sales => "sales",
        }
    }
}

/// The table the stage writes (`branch-dev`, ...).
pub const TABLE_NAME: &str = "TABLE_NAME";
/// The queue the stage feeds (branch and salesperson collectors only).
pub const TARGET_QUEUE_URL: &str = "TARGET_QUEUE_URL";
/// Base URL of the vendor API (`http://127.0.0.1:4580`).
pub const VENDOR_API_URL: &str = "VENDOR_API_URL";
/// Environment name; the `Environment` dimension of the rejected-records metric.
pub const APP_ENV: &str = "APP_ENV";
/// Length of the sales window in hours (default 24).
pub const WINDOW_HOURS: &str = "WINDOW_HOURS";
/// Timeout of one vendor request in milliseconds (default 3000).
pub const VENDOR_TIMEOUT_MS: &str = "VENDOR_TIMEOUT_MS";
/// Records asked for per vendor page (default 1000, the vendor's largest).
pub const VENDOR_PAGE_LIMIT: &str = "VENDOR_PAGE_LIMIT";
/// Attempts per vendor request before giving up (default 8).
pub const VENDOR_MAX_ATTEMPTS: &str = "VENDOR_MAX_ATTEMPTS";
/// A fixed run id for scheduled runs whose event names none (optional).
pub const RUN_ID: &str = "RUN_ID";

/// A collector's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub stage: Stage,
    pub table_name: String,
    /// `None` for the sale collector, which feeds no queue.
    pub target_queue_url: Option<String>,
    /// Without a trailing slash.
    pub vendor_url: String,
    pub environment: String,
    /// Sales are kept when `window_end - window <= t < window_end`.
    pub window: Duration,
    pub vendor_timeout: Duration,
    pub page_limit: u32,
    pub max_attempts: u32,
    pub run_id: Option<String>,
}

/// A variable missing or out of its range; the message names the variable and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable `{0}` is required")]
    Missing(&'static str),
    #[error("the environment variable `{name}` is `{value}`, but must be {allowed}")]
    Invalid {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
}

impl Config {
    /// Reads the stage's settings from the process environment.
    pub fn from_env(stage: Stage) -> Result<Config, ConfigError> {
        Config::from_lookup(stage, |name| std::env::var(name).ok())
    }

    /// Reads the stage's settings through `lookup`; empty values count as missing.
    pub fn from_lookup(
        stage: Stage,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str, default: u64, min: u64, max: u64, allowed| match get(name)
        {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or(ConfigError::Invalid {
                    name,
                    value,
                    allowed,
                }),
        };
        let vendor_url = required(VENDOR_API_URL)?;
        if !(vendor_url.starts_with("http://") || vendor_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: VENDOR_API_URL,
                value: vendor_url,
                allowed: "an http:// or https:// URL",
            });
        }
        let target_queue_url = match stage {
            Stage::Branches | Stage::Salespersons => Some(required(TARGET_QUEUE_URL)?),
            Stage::Sales => None,
        };
        Ok(Config {
            stage,
            table_name: required(TABLE_NAME)?,
            target_queue_url,
            vendor_url: vendor_url.trim_end_matches('/').to_owned(),
            environment: get(APP_ENV).unwrap_or_else(|| "dev".to_owned()),
            window: Duration::from_secs(
                3_600 * number(WINDOW_HOURS, 24, 1, 24 * 366, "whole hours from 1 to 8784")?,
            ),
            vendor_timeout: Duration::from_millis(number(
                VENDOR_TIMEOUT_MS,
                3_000,
                1,
                900_000,
                "milliseconds from 1 to 900000",
            )?),
            page_limit: number(VENDOR_PAGE_LIMIT, 1_000, 1, 1_000, "from 1 to 1000")? as u32,
            max_attempts: number(VENDOR_MAX_ATTEMPTS, 8, 1, 100, "from 1 to 100")? as u32,
            run_id: get(RUN_ID),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(stage: Stage, vars: &[(&str, &str)], expected: expect_test::Expect) {
        let found = Config::from_lookup(stage, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        });
        let actual = match found {
            Ok(config) => format!("{config:?}"),
            Err(error) => error.to_string(),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn each_stage_requires_its_variables_and_names_bad_values() {
        let base = [
            (VENDOR_API_URL, "http://127.0.0.1:4580/"),
            (TABLE_NAME, "sale-dev"),
        ];
        check(
            Stage::Sales,
            &base,
            expect_test::expect![[
                r#"Config { stage: Sales, table_name: "sale-dev", target_queue_url: None, vendor_url: "http://127.0.0.1:4580", environment: "dev", window: 86400s, vendor_timeout: 3s, page_limit: 1000, max_attempts: 8, run_id: None }"#
            ]],
        );
        check(
            Stage::Salespersons,
            &base,
            expect_test::expect!["the environment variable `TARGET_QUEUE_URL` is required"],
        );
        check(
            Stage::Sales,
            &[(VENDOR_API_URL, "127.0.0.1:4580"), (TABLE_NAME, "t")],
            expect_test::expect!["the environment variable `VENDOR_API_URL` is `127.0.0.1:4580`, but must be an http:// or https:// URL"],
        );
        check(
            Stage::Sales,
            &[base[0], base[1], (WINDOW_HOURS, "0")],
            expect_test::expect!["the environment variable `WINDOW_HOURS` is `0`, but must be whole hours from 1 to 8784"],
        );
        check(
            Stage::Branches,
            &[
                base[0],
                (TABLE_NAME, "branch-prod"),
                (TARGET_QUEUE_URL, "https://sqs/q"),
                (APP_ENV, "prod"),
                (VENDOR_PAGE_LIMIT, "50"),
                (RUN_ID, "nightly"),
            ],
            expect_test::expect![[
                r#"Config { stage: Branches, table_name: "branch-prod", target_queue_url: Some("https://sqs/q"), vendor_url: "http://127.0.0.1:4580", environment: "prod", window: 86400s, vendor_timeout: 3s, page_limit: 50, max_attempts: 8, run_id: Some("nightly") }"#
            ]],
        );
    }
}
