//! Policy documents, statements and their evaluation.
//!
//! Actions match case-insensitively (`sqs:sendmessage` is `sqs:SendMessage`), resources
//! case-sensitively, both with the wildcards `*` (any run of characters) and `?` (one character).
//! Conditions support the string operators the templates use (`StringEquals`, `StringNotEquals`,
//! `StringLike`, `StringNotLike`, and their `IgnoreCase` forms) against the request's context
//! keys; a condition on a key the request does not carry does not match, as on AWS, and an
//! operator cascade does not know makes the statement not apply, with a warning.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One condition: operator, context key, accepted values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionEntry {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// One statement. `not_action` / `not_resource` say that `actions` / `resources` are the
/// `NotAction` / `NotResource` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Vec<String>,
    pub not_action: bool,
    pub resources: Vec<String>,
    pub not_resource: bool,
    pub conditions: Vec<ConditionEntry>,
    /// Where the statement comes from, for messages: `Policies[0] (branch-collector)`.
    pub source: String,
}

/// A request to authorize: `sqs:SendMessage` on a queue ARN, with context keys
/// (`cloudwatch:namespace`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: Vec<(&'a str, &'a str)>,
}

/// A policy that cannot be read; `place` is its path in the role's properties.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{place}: {message}")]
    Invalid { place: String, message: String },
    #[error("{place}: the managed policy `{arn}` is not known to cascade; write its statements in an inline policy (known: {known})")]
    UnknownManagedPolicy {
        place: String,
        arn: String,
        known: String,
    },
}

fn invalid(place: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        place: place.to_owned(),
        message: message.into(),
    }
}

/// Whether `text` matches `pattern` with `*` and `?` wildcards.
///
/// Every request of a function is checked against its role's statements, so this runs a few times
/// per request: ASCII inputs (every action and ARN in practice) are matched in place, and only
/// other text is case-folded into buffers first. Folding allocated two buffers per call, about 4%
/// of the engine's CPU in W1 (`perf`, `cargo bench -p cascade --bench w1`).
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        let (p, t) = (pattern.as_bytes(), text.as_bytes());
        return if ignore_case {
            glob(p, t, b'*', b'?', |a, b| a.eq_ignore_ascii_case(&b))
        } else {
            glob(p, t, b'*', b'?', |a, b| a == b)
        };
    }
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    glob(&fold(pattern), &fold(text), '*', '?', |a, b| a == b)
}

/// Wildcard matching over symbols, iterative with backtracking to the last `star`: linear in
/// practice, no recursion.
fn glob<T: Copy + PartialEq>(p: &[T], t: &[T], star: T, one: T, eq: impl Fn(T, T) -> bool) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != star && (p[pi] == one || eq(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star {
            last_star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = last_star {
            pi = sp + 1;
            ti = st + 1;
            last_star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == star {
        pi += 1;
    }
    pi == p.len()
}

fn string_or_list(value: &Value, place: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(invalid(&format!("{place}[{i}]"), "must be a string")),
            })
            .collect(),
        Value::Number(n) => Ok(vec![n.to_string()]),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        _ => Err(invalid(place, "must be a string or a list of strings")),
    }
}

impl Statement {
    /// Reads one statement of a policy document.
    pub fn from_json(value: &Value, place: &str, source: &str) -> Result<Statement, PolicyError> {
        let Some(obj) = value.as_object() else {
            return Err(invalid(place, "a statement must be an object"));
        };
        let effect = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            Some(other) => {
                return Err(invalid(
                    &format!("{place}.Effect"),
                    format!("`{other}` is not Allow or Deny"),
                ))
            }
            None => return Err(invalid(&format!("{place}.Effect"), "is required")),
        };
        let pick = |yes: &str, no: &str| -> Result<(Vec<String>, bool), PolicyError> {
            match (obj.get(yes), obj.get(no)) {
                (Some(_), Some(_)) => Err(invalid(
                    place,
                    format!("{yes} and {no} cannot both be given"),
                )),
                (Some(v), None) => Ok((string_or_list(v, &format!("{place}.{yes}"))?, false)),
                (None, Some(v)) => Ok((string_or_list(v, &format!("{place}.{no}"))?, true)),
                (None, None) => Err(invalid(place, format!("{yes} or {no} is required"))),
            }
        };
        let (actions, not_action) = pick("Action", "NotAction")?;
        let (resources, not_resource) = pick("Resource", "NotResource")?;
        let mut conditions = Vec::new();
        if let Some(condition) = obj.get("Condition") {
            let Some(operators) = condition.as_object() else {
                return Err(invalid(&format!("{place}.Condition"), "must be an object"));
            };
            for (operator, keys) in operators {
                let Some(keys) = keys.as_object() else {
                    return Err(invalid(
                        &format!("{place}.Condition.{operator}"),
                        "must be an object",
                    ));
                };
                for (key, values) in keys {
                    conditions.push(ConditionEntry {
                        operator: operator.clone(),
                        key: key.clone(),
                        values: string_or_list(
                            values,
                            &format!("{place}.Condition.{operator}.{key}"),
                        )?,
                    });
                }
            }
        }
        Ok(Statement {
            sid: obj.get("Sid").and_then(Value::as_str).map(str::to_owned),
            effect,
            actions,
            not_action,
            resources,
            not_resource,
            conditions,
            source: source.to_owned(),
        })
    }

    /// Whether this statement applies to `request`.
    pub fn applies(&self, request: &Request<'_>) -> bool {
        let action = self
            .actions
            .iter()
            .any(|a| wildcard_match(a, request.action, true));
        let resource = self
            .resources
            .iter()
            .any(|r| wildcard_match(r, request.resource, false));
        action != self.not_action
            && resource != self.not_resource
            && self.conditions.iter().all(|c| condition_holds(c, request))
    }
}

