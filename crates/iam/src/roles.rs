//! [`Roles`]: the policy sets of the deployed roles, by role name, and the authorization answer.
//!
//! Cheap to clone; clones share the table, which `cascade up` replaces whenever it deploys.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::policy::{Outcome, PolicyError, PolicySet, Request};

/// The answer to one authorization question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied by a statement with `Effect: Deny`; the text names it.
    ExplicitDeny(String),
    /// No statement allows it (or the role is unknown).
    ImplicitDeny,
}

/// The roles the engine knows, by name (what `Ref` of an `AWS::IAM::Role` gives).
#[derive(Debug, Clone, Default)]
pub struct Roles {
    /// A `std::sync::RwLock`: held only to look up or replace a set, never across a call out.
    roles: Arc<RwLock<HashMap<String, Arc<PolicySet>>>>,
    account_id: Arc<str>,
}

impl Roles {
    pub fn new(account_id: &str) -> Roles {
        Roles {
            roles: Arc::default(),
            account_id: account_id.into(),
        }
    }

    /// Sets the policies of role `name`.
    pub fn insert(&self, name: &str, policies: PolicySet) {
        self.roles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), Arc::new(policies));
    }

    /// Replaces every role with `roles`.
    pub fn replace_all(&self, roles: Vec<(String, PolicySet)>) {
        let map = roles
            .into_iter()
            .map(|(name, set)| (name, Arc::new(set)))
            .collect();
        *self.roles.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// Builds the policy sets of deployed roles: `(role name, role properties)` and the
    /// `AWS::IAM::Policy` / `ManagedPolicy` resources `(logical id, properties)`, each attached to
    /// the roles its `Roles` property names. Errors name the role or policy and the property.
    pub fn from_cfn(
        &self,
        roles: &[(String, Value)],
        policies: &[(String, Value)],
    ) -> Result<Vec<(String, PolicySet)>, PolicyError> {
        let mut sets = Vec::new();
        for (name, properties) in roles {
            let set = PolicySet::from_role_cfn(properties).map_err(|e| prefix(name, e))?;
            sets.push((name.clone(), set));
        }
        for (logical_id, properties) in policies {
            let attached: Vec<&str> = properties
                .get("Roles")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for role in attached {
                // `Roles` holds names; an ARN is accepted too.
                let role = role.rsplit('/').next().unwrap_or(role);
                if let Some((_, set)) = sets.iter_mut().find(|(n, _)| n == role) {
                    set.add_policy_resource(logical_id, properties)?;
                }
            }
        }
        Ok(sets)
    }

    /// The ARN of role `name`.
    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.account_id)
    }

    /// May role `role` perform `request`?
    pub fn decide(&self, role: &str, request: &Request<'_>) -> Decision {
        let set = self
            .roles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(role)
            .cloned();
        let Some(set) = set else {
            return Decision::ImplicitDeny;
        };
        match set.evaluate(request) {
            Outcome::Allowed(_) => Decision::Allow,
            Outcome::ExplicitDeny(s) => Decision::ExplicitDeny(format!(
                "{}{}",
                s.source,
                s.sid
                    .as_deref()
                    .map(|sid| format!(" statement `{sid}`"))
                    .unwrap_or_default()
            )),
            Outcome::ImplicitDeny => Decision::ImplicitDeny,
        }
    }

    /// AWS's denial message for `role`, or `Ok` when allowed:
    /// "User: ARN is not authorized to perform: ACTION on resource: ARN".
    pub fn authorize(&self, role: &str, request: &Request<'_>) -> Result<(), String> {
        let decision = self.decide(role, request);
        if decision == Decision::Allow {
            return Ok(());
        }
        let user = format!(
            "arn:aws:sts::{}:assumed-role/{role}/{role}",
            self.account_id
        );
        let why = match decision {
            Decision::ExplicitDeny(_) => "with an explicit deny in an identity-based policy",
            _ => "because no identity-based policy allows the action",
        };
        Err(format!(
            "User: {user} is not authorized to perform: {} on resource: {} {why}",
            request.action, request.resource
        ))
    }
}

fn prefix(role: &str, e: PolicyError) -> PolicyError {
    match e {
        PolicyError::Invalid { place, message } => PolicyError::Invalid {
            place: format!("role `{role}`: {place}"),
            message,
        },
        PolicyError::UnknownManagedPolicy { place, arn, known } => {
            PolicyError::UnknownManagedPolicy {
                place: format!("role `{role}`: {place}"),
                arn,
                known,
            }
        }
    }
}
