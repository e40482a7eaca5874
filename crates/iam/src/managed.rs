//! The AWS managed policies cascade knows, with the statements AWS documents for them (the AWS
//! Managed Policy Reference Guide). A role naming any other managed policy is refused by
//! [`crate::PolicySet::from_role_cfn`] rather than silently allowed or denied everything.

use serde_json::{json, Value};

/// The names (the last part of the ARN) of the known managed policies.
pub const MANAGED_POLICY_NAMES: &[&str] = &[
    "AWSLambdaBasicExecutionRole",
    "AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaDynamoDBExecutionRole",
    "AWSLambdaExecute",
    "CloudWatchLambdaInsightsExecutionRolePolicy",
    "AWSXRayDaemonWriteAccess",
    "AmazonSQSFullAccess",
    "AmazonSNSFullAccess",
    "AmazonDynamoDBFullAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "CloudWatchFullAccess",
];

const LOGS: [&str; 3] = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

fn allow(actions: &[&str], resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The policy document of the managed policy `arn`
/// (`arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`), if it is known.
pub fn managed_policy(arn: &str) -> Option<Value> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let path = rest.strip_prefix("iam::aws:policy/")?;
    let name = path.rsplit('/').next()?;
    let with_logs = |extra: &[&str]| {
        let mut actions: Vec<&str> = extra.to_vec();
        actions.extend(LOGS);
        document(vec![allow(&actions, "*")])
    };
    Some(match name {
        "AWSLambdaBasicExecutionRole" => document(vec![allow(&LOGS, "*")]),
        "AWSLambdaSQSQueueExecutionRole" => with_logs(&[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ]),
        "AWSLambdaDynamoDBExecutionRole" => with_logs(&[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ]),
        "AWSLambdaExecute" => document(vec![
            allow(&["logs:*"], "arn:aws:logs:*:*:*"),
            allow(&["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::*"),
        ]),
        "CloudWatchLambdaInsightsExecutionRolePolicy" => document(vec![
            allow(&["logs:CreateLogGroup"], "*"),
            allow(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                "arn:aws:logs:*:*:log-group:/aws/lambda-insights:*",
            ),
        ]),
        "AWSXRayDaemonWriteAccess" => document(vec![allow(
            &[
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "*",
        )]),
        "AmazonSQSFullAccess" => document(vec![allow(&["sqs:*"], "*")]),
        "AmazonSNSFullAccess" => document(vec![allow(&["sns:*"], "*")]),
        "AmazonDynamoDBFullAccess" => document(vec![allow(
            &[
                "dynamodb:*",
                "dax:*",
                "application-autoscaling:*",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarmHistory",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:DescribeAlarmsForMetric",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:GetMetricData",
                "iam:GetRole",
                "iam:ListRoles",
                "kms:DescribeKey",
                "kms:ListAliases",
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:ListSubscriptions",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTopics",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:SetTopicAttributes",
                "lambda:CreateFunction",
                "lambda:ListFunctions",
                "lambda:ListEventSourceMappings",
                "lambda:CreateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
                "lambda:GetFunctionConfiguration",
                "lambda:DeleteFunction",
                "resource-groups:*",
                "tag:GetResources",
                "kinesis:ListStreams",
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
            ],
            "*",
        )]),
        "AmazonDynamoDBReadOnlyAccess" => document(vec![allow(
            &[
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingActivities",
                "application-autoscaling:DescribeScalingPolicies",
                "cloudwatch:DescribeAlarmHistory",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:DescribeAlarmsForMetric",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData",
                "dynamodb:BatchGetItem",
                "dynamodb:Describe*",
                "dynamodb:List*",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:PartiQLSelect",
                "dax:Describe*",
                "dax:List*",
                "dax:GetItem",
                "dax:BatchGetItem",
                "dax:Query",
                "dax:Scan",
                "iam:GetRole",
                "iam:ListRoles",
                "kms:DescribeKey",
                "kms:ListAliases",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTopics",
                "lambda:ListFunctions",
                "lambda:ListEventSourceMappings",
                "lambda:GetFunctionConfiguration",
                "resource-groups:ListGroups",
                "resource-groups:ListGroupResources",
                "resource-groups:GetGroup",
                "resource-groups:GetGroupQuery",
                "tag:GetResources",
                "kinesis:ListStreams",
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
            ],
            "*",
        )]),
        "CloudWatchFullAccess" => document(vec![
            allow(
                &[
                    "autoscaling:Describe*",
                    "cloudwatch:*",
                    "logs:*",
                    "sns:*",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetRole",
                    "oam:ListSinks",
                ],
                "*",
            ),
            json!({
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "arn:aws:iam::*:role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents*",
                "Condition": {"StringLike": {"iam:AWSServiceName": "events.amazonaws.com"}},
            }),
            allow(&["oam:ListAttachedLinks"], "arn:aws:oam:*:*:sink/*"),
        ]),
        _ => return None,
    })
}
