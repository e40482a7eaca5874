//! A deploy that stops part-way without running its own rollback (a panic stands in for a killed
//! process here; the CLI's tests kill the real binary): the journal it leaves is rolled back by
//! the next deploy, which then completes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{desired, Env, Project};
use stacks::{DeployOptions, Deployer};

#[test]
fn an_interrupted_deploy_is_rolled_back_by_the_next_one() {
    let project = Project::copy("app");
    let env = Env::new();
    let target = desired(project.path(), "dev");
    let stop = |done: usize| {
        if done == 3 {
            panic!("stopped after 3 resources");
        }
    };
    let options = DeployOptions {
        allow_data_loss: false,
        after_step: Some(&stop),
    };
    let stopped = catch_unwind(AssertUnwindSafe(|| {
        env.deployer.deploy(&target, &options, &mut |_| {})
    }));
    assert!(stopped.is_err(), "the hook stops the deploy");
    assert!(
        env.queue_exists("jobs-dlq-dev"),
        "half-applied state is there"
    );
    assert_eq!(
        env.deployer
            .registry()
            .interrupted()
            .expect("read")
            .as_deref(),
        Some("deploy")
    );

    // A new process: a fresh deployer on the same store.
    let next = Deployer::new(env.store.clone(), env.clock.clone()).expect("deployer");
    let mut events = Vec::new();
    next.deploy(&target, &DeployOptions::default(), &mut |e| {
        events.push(e.clone())
    })
    .expect("deploy completes");
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e.logical_id == "cascade")
        .map(|e| e.status.as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "ROLLBACK_IN_PROGRESS",
            "ROLLBACK_COMPLETE",
            "CREATE_IN_PROGRESS",
            "CREATE_COMPLETE"
        ]
    );
    assert!(env.queue_exists("jobs-dev") && env.table_exists("orders-dev"));
    assert!(next.registry().interrupted().expect("read").is_none());
    assert_eq!(next.registry().resources().expect("read").len(), 8);
}

#[test]
fn recovery_alone_undoes_an_interrupted_update() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    project.edit(
        "producer.yml",
        "VisibilityTimeout: 60",
        "VisibilityTimeout: 200",
    );
    project.edit(
        "producer.yml",
        "StreamViewType: NEW_IMAGE",
        "StreamViewType: KEYS_ONLY",
    );
    project.edit(
        "consumer.yml",
        "QueueName: !Sub results-${Environment}",
        "QueueName: !Sub results-${Environment}\n      DelaySeconds: 5",
    );
    let target = desired(project.path(), "dev");
    // After the queue's and the table's updates, before the consumer's.
    let stop = |done: usize| {
        if done == 2 {
            panic!("stopped");
        }
    };
    let view = || {
        env.deployer
            .dynamodb()
            .describe_table("orders-dev")
            .expect("orders-dev")
            .stream_specification
            .and_then(|s| s.stream_view_type)
            .map(|v| v.as_str())
    };
    let options = DeployOptions {
        allow_data_loss: false,
        after_step: Some(&stop),
    };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        env.deployer.deploy(&target, &options, &mut |_| {})
    }));
    assert_eq!(env.queue_attributes("jobs-dev")["VisibilityTimeout"], "200");
    assert_eq!(view(), Some("KEYS_ONLY"));
    assert!(env.deployer.recover(&mut |_| {}).expect("recover"));
    assert_eq!(env.queue_attributes("jobs-dev")["VisibilityTimeout"], "60");
    assert_eq!(view(), Some("NEW_IMAGE"));
    assert_eq!(env.queue_attributes("results-dev")["DelaySeconds"], "0");
    assert!(!env.deployer.recover(&mut |_| {}).expect("nothing left"));
    assert_eq!(
        env.deployer
            .registry()
            .stack("cascade-Producer")
            .expect("read")
            .expect("stack")
            .status,
        "UPDATE_ROLLBACK_COMPLETE"
    );
}
