//! IAM evaluation tests: a table of requests against the shipped roles and hand-written policies.

mod evaluate;
