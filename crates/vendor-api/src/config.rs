//! What the vendor serves and how it misbehaves: the one configuration both the dataset and the
//! server read.
//!
//! Counts are bounded so that every identifier fits the fixed strides of `dataset` (ids stay stable
//! when a count changes) and stays below 2^53, the largest integer a JSON reader in any language
//! keeps exactly.

use std::time::{Duration, SystemTime};

use crate::clock::SharedClock;

/// The page size when a request gives no `limit=`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit=` accepted.
pub const MAX_LIMIT: usize = 1_000;

/// The vendor's data and fault settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Every generated value and every fault decision is drawn from this seed.
    pub seed: u64,
    /// Number of branches; the original's 13 names come first.
    pub branches: u32,
    /// Salespersons per branch (other employees come on top).
    pub salespersons: u32,
    /// Sales per salesperson, all inside the window.
    pub sales: u32,
    /// Length of the sales window: sales fall in `[now - window, now)`.
    pub window: Duration,
    /// The end of the sales window. `None` takes the start of the clock's hour (UTC) when the
    /// dataset is built.
    pub now: Option<SystemTime>,
    /// Data revision: revision `k` alters the records whose [`crate::revision_class`] is `k`
    /// modulo [`REVISION_MODULUS`](crate::REVISION_MODULUS) (see [`crate::revision_touches`]).
    pub revision: u32,
    /// Share of requests answered with a 500.
    pub fail_rate: f64,
    /// Share of requests answered only after [`Config::slow`].
    pub slow_rate: f64,
    /// How long a slow answer takes.
    pub slow: Duration,
    /// Share of records served malformed (no id, or a bad timestamp).
    pub malformed_rate: f64,
    /// Requests per second served before answering 429; `None` serves without limit.
    pub rate_limit: Option<u32>,
    /// Branches whose employees and sales always answer 500 (for poison-message tests).
    pub fail_branches: Vec<u64>,
    /// The clock for the window's default end and the rate limiter.
    pub clock: SharedClock,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 1,
            branches: 13,
            salespersons: 10,
            sales: 10,
            window: Duration::from_secs(24 * 60 * 60),
            now: None,
            revision: 0,
            fail_rate: 0.0,
            slow_rate: 0.0,
            slow: Duration::from_millis(5_000),
            malformed_rate: 0.0,
            rate_limit: None,
            fail_branches: Vec::new(),
            clock: SharedClock::default(),
        }
    }
}

/// A configuration value out of its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A count or duration outside its bounds.
    #[error("`{name}` is {value}, but must be {allowed}")]
    OutOfRange {
        /// The setting, spelled as its command-line flag.
        name: &'static str,
        /// The value given.
        value: String,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// The share of failing and slow requests adds up to more than every request.
    #[error("`--fail-rate` {fail} plus `--slow-rate` {slow} exceeds 1")]
    RatesExceedOne {
        /// The fail rate given.
        fail: f64,
        /// The slow rate given.
        slow: f64,
    },
}

impl Config {
    /// Largest `--branches`: branch ids stay below 10,000.
    pub const MAX_BRANCHES: u32 = 9_999;
    /// Largest `--salespersons`: a branch's employees, others included, stay below the stride.
    pub const MAX_SALESPERSONS: u32 = 99_990;
    /// Largest `--sales`: a salesperson's sales stay below the stride.
    pub const MAX_SALES: u32 = 99_999;

    /// Checks every bound; the dataset and the server accept only a checked configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn range(
            name: &'static str,
            value: u32,
            max: u32,
            allowed: &'static str,
        ) -> Result<(), ConfigError> {
            if value > max {
                return Err(ConfigError::OutOfRange {
                    name,
                    value: value.to_string(),
                    allowed,
                });
            }
            Ok(())
        }
        fn rate(name: &'static str, value: f64) -> Result<(), ConfigError> {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::OutOfRange {
                    name,
                    value: value.to_string(),
                    allowed: "between 0 and 1",
                });
            }
            Ok(())
        }
        range(
            "--branches",
            self.branches,
            Self::MAX_BRANCHES,
            "at most 9999",
        )?;
        range(
            "--salespersons",
            self.salespersons,
            Self::MAX_SALESPERSONS,
            "at most 99990",
        )?;
        range("--sales", self.sales, Self::MAX_SALES, "at most 99999")?;
        if self.window < Duration::from_secs(1) {
            return Err(ConfigError::OutOfRange {
                name: "--window-secs",
                value: self.window.as_secs().to_string(),
                allowed: "at least 1",
            });
        }
        rate("--fail-rate", self.fail_rate)?;
        rate("--slow-rate", self.slow_rate)?;
        rate("--malformed-rate", self.malformed_rate)?;
        if self.fail_rate + self.slow_rate > 1.0 {
            return Err(ConfigError::RatesExceedOne {
                fail: self.fail_rate,
                slow: self.slow_rate,
            });
        }
        if self.rate_limit == Some(0) {
            return Err(ConfigError::OutOfRange {
                name: "--rate-limit",
                value: "0".into(),
                allowed: "at least 1",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(config: Config, expected: expect_test::Expect) {
        let actual = match config.validate() {
            Ok(()) => "ok".to_string(),
            Err(error) => error.to_string(),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn validation_names_the_flag_and_the_value() {
        check(Config::default(), expect_test::expect!["ok"]);
        check(
            Config {
                branches: 10_000,
                ..Config::default()
            },
            expect_test::expect!["`--branches` is 10000, but must be at most 9999"],
        );
        check(
            Config {
                malformed_rate: 1.5,
                ..Config::default()
            },
            expect_test::expect!["`--malformed-rate` is 1.5, but must be between 0 and 1"],
        );
        check(
            Config {
                fail_rate: 0.6,
                slow_rate: 0.5,
                ..Config::default()
            },
            expect_test::expect!["`--fail-rate` 0.6 plus `--slow-rate` 0.5 exceeds 1"],
        );
        check(
            Config {
                rate_limit: Some(0),
                ..Config::default()
            },
            expect_test::expect!["`--rate-limit` is 0, but must be at least 1"],
        );
    }
}
