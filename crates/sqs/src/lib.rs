//! SQS standard-queue semantics over the store.
