//! What the service runs, as plain structs, and their `from_cfn` converters from the resolved
//! CloudFormation properties of `AWS::Lambda::Function`, `AWS::Lambda::EventInvokeConfig`,
//! `AWS::Lambda::EventSourceMapping` and `AWS::Events::Rule` (what the SAM transform in
//! `template::sam` produces). Defaults are AWS's; every range error names the resource and the
//! property.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::SpecError;

/// One function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The function name (`Ref` of the function).
    pub name: String,
    /// The folder holding `bootstrap` (`LAMBDA_TASK_ROOT`).
    pub code_dir: PathBuf,
    pub handler: String,
    pub runtime: String,
    /// MB, 128 to 10,240; default 128.
    pub memory_mb: u32,
    /// Seconds, 1 to 900; default 3.
    pub timeout_s: u32,
    /// The template's `Environment.Variables`, in order.
    pub environment: Vec<(String, String)>,
    /// `ReservedConcurrentExecutions`; `None` shares the account limit.
    pub reserved_concurrency: Option<u32>,
    pub role_arn: Option<String>,
    /// `DeadLetterConfig.TargetArn` (an SQS queue or SNS topic ARN).
    pub dead_letter_target_arn: Option<String>,
    pub async_config: AsyncConfig,
}

/// Asynchronous invocation settings (`AWS::Lambda::EventInvokeConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncConfig {
    /// 0 to 2; default 2.
    pub maximum_retry_attempts: u32,
    /// 60 to 21,600; default 21,600 (6 h).
    pub maximum_event_age_s: u32,
}

impl Default for AsyncConfig {
    fn default() -> AsyncConfig {
        AsyncConfig {
            maximum_retry_attempts: 2,
            maximum_event_age_s: 21_600,
        }
    }
}

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsMappingSpec {
    /// The mapping's logical id (also its identity in the store).
    pub id: String,
    pub queue_arn: String,
    pub function: String,
    /// 1 to 10,000; default 10.
    pub batch_size: u32,
    /// 0 to 300; default 0.
    pub maximum_batching_window_s: u32,
    /// `FunctionResponseTypes` includes `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    pub enabled: bool,
    /// `ScalingConfig.MaximumConcurrency` (2 to 1,000).
    pub maximum_concurrency: Option<u32>,
}

/// Where a stream mapping starts reading when it has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

/// A DynamoDB stream event source mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamMappingSpec {
    pub id: String,
    pub stream_arn: String,
    pub function: String,
    pub starting_position: StartingPosition,
    /// 1 to 10,000; default 100.
    pub batch_size: u32,
    /// -1 (until the records expire) to 10,000; default -1.
    pub maximum_retry_attempts: i64,
    pub enabled: bool,
}

/// An event source mapping of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingSpec {
    Sqs(SqsMappingSpec),
    Stream(StreamMappingSpec),
}

/// One Lambda target of a scheduled `AWS::Events::Rule`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// The rule's name (its physical name).
    pub rule: String,
    pub rule_arn: String,
    /// `rate(...)` or `cron(...)`, checked by `template::schedule::check`.
    pub expression: String,
    pub function: String,
    /// The target's `Input` (a JSON text) replacing the scheduled event.
    pub input: Option<String>,
    pub enabled: bool,
}

impl FunctionSpec {
    /// A function with AWS's defaults: handler `bootstrap`, runtime `provided.al2023`.
    pub fn new(name: impl Into<String>, code_dir: impl Into<PathBuf>) -> FunctionSpec {
        FunctionSpec {
            name: name.into(),
            code_dir: code_dir.into(),
            handler: "bootstrap".into(),
            runtime: "provided.al2023".into(),
            memory_mb: 128,
            timeout_s: 3,
            environment: Vec::new(),
            reserved_concurrency: None,
            role_arn: None,
            dead_letter_target_arn: None,
            async_config: AsyncConfig::default(),
        }
    }

