//! Fault injection: which requests fail or answer slowly, which records are served malformed, and
//! the rate limiter.
//!
//! Every decision is a pure function of the seed and of what it is about, so that a test computes
//! the expected faults with the same functions the server uses:
//! - a request fault depends on the request's canonical key (its endpoint and raw query) and on its
//!   attempt number, counted per key from 0: a retry of a failed request draws again, so a client
//!   that retries gets through, and concurrency does not change which attempt fails;
//! - a record's malformation depends on its id only, so it is the same on every page and every
//!   attempt;
//! - a failing branch fails every request about it (its employees and its salespersons' sales).

use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::mix::{hash_bytes, mix, unit, Tag};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    /// Answered with a 500.
    Fail,
    /// Answered correctly, but only after the configured delay.
    Slow,
}

/// How a record is served broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Malformation {
    /// The `id` field is left out.
    MissingId,
    /// The timestamp field (`transaction_timestamp` of a sale, `hired_on` of an employee) holds
    /// this text instead of a valid time.
    BadTimestamp(&'static str),
}

/// The fault decisions of one configuration.
#[derive(Debug, Clone)]
pub struct Faults {
    seed: u64,
    fail_rate: f64,
    slow_rate: f64,
    malformed_rate: f64,
    fail_branches: Vec<u64>,
}

impl Faults {
    /// The decisions for `config`'s seed and rates.
    pub fn new(config: &Config) -> Self {
        Self {
            seed: config.seed,
            fail_rate: config.fail_rate,
            slow_rate: config.slow_rate,
            malformed_rate: config.malformed_rate,
            fail_branches: config.fail_branches.clone(),
        }
    }

    /// Whether any request can fail or be slow; without, the server keeps no attempt counts.
    pub fn has_request_faults(&self) -> bool {
        self.fail_rate > 0.0 || self.slow_rate > 0.0
    }

    /// The canonical key of a request: its endpoint name and its raw query string.
    pub fn request_key(endpoint: &str, query: &str) -> u64 {
        let mut key = Vec::with_capacity(endpoint.len() + query.len() + 1);
        key.extend_from_slice(endpoint.as_bytes());
        key.push(b'?');
        key.extend_from_slice(query.as_bytes());
        hash_bytes(&key)
    }

    /// The fault of attempt `attempt` (from 0) of the request with key `key`
    /// ([`Faults::request_key`]). One draw decides: below the fail rate fails, the next slow-rate
    /// share is slow, so each kind happens at exactly its own rate.
    pub fn request_fault(&self, key: u64, attempt: u32) -> Option<RequestFault> {
        if !self.has_request_faults() {
            return None;
        }
        let draw = unit(self.seed, Tag::Request, key, u64::from(attempt));
        if draw < self.fail_rate {
            Some(RequestFault::Fail)
        } else if draw < self.fail_rate + self.slow_rate {
            Some(RequestFault::Slow)
        } else {
            None
        }
    }

    /// Whether every request about this branch fails.
    pub fn fails_branch(&self, branch_id: u64) -> bool {
        self.fail_branches.contains(&branch_id)
    }

    /// How the record with this id is broken, if it is. A record without a timestamp field
    /// (`bad_times` empty) can only lose its id; others lose the id or get one of `bad_times`.
    pub(crate) fn malformation(&self, id: u64, bad_times: &[&'static str]) -> Option<Malformation> {
        if self.malformed_rate <= 0.0
            || unit(self.seed, Tag::Malformed, id, 0) >= self.malformed_rate
        {
            return None;
        }
        let pick = mix(self.seed, Tag::MalformedKind, id, 0);
        if bad_times.is_empty() || pick.is_multiple_of(2) {
            Some(Malformation::MissingId)
        } else {
            let bad = bad_times[(pick / 2 % bad_times.len() as u64) as usize];
            Some(Malformation::BadTimestamp(bad))
        }
    }
}

/// A token bucket: up to `rate` requests in a burst, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: f64,
    tokens: f64,
    last: SystemTime,
}

impl RateLimiter {
    /// A full bucket for `rate` requests per second, as of `now`.
    pub fn new(rate: u32, now: SystemTime) -> Self {
        Self {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: now,
        }
    }

    /// Takes a token at `now`, or says how long until one is available.
    pub fn acquire(&mut self, now: SystemTime) -> Result<(), Duration> {
        // A clock that steps back refills nothing rather than draining the bucket.
        let elapsed = now.duration_since(self.last).unwrap_or_default();
        if now > self.last {
            self.last = now;
        }
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_the_rate() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut limiter = RateLimiter::new(4, start);
        let burst: Vec<bool> = (0..6).map(|_| limiter.acquire(start).is_ok()).collect();
        assert_eq!(burst, [true, true, true, true, false, false]);
        assert_eq!(limiter.acquire(start), Err(Duration::from_millis(250)));
        let later = start + Duration::from_millis(500);
        let refilled: Vec<bool> = (0..3).map(|_| limiter.acquire(later).is_ok()).collect();
        assert_eq!(refilled, [true, true, false]);
    }

    #[test]
    fn malformations_follow_the_rate_and_the_record_kind() {
        let faults = Faults::new(&Config {
            malformed_rate: 0.1,
            ..Config::default()
        });
        let broken: Vec<Malformation> = (0..10_000)
            .filter_map(|id| faults.malformation(id, &["bad"]))
            .collect();
        assert!((850..=1_150).contains(&broken.len()), "{}", broken.len());
        assert!(broken.contains(&Malformation::MissingId));
        assert!(broken.contains(&Malformation::BadTimestamp("bad")));
        let untimed = (0..1_000).filter_map(|id| faults.malformation(id, &[]));
        assert!(untimed.into_iter().all(|m| m == Malformation::MissingId));
    }
}
