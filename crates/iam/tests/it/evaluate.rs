//! Evaluation cases as data: each line is `role action resource [key=value...] -> decision`,
//! checked against the roles below, and the whole table is compared with its expected text.

use expect_test::{expect, Expect};
use iam::{PolicySet, Request, Roles};
use serde_json::json;

/// The branch collector's role of `templates/iam.yml`, resolved for the environment `dev`.
fn branch_collector() -> serde_json::Value {
    json!({
        "RoleName": "dev-branch-collector-role",
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        "Policies": [{
            "PolicyName": "branch-collector",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "BranchTable", "Effect": "Allow",
                 "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
                 "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/branch-dev"},
                {"Sid": "EmployeeQueueSend", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                 "Resource": "arn:aws:sqs:us-east-1:000000000000:employee-queue-dev"},
                {"Sid": "RejectedRecordsMetric", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
                 "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": "Cascade/Sales"}}}
            ]}
        }]
    })
}

/// A role exercising NotAction, NotResource, wildcards and an explicit deny.
fn tricky() -> serde_json::Value {
    json!({
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"],
        "Policies": [{
            "PolicyName": "tricky",
            "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-1:000000000000:orders-*"},
                {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"},
                {"Effect": "Allow", "NotAction": ["iam:*", "sqs:*"], "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": "arn:aws:dynamodb:us-east-1:000000000000:table/t?"},
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:audit"}
            ]}
        }]
    })
}