fn condition_holds(condition: &ConditionEntry, request: &Request<'_>) -> bool {
    let (operator, if_exists) = match condition.operator.strip_suffix("IfExists") {
        Some(op) => (op, true),
        None => (condition.operator.as_str(), false),
    };
    // Condition keys are case-insensitive.
    let value = request
        .context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&condition.key))
        .map(|(_, v)| *v);
    let Some(value) = value else {
        // A missing key fails a positive test and satisfies a negated one, as on AWS.
        return if_exists || operator.contains("Not");
    };
    let any = |ignore_case: bool, like: bool| {
        condition.values.iter().any(|v| {
            if like {
                wildcard_match(v, value, ignore_case)
            } else if ignore_case {
                v.eq_ignore_ascii_case(value)
            } else {
                v == value
            }
        })
    };
    match operator {
        "StringEquals" => any(false, false),
        "StringNotEquals" => !any(false, false),
        "StringEqualsIgnoreCase" => any(true, false),
        "StringNotEqualsIgnoreCase" => !any(true, false),
        "StringLike" => any(false, true),
        "StringNotLike" => !any(false, true),
        "ArnEquals" | "ArnLike" => any(false, true),
        "ArnNotEquals" | "ArnNotLike" => !any(false, true),
        other => {
            tracing::warn!(operator = other, key = %condition.key, "IAM condition operator not supported by cascade; the statement does not apply");
            false
        }
    }
}

/// The statements of one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    pub statements: Vec<Statement>,
}

/// What [`PolicySet::evaluate`] concludes, with the statement that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    Allowed(&'a Statement),
    ExplicitDeny(&'a Statement),
    ImplicitDeny,
}

impl PolicySet {
    /// Adds the statements of a policy document (`{"Version": ..., "Statement": [...]}`).
    pub fn add_document(
        &mut self,
        document: &Value,
        place: &str,
        source: &str,
    ) -> Result<(), PolicyError> {
        let Some(obj) = document.as_object() else {
            return Err(invalid(place, "a policy document must be an object"));
        };
        let statements = match obj.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(single @ Value::Object(_)) => vec![single],
            Some(_) => {
                return Err(invalid(
                    &format!("{place}.Statement"),
                    "must be a list or an object",
                ))
            }
            None => return Err(invalid(&format!("{place}.Statement"), "is required")),
        };
        for (i, s) in statements.into_iter().enumerate() {
            self.statements.push(Statement::from_json(
                s,
                &format!("{place}.Statement[{i}]"),
                source,
            )?);
        }
        Ok(())
    }

    /// Reads an `AWS::IAM::Role`'s properties: `Policies[].PolicyDocument` and
    /// `ManagedPolicyArns` (each must be in the managed-policy table).
    pub fn from_role_cfn(properties: &Value) -> Result<PolicySet, PolicyError> {
        let mut set = PolicySet::default();
        if let Some(policies) = properties.get("Policies") {
            let Some(policies) = policies.as_array() else {
                return Err(invalid("Policies", "must be a list"));
            };
            for (i, policy) in policies.iter().enumerate() {
                let place = format!("Policies[{i}]");
                let name = policy
                    .get("PolicyName")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let document = policy
                    .get("PolicyDocument")
                    .ok_or_else(|| invalid(&place, "PolicyDocument is required"))?;
                set.add_document(
                    document,
                    &format!("{place}.PolicyDocument"),
                    &format!("inline policy `{name}`"),
                )?;
            }
        }
        if let Some(arns) = properties.get("ManagedPolicyArns") {
            let arns = string_or_list(arns, "ManagedPolicyArns")?;
            for (i, arn) in arns.iter().enumerate() {
                set.add_managed(arn, &format!("ManagedPolicyArns[{i}]"))?;
            }
        }
        Ok(set)
    }

    /// Adds the statements of the AWS managed policy `arn`.
    pub fn add_managed(&mut self, arn: &str, place: &str) -> Result<(), PolicyError> {
        let Some(document) = crate::managed::managed_policy(arn) else {
            return Err(PolicyError::UnknownManagedPolicy {
                place: place.to_owned(),
                arn: arn.to_owned(),
                known: crate::managed::MANAGED_POLICY_NAMES.join(", "),
            });
        };
        let name = arn.rsplit('/').next().unwrap_or(arn);
        self.add_document(&document, place, &format!("managed policy `{name}`"))
    }

    /// Adds an `AWS::IAM::Policy` or `AWS::IAM::ManagedPolicy` resource's `PolicyDocument`.
    pub fn add_policy_resource(
        &mut self,
        logical_id: &str,
        properties: &Value,
    ) -> Result<(), PolicyError> {
        let document = properties
            .get("PolicyDocument")
            .ok_or_else(|| invalid(logical_id, "PolicyDocument is required"))?;
        self.add_document(
            document,
            &format!("{logical_id}.PolicyDocument"),
            &format!("policy `{logical_id}`"),
        )
    }

    /// AWS's evaluation: an explicit Deny wins, then an Allow; otherwise an implicit deny.
    pub fn evaluate(&self, request: &Request<'_>) -> Outcome<'_> {
        let mut allowed = None;
        for statement in &self.statements {
            if statement.applies(request) {
                match statement.effect {
                    Effect::Deny => return Outcome::ExplicitDeny(statement),
                    Effect::Allow => {
                        allowed.get_or_insert(statement);
                    }
                }
            }
        }
        match allowed {
            Some(s) => Outcome::Allowed(s),
            None => Outcome::ImplicitDeny,
        }
    }

    /// Whether `request` is allowed.
    pub fn allows(&self, request: &Request<'_>) -> bool {
        matches!(self.evaluate(request), Outcome::Allowed(_))
    }
}
