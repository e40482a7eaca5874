//! The demo Dunder Mifflin sales API that the sales cascade collects from.
//!
//! The crate has two faces over one generator:
//! - a library that computes the vendor's records from a seed ([`Dataset`]), so that tests of the
//!   collectors can compute exactly what the tables must hold, and
//! - an HTTP server ([`serve`]) that serves those records with the paths and shapes of the design's
//!   `source-api.md`, with pagination and deterministic fault injection.
//!
//! Computing what a collector must end up with:
//!
//! ```
//! use vendor_api::{Config, Dataset};
//!
//! let data = Dataset::new(Config { branches: 2, salespersons: 3, sales: 4, ..Config::default() })?;
//! let sellers: Vec<_> = data.salespersons(1).collect();
//! assert_eq!(sellers.len(), 3);
//! let sales: Vec<_> = data.sales(sellers[0].id).filter(|s| s.malformed.is_none()).collect();
//! assert_eq!(sales.len(), 4);
//! # Ok::<(), vendor_api::ConfigError>(())
//! ```
//!
//! Layout:
//! - `config`: [`Config`], its defaults, limits and validation.
//! - `clock`: the injected wall clock ([`Clock`], [`SystemClock`], [`ManualClock`]).
//! - `mix`: the keyed hash every deterministic choice is drawn from.
//! - `dataset`: branches, employees and sales computed on demand, never stored.
//! - `faults`: which request fails or is slow, which record is malformed, the rate limiter.
//! - `wire`: the JSON bodies, written by hand from the core types.
//! - `server`: routing, query parsing and the connection loop.

mod clock;
mod config;
mod dataset;
mod faults;
mod mix;
mod server;
mod wire;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::{Config, ConfigError, DEFAULT_LIMIT, MAX_LIMIT};
pub use dataset::{
    format_timestamp, revision_class, revision_touches, Branch, Dataset, Employee, Occupation,
    Sale, BRANCH_ORIGINALS, EMPLOYEE_ID_STRIDE, REVISION_MODULUS, SALE_ID_STRIDE,
};
pub use faults::{Faults, Malformation, RateLimiter, RequestFault};
pub use server::{serve, Endpoint, ServeError};
pub use wire::{
    branch_json, branches_page_json, employee_json, employees_page_json, sale_json, sales_page_json,
};