fn roles() -> Roles {
    let roles = Roles::new("000000000000");
    let sets = roles
        .from_cfn(
            &[
                ("dev-branch-collector-role".into(), branch_collector()),
                ("tricky".into(), tricky()),
            ],
            &[(
                "ExtraPolicy".into(),
                json!({"Roles": ["tricky"], "PolicyDocument": {"Statement": {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:000000000000:orders-frozen"}}}),
            )],
        )
        .unwrap();
    roles.replace_all(sets);
    roles
}

fn check(cases: &str, expected: Expect) {
    let roles = roles();
    let mut out = String::new();
    for line in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut words = line.split_whitespace();
        let role = words.next().unwrap();
        let action = words.next().unwrap();
        let resource = words.next().unwrap();
        let context: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
        let decision = roles.decide(
            role,
            &Request {
                action,
                resource,
                context,
            },
        );
        out.push_str(&format!("{line} -> {decision:?}\n"));
    }
    expected.assert_eq(&out);
}

#[test]
fn shipped_role_allows_only_what_it_names() {
    check(
        r"
        dev-branch-collector-role sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev
        dev-branch-collector-role SQS:sendmessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev
        dev-branch-collector-role sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:sale-queue-dev
        dev-branch-collector-role sqs:ReceiveMessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev
        dev-branch-collector-role dynamodb:PutItem arn:aws:dynamodb:us-east-1:000000000000:table/branch-dev
        dev-branch-collector-role dynamodb:DeleteItem arn:aws:dynamodb:us-east-1:000000000000:table/branch-dev
        dev-branch-collector-role cloudwatch:PutMetricData * cloudwatch:namespace=Cascade/Sales
        dev-branch-collector-role cloudwatch:PutMetricData * cloudwatch:namespace=Other
        dev-branch-collector-role cloudwatch:PutMetricData *
        dev-branch-collector-role logs:PutLogEvents arn:aws:logs:us-east-1:000000000000:log-group:x
        unknown-role sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev
        ",
        expect![[r#"
            dev-branch-collector-role sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev -> Allow
            dev-branch-collector-role SQS:sendmessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev -> Allow
            dev-branch-collector-role sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:sale-queue-dev -> ImplicitDeny
            dev-branch-collector-role sqs:ReceiveMessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev -> ImplicitDeny
            dev-branch-collector-role dynamodb:PutItem arn:aws:dynamodb:us-east-1:000000000000:table/branch-dev -> Allow
            dev-branch-collector-role dynamodb:DeleteItem arn:aws:dynamodb:us-east-1:000000000000:table/branch-dev -> ImplicitDeny
            dev-branch-collector-role cloudwatch:PutMetricData * cloudwatch:namespace=Cascade/Sales -> Allow
            dev-branch-collector-role cloudwatch:PutMetricData * cloudwatch:namespace=Other -> ImplicitDeny
            dev-branch-collector-role cloudwatch:PutMetricData * -> ImplicitDeny
            dev-branch-collector-role logs:PutLogEvents arn:aws:logs:us-east-1:000000000000:log-group:x -> Allow
            unknown-role sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:employee-queue-dev -> ImplicitDeny
        "#]],
    );
}

#[test]
fn wildcards_not_lists_and_explicit_deny() {
    check(
        r"
        tricky sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:orders-eu
        tricky sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:orders-frozen
        tricky sqs:DeleteQueue arn:aws:sqs:us-east-1:000000000000:orders-eu
        tricky sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:payments
        tricky sqs:SendMessage arn:aws:sqs:eu-west-1:123456789012:audit
        tricky sqs:ReceiveMessage arn:aws:sqs:us-east-1:000000000000:payments
        tricky sns:Publish arn:aws:sns:us-east-1:000000000000:t
        tricky iam:PassRole arn:aws:iam::000000000000:role/x
        tricky dynamodb:GetItem arn:aws:dynamodb:us-east-1:000000000000:table/t1
        tricky dynamodb:GetItem arn:aws:dynamodb:us-east-1:000000000000:table/t12
        ",
        expect![[r#"
            tricky sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:orders-eu -> Allow
            tricky sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:orders-frozen -> ExplicitDeny("policy `ExtraPolicy`")
            tricky sqs:DeleteQueue arn:aws:sqs:us-east-1:000000000000:orders-eu -> ExplicitDeny("inline policy `tricky`")
            tricky sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:payments -> ImplicitDeny
            tricky sqs:SendMessage arn:aws:sqs:eu-west-1:123456789012:audit -> Allow
            tricky sqs:ReceiveMessage arn:aws:sqs:us-east-1:000000000000:payments -> Allow
            tricky sns:Publish arn:aws:sns:us-east-1:000000000000:t -> Allow
            tricky iam:PassRole arn:aws:iam::000000000000:role/x -> ImplicitDeny
            tricky dynamodb:GetItem arn:aws:dynamodb:us-east-1:000000000000:table/t1 -> Allow
            tricky dynamodb:GetItem arn:aws:dynamodb:us-east-1:000000000000:table/t12 -> ExplicitDeny("inline policy `tricky`")
        "#]],
    );
}

#[test]
fn unknown_managed_policy_and_bad_documents_are_named() {
    let mut out = String::new();
    for props in [
        json!({"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
        json!({"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}}]}),
        json!({"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}]}}]}),
        json!({"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*"}]}}]}),
    ] {
        let e = PolicySet::from_role_cfn(&props).unwrap_err().to_string();
        out.push_str(&e.replace(&iam::MANAGED_POLICY_NAMES.join(", "), "..."));
        out.push('\n');
    }
    expect![[r#"
        ManagedPolicyArns[0]: the managed policy `arn:aws:iam::aws:policy/AdministratorAccess` is not known to cascade; write its statements in an inline policy (known: ...)
        Policies[0].PolicyDocument.Statement[0].Effect: `Maybe` is not Allow or Deny
        Policies[0].PolicyDocument.Statement[0]: Action and NotAction cannot both be given
        Policies[0].PolicyDocument.Statement[0]: Resource or NotResource is required
    "#]]
    .assert_eq(&out);
}

#[test]
fn every_known_managed_policy_reads() {
    for name in iam::MANAGED_POLICY_NAMES {
        for arn in [
            format!("arn:aws:iam::aws:policy/{name}"),
            format!("arn:aws:iam::aws:policy/service-role/{name}"),
        ] {
            let set = PolicySet::from_role_cfn(&json!({ "ManagedPolicyArns": [arn] })).unwrap();
            assert!(!set.statements.is_empty(), "{name}");
        }
    }
}

#[test]
fn denial_message_is_aws_shaped() {
    let roles = roles();
    let request = Request {
        action: "sqs:SendMessage",
        resource: "arn:aws:sqs:us-east-1:000000000000:sale-queue-dev",
        context: Vec::new(),
    };
    expect![[r#"User: arn:aws:sts::000000000000:assumed-role/dev-branch-collector-role/dev-branch-collector-role is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:sale-queue-dev because no identity-based policy allows the action"#]]
        .assert_eq(&roles.authorize("dev-branch-collector-role", &request).unwrap_err());
}

#[test]
fn wildcard_matching() {
    for (pattern, text, ignore_case, expected) in [
        ("*", "", false, true),
        ("a*b?c", "aXXbYc", false, true),
        ("a*b?c", "abc", false, false),
        ("*:table/t?", "arn:x:table/t1", false, true),
        ("SQS:Send*", "sqs:sendmessage", true, true),
        ("SQS:Send*", "sqs:sendmessage", false, false),
        ("a**", "abc", false, true),
        // A `*` in the text is no wildcard: the pattern's `*` still spans it and what follows.
        ("a*", "a*b", false, true),
        ("a?c", "a*c", false, true),
        ("a*", "b*", false, false),
        // Text outside ASCII is compared case-folded by Unicode's rules.
        ("arn:*:table/É*", "arn:x:table/éclair", true, true),
        ("arn:*:table/É*", "arn:x:table/éclair", false, false),
        ("?lan", "élan", false, true),
    ] {
        assert_eq!(
            iam::wildcard_match(pattern, text, ignore_case),
            expected,
            "{pattern} {text}"
        );
    }
}
