//! The durable state of one environment on embedded SQLite.
