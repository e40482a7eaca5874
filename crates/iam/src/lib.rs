//! IAM policy evaluation: may a role perform an action on a resource?
//!
//! A [`PolicySet`] holds the statements of one role: its inline `Policies`, the AWS managed
//! policies of `ManagedPolicyArns` (from the table in `managed.rs`), and the
//! `AWS::IAM::Policy` / `AWS::IAM::ManagedPolicy` resources attached to it. [`PolicySet::evaluate`]
//! follows AWS's evaluation logic for identity policies: an explicit Deny wins, then an Allow,
//! otherwise the request is implicitly denied. [`Roles`] maps role names to their policy sets and
//! answers the endpoint's authorization question.
//!
//! Layout:
//! - `policy.rs`: [`Statement`], [`PolicySet`], reading policy documents, matching.
//! - `managed.rs`: the AWS managed policies cascade knows, with their documented statements.
//! - `roles.rs`: [`Roles`], the role registry and [`Decision`].

mod managed;
mod policy;
mod roles;

pub use managed::{managed_policy, MANAGED_POLICY_NAMES};
pub use policy::{
    wildcard_match, ConditionEntry, Effect, Outcome, PolicyError, PolicySet, Request, Statement,
};
pub use roles::{Decision, Roles};
