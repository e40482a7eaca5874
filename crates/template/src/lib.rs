//! The CloudFormation/SAM template engine. It does no IO of its own: callers hand it a loader.