    /// From the resolved properties of `AWS::Lambda::Function` `logical_id`, named `name` (its
    /// physical name), whose built code is in `code_dir`.
    pub fn from_cfn(
        logical_id: &str,
        name: &str,
        properties: &Value,
        code_dir: &Path,
    ) -> Result<FunctionSpec, SpecError> {
        let p = Props::new(logical_id, properties);
        let mut spec = FunctionSpec::new(name, code_dir);
        if let Some(h) = p.string("Handler")? {
            spec.handler = h;
        }
        if let Some(r) = p.string("Runtime")? {
            spec.runtime = r;
        }
        if let Some(m) = p.int("MemorySize", 128, 10_240)? {
            spec.memory_mb = m as u32;
        }
        if let Some(t) = p.int("Timeout", 1, 900)? {
            spec.timeout_s = t as u32;
        }
        spec.reserved_concurrency = p
            .int("ReservedConcurrentExecutions", 0, 1_000_000)?
            .map(|v| v as u32);
        spec.role_arn = p.string("Role")?;
        spec.dead_letter_target_arn = match properties.get("DeadLetterConfig") {
            Some(dlc) => Props::new(logical_id, dlc)
                .under("DeadLetterConfig")
                .string("TargetArn")?,
            None => None,
        };
        if let Some(vars) = properties
            .get("Environment")
            .and_then(|e| e.get("Variables"))
        {
            let Value::Object(vars) = vars else {
                return Err(p.invalid("Environment.Variables", "must be a map"));
            };
            for (k, v) in vars {
                let value = scalar(v).ok_or_else(|| {
                    p.invalid(&format!("Environment.Variables.{k}"), "must be a string")
                })?;
                spec.environment.push((k.clone(), value));
            }
        }
        Ok(spec)
    }

    /// Applies an `AWS::Lambda::EventInvokeConfig`'s properties to this function.
    pub fn apply_event_invoke_config(
        &mut self,
        logical_id: &str,
        properties: &Value,
    ) -> Result<(), SpecError> {
        self.async_config = AsyncConfig::from_cfn(logical_id, properties)?;
        Ok(())
    }
}

impl AsyncConfig {
    /// From `AWS::Lambda::EventInvokeConfig` properties (or a SAM `EventInvokeConfig`).
    pub fn from_cfn(logical_id: &str, properties: &Value) -> Result<AsyncConfig, SpecError> {
        let p = Props::new(logical_id, properties);
        let mut c = AsyncConfig::default();
        if let Some(v) = p.int("MaximumRetryAttempts", 0, 2)? {
            c.maximum_retry_attempts = v as u32;
        }
        if let Some(v) = p.int("MaximumEventAgeInSeconds", 60, 21_600)? {
            c.maximum_event_age_s = v as u32;
        }
        Ok(c)
    }
}

