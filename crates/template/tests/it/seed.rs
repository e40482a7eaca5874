//! The seed stacks as published (copied from the design fixtures) and the shipped stacks at the
//! repository root.

use crate::support::{data, render, DirLoader};
use std::path::Path;
use template::{Options, Severity};

fn seed() -> template::Project {
    let mut options = Options::default();
    options.params.insert("Environment".into(), "dev".into());
    template::load(
        "template.yml",
        &DirLoader {
            root: data("seed-stack"),
        },
        &options,
    )
}

#[test]
fn seed_loads_and_resolves_every_import() {
    let p = seed();
    assert_eq!(p.stacks.len(), 7);
    assert_eq!(p.errors(), 0, "{:#?}", p.diagnostics);
    // Five functions import the role and their queues: 3 roles + 4 queue variables.
    assert_eq!(p.imports.len(), 7);
    for imp in &p.imports {
        assert!(
            p.exports.contains_key(&imp.export),
            "{} unresolved",
            imp.export
        );
    }
    let branch = p
        .stacks
        .iter()
        .find(|s| s.file == "templates/BranchCollector.yml")
        .expect("branch stack");
    let f = &branch.resources["BranchCollector"];
    assert_eq!(f.type_, "AWS::Lambda::Function");
    assert_eq!(
        f.properties["Role"],
        "arn:aws:iam::000000000000:role/dev-lambda-role"
    );
    assert_eq!(
        f.properties["Environment"]["Variables"]["SQS"],
        "https://sqs.us-east-1.amazonaws.com/000000000000/employee-queue-dev"
    );
    assert_eq!(
        f.properties["DeadLetterConfig"]["TargetArn"],
        "arn:aws:sqs:us-east-1:000000000000:branch-function-dead-letter-queue-dev"
    );
    let (_, role) = p
        .resource("IAM/LambdaRole")
        .expect("role by qualified name");
    assert_eq!(
        role.attributes["Arn"],
        "arn:aws:iam::000000000000:role/dev-lambda-role"
    );
    assert_eq!(role.span.to_string(), "templates/iam.yml:7:3");
    assert_eq!(
        f.span_of("Environment.Variables.DB").to_string(),
        "templates/BranchCollector.yml:27:20"
    );
    let rule = &branch.resources["BranchCollectorStartScheduledEvent"];
    assert_eq!(rule.properties["ScheduleExpression"], "rate(1 hour)");
    assert_eq!(
        rule.properties["Targets"][0]["Arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:branch-collector-dev"
    );
}

#[test]
fn seed_warns_exactly_about_the_three_db_variables() {
    let p = seed();
    let db: Vec<String> = p
        .diagnostics
        .iter()
        .filter(|d| d.code == "W5001")
        .map(|d| format!("{d}"))
        .collect();
    expect_test::expect![[r#"
        [
            "templates/BranchCollector.yml:27:20: warning[W5001]: environment variable `DB` names table `branches-dev`, which no stack creates (at Resources.BranchCollector.Properties.Environment.Variables.DB); help: did you mean `branch-dev`? (Tables/BranchDynamoDBTable at templates/tables.yml:7)",
            "templates/SaleCollector.yml:27:20: warning[W5001]: environment variable `DB` names table `sales-dev`, which no stack creates (at Resources.SaleCollector.Properties.Environment.Variables.DB); help: did you mean `sale-dev`? (Tables/SaleDynamoDBTable at templates/tables.yml:47)",
            "templates/SalespersonCollector.yml:30:20: warning[W5001]: environment variable `DB` names table `salespersons-dev`, which no stack creates (at Resources.SalespersonCollector.Properties.Environment.Variables.DB); help: did you mean `salesperson-dev`? (Tables/SalespersonDynamoDBTable at templates/tables.yml:24)",
        ]
    "#]].assert_debug_eq(&db);
    for d in p.diagnostics.iter().filter(|d| d.code == "W5001") {
        assert_eq!(d.severity, Severity::Warning);
        assert!(d.path.ends_with("Environment.Variables.DB"), "{}", d.path);
    }
    // They are the only findings: the fixture keeps the published function folders, so every
    // CodeUri resolves, and nothing else in the published stacks is wrong by our rules.
    assert_eq!(p.diagnostics.len(), 3, "{:#?}", p.diagnostics);
}

#[test]
fn seed_full_rendering() {
    expect_test::expect_file!["../data/seed-stack.expected.txt"].assert_eq(&render(&seed()));
}

#[test]
fn shipped_stacks_validate_without_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = Options::default();
    options.params.insert("Environment".into(), "dev".into());
    let p = template::load("template.yml", &DirLoader { root: root.clone() }, &options);
    let errors: Vec<String> = p
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(p.stacks.len() >= 7, "{} stacks", p.stacks.len());
    // Only the function crates that do not exist yet may be warned about.
    for d in p
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
    {
        assert_eq!(d.code, "W5002", "unexpected warning {d}");
    }
}

#[test]
fn region_and_account_shape_every_value() {
    let mut options = Options {
        region: "eu-west-1".into(),
        account: "123456789012".into(),
        stack_name: "sales".into(),
        ..Options::default()
    };
    options.params.insert("Environment".into(), "prod".into());
    let p = template::load(
        "template.yml",
        &DirLoader {
            root: data("seed-stack"),
        },
        &options,
    );
    assert_eq!(p.errors(), 0);
    assert_eq!(
        p.exports["prod-EmployeeQueue"].value,
        "https://sqs.eu-west-1.amazonaws.com/123456789012/employee-queue-prod"
    );
    assert_eq!(
        p.exports["prod-Role"].value,
        "arn:aws:iam::123456789012:role/prod-lambda-role"
    );
    let (stack, policy) = p.resource("IAM/LambdaPolicy").expect("policy");
    assert_eq!(stack.name, "sales-IAM");
    assert_eq!(
        policy.properties["PolicyName"],
        "sales-IAM-prod-lambda-policy"
    );
}
