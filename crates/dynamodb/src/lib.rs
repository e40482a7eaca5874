//! DynamoDB and DynamoDB Streams semantics over the store.