impl MappingSpec {
    /// From `AWS::Lambda::EventSourceMapping` properties: an SQS queue ARN gives an SQS
    /// mapping, a DynamoDB stream ARN a stream mapping.
    pub fn from_cfn(logical_id: &str, properties: &Value) -> Result<MappingSpec, SpecError> {
        let p = Props::new(logical_id, properties);
        let arn = p
            .string("EventSourceArn")?
            .ok_or_else(|| p.invalid("EventSourceArn", "is required"))?;
        let function = function_name(
            &p.string("FunctionName")?
                .ok_or_else(|| p.invalid("FunctionName", "is required"))?,
        );
        let enabled = p.bool("Enabled")?.unwrap_or(true);
        if arn.starts_with("arn:aws:sqs:") {
            let batch_size = p.int("BatchSize", 1, 10_000)?.unwrap_or(10) as u32;
            let window = p
                .int("MaximumBatchingWindowInSeconds", 0, 300)?
                .unwrap_or(0) as u32;
            if batch_size > 10 && window < 1 {
                return Err(p.invalid(
                    "MaximumBatchingWindowInSeconds",
                    "must be at least 1 when BatchSize is more than 10",
                ));
            }
            let types = match properties.get("FunctionResponseTypes") {
                None => Vec::new(),
                Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
                Some(_) => return Err(p.invalid("FunctionResponseTypes", "must be a list")),
            };
            let maximum_concurrency = match properties.get("ScalingConfig") {
                Some(s) => Props::new(logical_id, s)
                    .under("ScalingConfig")
                    .int("MaximumConcurrency", 2, 1_000)?
                    .map(|v| v as u32),
                None => None,
            };
            Ok(MappingSpec::Sqs(SqsMappingSpec {
                id: logical_id.to_owned(),
                queue_arn: arn,
                function,
                batch_size,
                maximum_batching_window_s: window,
                report_batch_item_failures: types.iter().any(|t| t == "ReportBatchItemFailures"),
                enabled,
                maximum_concurrency,
            }))
        } else if arn.starts_with("arn:aws:dynamodb:") && arn.contains("/stream/") {
            let starting_position = match p.string("StartingPosition")?.as_deref() {
                Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
                Some("LATEST") => StartingPosition::Latest,
                Some(other) => {
                    return Err(p.invalid(
                        "StartingPosition",
                        &format!("`{other}` is not TRIM_HORIZON or LATEST"),
                    ))
                }
                None => return Err(p.invalid("StartingPosition", "is required for a stream")),
            };
            Ok(MappingSpec::Stream(StreamMappingSpec {
                id: logical_id.to_owned(),
                stream_arn: arn,
                function,
                starting_position,
                batch_size: p.int("BatchSize", 1, 10_000)?.unwrap_or(100) as u32,
                maximum_retry_attempts: p.int("MaximumRetryAttempts", -1, 10_000)?.unwrap_or(-1),
                enabled,
            }))
        } else {
            Err(p.invalid(
                "EventSourceArn",
                &format!("`{arn}` is neither an SQS queue nor a DynamoDB stream ARN"),
            ))
        }
    }
}

impl ScheduleSpec {
    /// From an `AWS::Events::Rule` named `rule` with ARN `rule_arn`: one spec per Lambda target.
    /// A rule without `ScheduleExpression` (an event pattern rule) gives none.
    pub fn from_cfn(
        logical_id: &str,
        rule: &str,
        rule_arn: &str,
        properties: &Value,
    ) -> Result<Vec<ScheduleSpec>, SpecError> {
        let p = Props::new(logical_id, properties);
        let Some(expression) = p.string("ScheduleExpression")? else {
            return Ok(Vec::new());
        };
        template::schedule::check(&expression).map_err(|e| p.invalid("ScheduleExpression", &e))?;
        let enabled = p.string("State")?.is_none_or(|s| s == "ENABLED");
        let targets = match properties.get("Targets") {
            None => return Ok(Vec::new()),
            Some(Value::Array(t)) => t,
            Some(_) => return Err(p.invalid("Targets", "must be a list")),
        };
        let mut out = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let tp = Props::new(logical_id, t).under(&format!("Targets[{i}]"));
            let Some(arn) = tp.string("Arn")? else {
                return Err(tp.invalid("Arn", "is required"));
            };
            if !arn.starts_with("arn:aws:lambda:") {
                continue;
            }
            let input = match t.get("Input") {
                None => None,
                Some(Value::String(s)) => {
                    serde_json::from_str::<Value>(s)
                        .map_err(|e| tp.invalid("Input", &format!("is not JSON: {e}")))?;
                    Some(s.clone())
                }
                Some(other) => Some(other.to_string()),
            };
            out.push(ScheduleSpec {
                rule: rule.to_owned(),
                rule_arn: rule_arn.to_owned(),
                expression: expression.clone(),
                function: function_name(&arn),
                input,
                enabled,
            });
        }
        Ok(out)
    }
}

/// One deployed resource, as the host's registry of deployed stacks describes it.
#[derive(Debug, Clone, Copy)]
pub struct CfnResource<'a> {
    /// The plain CloudFormation type (after the SAM transform).
    pub type_: &'a str,
    pub logical_id: &'a str,
    /// What `Ref` gives: the function name, the rule name, the mapping id.
    pub physical_id: &'a str,
    pub arn: Option<&'a str>,
    /// The resolved properties.
    pub properties: &'a Value,
    /// For functions: the folder holding `bootstrap`.
    pub code_dir: Option<&'a Path>,
}

/// Everything the service runs, read from deployed resources.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    pub functions: Vec<FunctionSpec>,
    pub triggers: crate::Triggers,
}

/// Reads functions (`AWS::Lambda::Function` with their `AWS::Lambda::EventInvokeConfig`),
/// mappings (`AWS::Lambda::EventSourceMapping`) and schedules (`AWS::Events::Rule`) from
/// deployed resources; other types are ignored. `region` and `account` make rule ARNs when the
/// registry has none. Every problem is collected, not only the first.
pub fn definitions<'a>(
    resources: impl IntoIterator<Item = CfnResource<'a>>,
    region: &str,
    account: &str,
) -> Result<Definitions, Vec<SpecError>> {
    let resources: Vec<CfnResource<'a>> = resources.into_iter().collect();
    let mut out = Definitions::default();
    let mut errors = Vec::new();
    for r in resources
        .iter()
        .filter(|r| r.type_ == "AWS::Lambda::Function")
    {
        let Some(code_dir) = r.code_dir else {
            errors.push(SpecError {
                logical_id: r.logical_id.to_owned(),
                property: "CodeUri".into(),
                message: "the function has no local code folder".into(),
            });
            continue;
        };
        match FunctionSpec::from_cfn(r.logical_id, r.physical_id, r.properties, code_dir) {
            Ok(f) => out.functions.push(f),
            Err(e) => errors.push(e),
        }
    }
    for r in &resources {
        match r.type_ {
            "AWS::Lambda::EventInvokeConfig" => {
                let name = r
                    .properties
                    .get("FunctionName")
                    .and_then(scalar)
                    .map(|n| function_name(&n))
                    .unwrap_or_default();
                match out.functions.iter_mut().find(|f| f.name == name) {
                    Some(f) => {
                        if let Err(e) = f.apply_event_invoke_config(r.logical_id, r.properties) {
                            errors.push(e);
                        }
                    }
                    None => errors.push(SpecError {
                        logical_id: r.logical_id.to_owned(),
                        property: "FunctionName".into(),
                        message: format!("`{name}` is not a deployed function"),
                    }),
                }
            }
            "AWS::Lambda::EventSourceMapping" => {
                match MappingSpec::from_cfn(r.logical_id, r.properties) {
                    Ok(MappingSpec::Sqs(m)) => out.triggers.sqs.push(m),
                    Ok(MappingSpec::Stream(m)) => out.triggers.streams.push(m),
                    Err(e) => errors.push(e),
                }
            }
            "AWS::Events::Rule" => {
                let arn = r.arn.map(str::to_owned).unwrap_or_else(|| {
                    format!("arn:aws:events:{region}:{account}:rule/{}", r.physical_id)
                });
                match ScheduleSpec::from_cfn(r.logical_id, r.physical_id, &arn, r.properties) {
                    Ok(s) => out.triggers.schedules.extend(s),
                    Err(e) => errors.push(e),
                }
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The function name in a name, a function ARN or a partial ARN (`...:function:NAME[:qualifier]`).
pub fn function_name(name_or_arn: &str) -> String {
    match name_or_arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_owned(),
        None => name_or_arn.to_owned(),
    }
}

/// A string, number or boolean as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Typed reading of one resource's properties with errors naming the place.
struct Props<'a> {
    logical_id: &'a str,
    prefix: String,
    value: &'a Value,
}

impl<'a> Props<'a> {
    fn new(logical_id: &'a str, value: &'a Value) -> Props<'a> {
        Props {
            logical_id,
            prefix: String::new(),
            value,
        }
    }

    fn under(mut self, path: &str) -> Props<'a> {
        self.prefix = format!("{path}.");
        self
    }

    fn invalid(&self, property: &str, message: &str) -> SpecError {
        SpecError {
            logical_id: self.logical_id.to_owned(),
            property: format!("{}{property}", self.prefix),
            message: message.to_owned(),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, SpecError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar(v)
                .map(Some)
                .ok_or_else(|| self.invalid(key, "must be a string")),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, SpecError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(self.invalid(key, "must be true or false")),
        }
    }

    /// An integer in `[min, max]`, given as a number or a numeric string.
    fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, SpecError> {
        let v = match self.value.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        match v {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            Some(v) => Err(self.invalid(key, &format!("`{v}` is not between {min} and {max}"))),
            None => Err(self.invalid(key, "must be an integer")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_function_from_resolved_properties() {
        let props = json!({
            "FunctionName": "salesperson-collector-dev",
            "Handler": "bootstrap",
            "Runtime": "provided.al2023",
            "MemorySize": 256,
            "Timeout": "900",
            "ReservedConcurrentExecutions": 5,
            "Role": "arn:aws:iam::000000000000:role/collector",
            "Environment": {"Variables": {"DB": "sales", "RETRIES": 3, "DEBUG": false}},
            "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
        });
        let spec = FunctionSpec::from_cfn(
            "SalespersonCollector",
            "salesperson-collector-dev",
            &props,
            Path::new("/code"),
        )
        .unwrap();
        assert_eq!(spec.memory_mb, 256);
        assert_eq!(spec.timeout_s, 900);
        assert_eq!(spec.reserved_concurrency, Some(5));
        assert_eq!(
            spec.role_arn.as_deref(),
            Some("arn:aws:iam::000000000000:role/collector")
        );
        assert_eq!(
            spec.dead_letter_target_arn.as_deref(),
            Some("arn:aws:sqs:us-east-1:000000000000:dlq")
        );
        assert_eq!(
            spec.environment,
            [
                ("DB".to_string(), "sales".to_string()),
                ("RETRIES".to_string(), "3".to_string()),
                ("DEBUG".to_string(), "false".to_string())
            ]
        );
        assert_eq!(spec.async_config, AsyncConfig::default());
        let defaults = FunctionSpec::from_cfn("F", "f", &json!({}), Path::new("/c")).unwrap();
        assert_eq!((defaults.memory_mb, defaults.timeout_s), (128, 3));
    }

    #[test]
    fn errors_name_the_resource_and_property() {
        let err = FunctionSpec::from_cfn("F", "f", &json!({"Timeout": 901}), Path::new("/c"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Resources.F.Properties.Timeout: `901` is not between 1 and 900"
        );
        let err = MappingSpec::from_cfn(
            "M",
            &json!({"EventSourceArn": "arn:aws:sqs:us-east-1:0:q", "FunctionName": "f",
                    "ScalingConfig": {"MaximumConcurrency": 1}}),
        )
        .unwrap_err();
        assert_eq!(err.property, "ScalingConfig.MaximumConcurrency");
        let err = AsyncConfig::from_cfn("C", &json!({"MaximumRetryAttempts": 3})).unwrap_err();
        assert_eq!(err.property, "MaximumRetryAttempts");
    }

    #[test]
    fn mappings_of_both_kinds() {
        let sqs = MappingSpec::from_cfn(
            "FnQueueEvent",
            &json!({
                "EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:employee-queue-dev",
                "FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:collector",
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": 4}
            }),
        )
        .unwrap();
        assert_eq!(
            sqs,
            MappingSpec::Sqs(SqsMappingSpec {
                id: "FnQueueEvent".into(),
                queue_arn: "arn:aws:sqs:us-east-1:000000000000:employee-queue-dev".into(),
                function: "collector".into(),
                batch_size: 10,
                maximum_batching_window_s: 0,
                report_batch_item_failures: true,
                enabled: true,
                maximum_concurrency: Some(4),
            })
        );
        let big = json!({"EventSourceArn": "arn:aws:sqs:us-east-1:0:q", "FunctionName": "f", "BatchSize": 100});
        assert_eq!(
            MappingSpec::from_cfn("M", &big).unwrap_err().property,
            "MaximumBatchingWindowInSeconds"
        );
        let stream = MappingSpec::from_cfn(
            "FnStream",
            &json!({
                "EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/sales/stream/2026-01-01T00:00:00.000",
                "FunctionName": "projector",
                "StartingPosition": "LATEST",
                "MaximumRetryAttempts": 3,
                "Enabled": "false"
            }),
        )
        .unwrap();
        let MappingSpec::Stream(s) = stream else {
            panic!("a stream mapping")
        };
        assert_eq!(
            (
                s.starting_position,
                s.batch_size,
                s.maximum_retry_attempts,
                s.enabled
            ),
            (StartingPosition::Latest, 100, 3, false)
        );
    }

    #[test]
    fn schedules_from_rules() {
        let rule = json!({
            "ScheduleExpression": "rate(1 hour)",
            "State": "ENABLED",
            "Targets": [
                {"Arn": "arn:aws:lambda:us-east-1:000000000000:function:branch-collector", "Id": "T",
                 "Input": "{\"full\": true}"},
                {"Arn": "arn:aws:sns:us-east-1:000000000000:topic", "Id": "N"}
            ]
        });
        let specs = ScheduleSpec::from_cfn("Nightly", "nightly", "arn:rule", &rule).unwrap();
        assert_eq!(
            specs,
            [ScheduleSpec {
                rule: "nightly".into(),
                rule_arn: "arn:rule".into(),
                expression: "rate(1 hour)".into(),
                function: "branch-collector".into(),
                input: Some("{\"full\": true}".into()),
                enabled: true,
            }]
        );
        let bad = json!({"ScheduleExpression": "rate(1 hours)", "Targets": []});
        let err = ScheduleSpec::from_cfn("R", "r", "arn", &bad).unwrap_err();
        assert_eq!(err.property, "ScheduleExpression");
    }

    #[test]
    fn definitions_from_deployed_resources() {
        let function = json!({"FunctionName": "collector", "Timeout": 60});
        let config =
            json!({"FunctionName": "collector", "Qualifier": "$LATEST", "MaximumRetryAttempts": 1});
        let mapping = json!({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q", "FunctionName": "collector"});
        let rule = json!({"ScheduleExpression": "cron(0 5 * * ? *)",
            "Targets": [{"Arn": "arn:aws:lambda:us-east-1:000000000000:function:collector", "Id": "T"}]});
        let role = json!({});
        let code = Path::new("/build/Collector");
        let r = |type_, logical_id, physical_id, properties, code_dir| CfnResource {
            type_,
            logical_id,
            physical_id,
            arn: None,
            properties,
            code_dir,
        };
        let defs = definitions(
            [
                r(
                    "AWS::Lambda::EventInvokeConfig",
                    "Config",
                    "c",
                    &config,
                    None,
                ),
                r(
                    "AWS::Lambda::Function",
                    "Collector",
                    "collector",
                    &function,
                    Some(code),
                ),
                r(
                    "AWS::Lambda::EventSourceMapping",
                    "CollectorQueue",
                    "m-1",
                    &mapping,
                    None,
                ),
                r(
                    "AWS::Events::Rule",
                    "CollectorNightly",
                    "nightly",
                    &rule,
                    None,
                ),
                r("AWS::IAM::Role", "Role", "role", &role, None),
            ],
            "us-east-1",
            "000000000000",
        )
        .unwrap();
        assert_eq!(defs.functions.len(), 1);
        assert_eq!(defs.functions[0].async_config.maximum_retry_attempts, 1);
        assert_eq!(defs.functions[0].code_dir, code);
        assert_eq!(defs.triggers.sqs[0].id, "CollectorQueue");
        assert_eq!(
            defs.triggers.schedules[0].rule_arn,
            "arn:aws:events:us-east-1:000000000000:rule/nightly"
        );
        let bad = json!({"Timeout": 0});
        let errors = definitions(
            [
                r("AWS::Lambda::Function", "A", "a", &bad, Some(code)),
                r("AWS::Lambda::Function", "B", "b", &function, None),
            ],
            "us-east-1",
            "000000000000",
        )
        .unwrap_err();
        let places: Vec<String> = errors
            .iter()
            .map(|e| format!("{}.{}", e.logical_id, e.property))
            .collect();
        assert_eq!(places, ["A.Timeout", "B.CodeUri"]);
    }
}
